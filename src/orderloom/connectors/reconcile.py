"""Reconciliation: compare an external system's order states with the log and list the mismatches.

External ids are Orderloom order ids, or, with `system`, that system's own
order numbers, resolved through the source references claimed in the log.
A state mapping says which log statuses each external state may stand for
(`SHIPPED: [shipped_out, in_transit]`); without one, states must equal the
log's status ids (case aside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderloom.core.envelope import normalise_time
from orderloom.core.errors import ConfigError, Problem, ValidationFailed
from orderloom.core.yamlfile import read_yaml
from orderloom.dictionary.model import Dictionary
from orderloom.status.chain import build_chain
from orderloom.status.directory import PLACED
from orderloom.status.intake import REF_LINKED, ref_key
from orderloom.store import EventStore, iter_log

ID_COLUMNS = ("oid", "order_id", "external_id", "number", "id")
STATE_COLUMNS = ("state", "status", "external_state")
KINDS = ("missing_in_log", "missing_externally", "state_differs", "unknown_state", "duplicate_external")


@dataclass(frozen=True)
class Options:
    """How to read the external side and which orders count."""

    system: str | None = None
    states: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    missing_externally: bool = True
    placed_from: str | None = None
    placed_to: str | None = None


def parse_states(raw: Any, origin: str = "state mapping") -> dict[str, tuple[str, ...]]:
    """{external state: log status ids}; ConfigError naming the bad entry."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{origin} must map each external state to a log status or a list of them")
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise ConfigError(f"{origin}: {key!r} must map to a status id or a list of status ids")
        out[str(key).strip().lower()] = tuple(v.strip().lower() for v in values)
    return out


def load_states(path: Path) -> dict[str, tuple[str, ...]]:
    """A YAML file of external state -> log status ids."""
    return parse_states(read_yaml(path, "state mapping file"), str(path))


def pick_columns(names: list[str], id_column: str | None, state_column: str | None) -> tuple[str, str]:
    """The id and state columns, given or guessed from the usual names."""
    lowered = {n.strip().lower(): n for n in names}

    def choose(given: str | None, usual: tuple[str, ...], what: str) -> str:
        if given is not None:
            if given not in names:
                raise ConfigError(f"the file has no column {given!r} for the {what}; its columns: {', '.join(names)}")
            return given
        for u in usual:
            if u in lowered:
                return lowered[u]
        raise ConfigError(f"no {what} column found (looked for {', '.join(usual)}); name it with an option")

    return choose(id_column, ID_COLUMNS, "order id"), choose(state_column, STATE_COLUMNS, "state")


def reconcile(
    store: EventStore,
    dictionary: Dictionary,
    rows: Iterable[tuple[int, str, str]],
    options: Options,
) -> dict[str, Any]:
    """Compare (row, external id, external state) rows with the log; the report lists every mismatch."""
    known = set(dictionary.statuses)
    for ext, statuses in options.states.items():
        for s in statuses:
            if s not in known:
                raise ValidationFailed(
                    [Problem(f"states.{ext}", "unknown", f"{s!r} is not a status of the log; use {', '.join(known)}")]
                )
    universe = _universe(store, options) if options.missing_externally else {}
    mismatches: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    checked = matched = 0
    for row, raw_id, ext_state in rows:
        checked += 1
        ext_id = raw_id.strip()
        state = ext_state.strip().lower()
        base = {"row": row, "external_id": ext_id, "external_state": ext_state}
        if ext_id in seen:
            mismatches.append({"kind": "duplicate_external", **base, "first_row": seen[ext_id]})
            continue
        seen[ext_id] = row
        oid = store.resolve(ref_key(options.system, ext_id)) if options.system else ext_id
        if oid is None or (options.system is None and not store.read_stream(oid, limit=1)):
            mismatches.append({"kind": "missing_in_log", **base, "oid": None})
            continue
        universe.pop(oid, None)
        expected = options.states.get(state) if options.states else (state,)
        if expected is None:
            status = _status(store, dictionary, oid)
            mismatches.append({"kind": "unknown_state", **base, "oid": oid, "log_status": status, "expected": None})
            continue
        status = _status(store, dictionary, oid)
        if status in expected:
            matched += 1
        else:
            mismatches.append(
                {"kind": "state_differs", **base, "oid": oid, "log_status": status, "expected": list(expected)}
            )
    for oid, number in sorted(universe.items()):
        mismatches.append(
            {
                "kind": "missing_externally",
                "row": None,
                "external_id": number,
                "external_state": None,
                "oid": oid,
                "log_status": _status(store, dictionary, oid),
            }
        )
    counts = dict.fromkeys(KINDS, 0)
    for m in mismatches:
        counts[m["kind"]] += 1
    return {"checked": checked, "matched": matched, "counts": counts, "mismatches": mismatches}


def _status(store: EventStore, dictionary: Dictionary, oid: str) -> str | None:
    # From the order's own events, not the order_status view: a view that lags the log
    # would make a stale status look like a match, and a missed mismatch is the worst answer here.
    status = build_chain(store.read_stream(oid), dictionary)["status"]["id"]
    return str(status).lower() if status else None


def _universe(store: EventStore, options: Options) -> dict[str, str]:
    """Orders the external side should know: oid -> the id it would use for them."""
    low = normalise_time(options.placed_from) if options.placed_from else None
    high = normalise_time(options.placed_to) if options.placed_to else None
    system = options.system.strip().lower() if options.system else None
    out: dict[str, str] = {}
    placed: dict[str, str] = {}
    for e in iter_log(store):
        if e.type == PLACED:
            placed[e.oid] = e.time
            refs = e.data.get("source_refs") or []
        elif e.type == REF_LINKED:
            refs = [e.data]
        else:
            continue
        if system is None:
            out.setdefault(e.oid, e.oid)
            continue
        for r in refs:
            if isinstance(r, dict) and str(r.get("system", "")).strip().lower() == system:
                out.setdefault(e.oid, str(r.get("number", "")).strip())
    return {
        oid: ext
        for oid, ext in out.items()
        if oid in placed and (low is None or placed[oid] >= low) and (high is None or placed[oid] <= high)
    }
