"""Deterministic ids: the same trigger, playbook version and step always name the same events.

A crashed run that starts again therefore finds (or re-writes, as a harmless
duplicate) the events it already wrote, and never acts twice.
"""

from __future__ import annotations

import hashlib

TASK_STREAM_PREFIX = "sys.task."


def run_id(trigger_id: str, playbook: str) -> str:
    """The run of `playbook` for one trigger event; the version is left out so a re-run keeps its version."""
    return "R" + hashlib.sha256(f"{trigger_id}\x1f{playbook}".encode()).hexdigest()[:20]


def started_id(run: str) -> str:
    """The id of the run's `playbook.run_started` event."""
    return f"pb.{run}:start"


def step_event_id(run: str, version: int, step: str) -> str:
    """The id of a step's `playbook.step_done` event (run = trigger + playbook, then version and step)."""
    return f"pb.{run}.v{version}.{step}"


def effect_id(run: str, version: int, step: str, what: str) -> str:
    """The id of what a step did to the world (a task, a notification, a command)."""
    return f"pb.{run}.v{version}.{step}:{what}"


def finished_id(run: str, version: int) -> str:
    """The id of the run's `playbook.run_finished` event."""
    return f"pb.{run}.v{version}:end"


def task_id(run: str, version: int, step: str) -> str:
    """The task a `create_task` step makes, e.g. T3F9A0C1D2E4B5A6C."""
    return "T" + hashlib.sha256(f"{run}\x1f{version}\x1f{step}".encode()).hexdigest()[:16].upper()


def task_stream(task: str) -> str:
    """The log stream holding one task's history."""
    return f"{TASK_STREAM_PREFIX}{task}"
