"""Playbooks: versioned policies that act on findings (query, branch, task, notify, command), every step an event."""

from orderloom.playbook.document import COMMANDS, STEP_TYPES, Playbook, document_problems, parse
from orderloom.playbook.install import install_default_playbooks
from orderloom.playbook.runner import PlaybookRunner
from orderloom.playbook.tasks import list_tasks, read_task, update_task

__all__ = [
    "COMMANDS",
    "STEP_TYPES",
    "Playbook",
    "PlaybookRunner",
    "document_problems",
    "install_default_playbooks",
    "list_tasks",
    "parse",
    "read_task",
    "update_task",
]
