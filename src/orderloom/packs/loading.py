"""What installed packs add to a process when it starts: dictionary files, monitors and signal types.

Which packs are installed is read from the log (`sys.packs`), not from a
folder, so every API worker and consumer on any machine loads the same
vocabulary; the files themselves ship inside the package.
"""

from __future__ import annotations

from pathlib import Path

from orderloom.core.errors import ConfigError, NotFound
from orderloom.core.yamlfile import read_yaml
from orderloom.packs.catalog import Pack, get_pack
from orderloom.routing.signals import SIGNALS_YAML, Registry, parse_registry
from orderloom.store.port import EventStore

STREAM = "sys.packs"
INSTALLED = "pack.installed"


def installed_packs(store: EventStore) -> dict[str, dict[str, object]]:
    """Each installed pack's latest `pack.installed` data, by name (read from the log)."""
    out: dict[str, dict[str, object]] = {}
    for e in store.read_stream(STREAM):
        if e.type == INSTALLED:
            out[e.data["pack"]] = {**e.data, "installed_at": e.time, "by": e.actor}
    return out


def _packs(store: EventStore) -> list[Pack]:
    packs = []
    for name in sorted(installed_packs(store)):
        try:
            packs.append(get_pack(name))
        except NotFound:
            # Starting without the pack's types would refuse its events one by one; say it once, plainly.
            raise ConfigError(
                f"the log says the {name} pack is installed, but this Orderloom version does not ship it; "
                "install the version that does, or ask for help migrating its events"
            ) from None
    return packs


def pack_dictionaries(store: EventStore) -> list[Path]:
    """The dictionary files of the installed packs, to load on top of the shipped ones."""
    return [p.file(rel) for p in _packs(store) for rel in p.dictionary]


def pack_monitor_files(store: EventStore) -> list[Path]:
    """The monitor files of the installed packs, applied before the user's (so the user's settings win)."""
    return [p.file(p.monitors) for p in _packs(store) if p.monitors]


def signal_registry(store: EventStore) -> Registry:
    """The shipped signal registry plus the signal types of the installed packs."""
    raw = read_yaml(SIGNALS_YAML, "signal registry")
    entries = list(raw["signals"]) + [e for p in _packs(store) for e in p.signal_entries()]
    return parse_registry({**raw, "signals": entries}, source="signal registry + packs")
