"""Industry packs: dictionary entries, signals, monitors (timers), policies and playbooks installed as one."""

from orderloom.packs.catalog import Pack, get_pack, list_packs
from orderloom.packs.loading import installed_packs, pack_dictionaries, pack_monitor_files, signal_registry

__all__ = [
    "Pack",
    "get_pack",
    "installed_packs",
    "list_packs",
    "pack_dictionaries",
    "pack_monitor_files",
    "signal_registry",
]
