"""Monitors are configuration: the dictionary's timers, the shipped YAML and the user's files, checked as a whole.

Every mistake is reported as `FILE: monitors/ID/FIELD: what is wrong`, and all
of them at once, so a user fixing a file sees every line to change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from orderloom.core.errors import ConfigError
from orderloom.core.yamlfile import read_yaml, yaml_files
from orderloom.dictionary.model import Dictionary
from orderloom.status.monitors.model import (
    KINDS,
    MISSING_STEP,
    SEVERITIES,
    SIGNAL_RULE,
    SLA_RISK,
    STALL,
    Deadline,
    Monitor,
    MonitorSet,
)

ENV = "ORDERLOOM_MONITORS"
SHIPPED = "orderloom/status/monitors/data/monitors.yaml"
_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_COMMON = {"kind", "label", "severity", "description", "enabled"}
_FIELDS = {
    STALL: _COMMON | {"when", "within", "expect", "moved_on"},
    MISSING_STEP: _COMMON | {"when", "expect", "only_if", "grace"},
    SLA_RISK: _COMMON | {"deadline", "done", "threshold", "min_samples"},
    SIGNAL_RULE: _COMMON | {"when", "value", "above", "below", "limit"},
}


class MonitorConfigError(ConfigError):
    """A monitor file is wrong; `problems` lists each mistake with its file, monitor and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the monitor configuration has problems:\n  - " + "\n  - ".join(problems))


def shipped_file() -> Path:
    """The monitors shipped inside the package."""
    return Path(str(resources.files("orderloom.status.monitors").joinpath("data").joinpath("monitors.yaml")))


def paths_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The user's monitor files named by ORDERLOOM_MONITORS (separated like PATH)."""
    raw = (os.environ if env is None else env).get(ENV) or ""
    return tuple(p for p in raw.split(os.pathsep) if p)


def load_monitors(dictionary: Dictionary, extra: Iterable[str | Path] = ()) -> MonitorSet:
    """The dictionary's timers as stall monitors, then the shipped file, then the user's files (later wins)."""
    problems: list[str] = []
    raw: dict[str, tuple[str, dict[str, Any]]] = {}
    _timers(dictionary, raw, problems)
    files = [shipped_file(), *_expand(extra, problems)]
    for path in files:
        _merge_file(path, raw, problems, shown=SHIPPED if path == files[0] else str(path))
    monitors: dict[str, Monitor] = {}
    for mid, (origin, spec) in raw.items():
        if spec.get("enabled", True) is False:
            continue
        monitor = _build(mid, origin, spec, dictionary, problems)
        if monitor is not None:
            monitors[mid] = monitor
    if problems:
        raise MonitorConfigError(problems)
    return MonitorSet(monitors, (SHIPPED, *(str(p) for p in files[1:])))


def check_file(dictionary: Dictionary, path: str | Path) -> MonitorSet:
    """Check one user file on top of the dictionary's timers and the shipped monitors."""
    return load_monitors(dictionary, [path])


def _expand(paths: Iterable[str | Path], problems: list[str]) -> list[Path]:
    found, missing = yaml_files(paths)
    problems.extend(f"{p}: file not found" for p in missing)
    return found


def _timers(dictionary: Dictionary, raw: dict[str, tuple[str, dict[str, Any]]], problems: list[str]) -> None:
    """Each dictionary timer becomes a stall monitor named after it."""
    for t in dictionary.types.values():
        for timer in t.timers:
            where = f"{Path(t.origin).name}: types/{t.id}/timers/{timer.id}"
            fallback = {"zh": f"{t.label['zh']}后超时", "en": f"Stalled after {t.label['en']}"}
            label = dict(timer.label) if timer.label else fallback
            spec = {
                "kind": STALL,
                "when": [t.id],
                "within": timer.after,
                "expect": list(timer.expect),
                "severity": timer.severity,
                "label": label,
            }
            if timer.id in raw:
                # One timer id on several types is one monitor if it waits the same way.
                origin, old = raw[timer.id]
                if old["within"] == timer.after and old["expect"] == spec["expect"]:
                    old["when"] = [*old["when"], t.id]
                    continue
                problems.append(f"{where}: timer id {timer.id!r} is already used by {origin} with another wait")
                continue
            raw[timer.id] = (where, spec)


def _merge_file(path: Path, raw: dict[str, tuple[str, dict[str, Any]]], problems: list[str], *, shown: str) -> None:
    try:
        doc = read_yaml(path, "monitor file")
    except ConfigError as exc:
        problems.append(str(exc))
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("monitors"), dict):
        problems.append(f"{shown}: must be a mapping with `monitors:` (monitor id -> its settings)")
        return
    unknown = sorted(set(doc) - {"monitors", "description"})
    if unknown:
        problems.append(f"{shown}: unknown top-level field(s) {', '.join(unknown)}; only `monitors` and `description`")
    for mid, spec in doc["monitors"].items():
        where = f"{shown}: monitors/{mid}"
        if not isinstance(mid, str) or not _ID.match(mid):
            problems.append(f"{where}: a monitor id is 2-40 lower-case letters, digits or _ starting with a letter")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a mapping of settings (kind, label, ...)")
            continue
        if mid in raw:
            origin, old = raw[mid]
            if "kind" in spec and spec["kind"] != old["kind"]:
                problems.append(
                    f"{where}/kind: {mid} is already a {old['kind']} monitor ({origin}); choose another id"
                    " to define a different kind"
                )
                continue
            over = old.get("_over", origin)
            raw[mid] = (f"{shown}: monitors/{mid}", {**old, **spec, "_over": over})
        else:
            raw[mid] = (f"{shown}: monitors/{mid}", dict(spec))


def _build(mid: str, origin: str, spec: dict[str, Any], dictionary: Dictionary, problems: list[str]) -> Monitor | None:
    check = _Checker(origin, dictionary)
    kind = spec.get("kind")
    if kind not in KINDS:
        problems.append(f"{origin}/kind: {kind!r} is not a monitor kind; use one of {', '.join(KINDS)}")
        return None
    for f in sorted((k for k in spec if k not in _FIELDS[kind] and k != "_over"), key=str):
        if isinstance(f, bool):
            # YAML 1.1 reads a bare `on:` or `yes:` as true: the user meant a word, not a flag.
            check.fail("on", "YAML reads a bare `on:` (or `yes:`) as true; write `when:` for the triggering events")
            continue
        check.fail(f, f"is not a setting of a {kind} monitor; the settings are {', '.join(sorted(_FIELDS[kind]))}")
    label = check.label(spec.get("label"))
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        check.fail("severity", f"{severity!r} must be one of {', '.join(SEVERITIES)}")
    description = spec.get("description", "")
    if not isinstance(description, str):
        check.fail("description", "must be text")
        description = ""
    shown = f"{origin} (over {spec['_over']})" if "_over" in spec else origin
    base = {"id": mid, "kind": kind, "label": label, "severity": severity, "origin": shown, "description": description}
    monitor: Monitor | None = None
    if kind == STALL:
        monitor = Monitor(
            **base,
            when=check.types(spec, "when"),
            expect=check.types(spec, "expect"),
            within=check.duration(spec, "within", positive=True),
            moved_on=check.flag(spec, "moved_on", default=True),
        )
    elif kind == MISSING_STEP:
        monitor = Monitor(
            **base,
            when=check.types(spec, "when"),
            expect=check.types(spec, "expect"),
            only_if=check.types(spec, "only_if", required=False),
            grace=check.duration(spec, "grace", default=timedelta(0)),
        )
    elif kind == SLA_RISK:
        monitor = Monitor(
            **base,
            deadlines=check.deadlines(spec.get("deadline")),
            done=check.types(spec, "done"),
            threshold=check.number(spec, "threshold", 0.5, low=0.0, high=1.0, exclusive=True),
            min_samples=int(check.number(spec, "min_samples", 20, low=1, high=1_000_000, whole=True)),
        )
    else:
        monitor = _signal_rule(base, spec, check)
    problems.extend(check.problems)
    return None if check.problems else monitor


def _signal_rule(base: dict[str, Any], spec: dict[str, Any], check: _Checker) -> Monitor:
    sides = [s for s in ("above", "below") if s in spec]
    if len(sides) != 1:
        check.fail("above", "say exactly one of `above` or `below`: a field of the reading (e.g. limit_c) or a number")
    rule = sides[0] if sides else "above"
    bound = spec.get(rule)
    limit_field: str | None = None
    limit: float | None = None
    if isinstance(bound, str) and _PATH.match(bound):
        limit_field = bound
    elif isinstance(bound, int | float) and not isinstance(bound, bool):
        limit = float(bound)
    elif sides:
        check.fail(rule, "must be a field of the reading (e.g. limit_c) or a number")
    if "limit" in spec:
        limit = check.number(spec, "limit", 0.0, low=-1e9, high=1e9)
    value = spec.get("value")
    if not isinstance(value, str) or not _PATH.match(value):
        check.fail("value", "name the reading's field to test, e.g. temperature_c")
        value = ""
    when = check.types(spec, "when")
    for t in when:
        et = check.dictionary.get(t)
        props = et.data_schema.get("properties", {}) if et else {}
        head = value.split(".")[0]
        if et is not None and value and head not in props:
            check.fail("value", f"{t} has no data field {head!r}")
        if et is not None and limit_field and limit_field.split(".")[0] not in props:
            check.fail(rule, f"{t} has no data field {limit_field.split('.')[0]!r}")
    return Monitor(**base, when=when, value=value, rule=rule, limit_field=limit_field, limit=limit)


class _Checker:
    """Reads one monitor's settings, noting each problem with the file, monitor and field."""

    def __init__(self, origin: str, dictionary: Dictionary) -> None:
        self.origin = origin
        self.dictionary = dictionary
        self.problems: list[str] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{self.origin}/{field}: {message}")

    def label(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k] for k in ("zh", "en")):
            self.fail("label", "needs both languages, e.g. {zh: 干线在途超4小时未更新, en: Line-haul not updated}")
            return {"zh": "", "en": ""}
        return {"zh": value["zh"], "en": value["en"]}

    def types(self, spec: dict[str, Any], field: str, *, required: bool = True) -> tuple[str, ...]:
        value = spec.get(field)
        if value is None:
            if required:
                self.fail(field, "is required: name one event type or a list of them")
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items) or (required and not items):
            self.fail(field, "must be an event type or a list of event types")
            return ()
        for t in items:
            if t not in self.dictionary.types:
                self.fail(field, f"{t!r} is not an event type in the dictionary")
        return tuple(items)

    def duration(
        self, spec: dict[str, Any], field: str, *, default: timedelta | None = None, positive: bool = False
    ) -> timedelta:
        value = spec.get(field)
        if isinstance(value, timedelta):
            return value
        if value is None and default is not None:
            return default
        m = _DURATION.match(value) if isinstance(value, str) else None
        if m is None:
            self.fail(field, f"{value!r} must be a duration like 30m, 4h or 2d")
            return timedelta(0)
        out = timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
        if positive and out <= timedelta(0):
            self.fail(field, "must be longer than zero")
        return out

    def flag(self, spec: dict[str, Any], field: str, *, default: bool) -> bool:
        value = spec.get(field, default)
        if not isinstance(value, bool):
            self.fail(field, "must be true or false")
            return default
        return value

    def number(
        self,
        spec: dict[str, Any],
        field: str,
        default: float,
        *,
        low: float,
        high: float,
        exclusive: bool = False,
        whole: bool = False,
    ) -> float:
        value = spec.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            self.fail(field, f"{value!r} must be {'a whole number' if whole else 'a number'}")
            return default
        inside = low < value < high if exclusive else low <= value <= high
        if not inside:
            span = f"between {low:g} and {high:g}" if exclusive else f"from {low:g} to {high:g}"
            self.fail(field, f"{value} must be {span}")
            return default
        return float(value)

    def deadlines(self, value: Any) -> tuple[Deadline, ...]:
        if not isinstance(value, list) or not value:
            self.fail("deadline", "list where the promise is read, e.g. [{event: order.placed, field: window.end}]")
            return ()
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or set(item) != {"event", "field"}:
                self.fail(f"deadline/{i}", "needs exactly `event` (an event type) and `field` (a data field)")
                continue
            event, path = item["event"], item["field"]
            et = self.dictionary.get(event) if isinstance(event, str) else None
            if et is None:
                self.fail(f"deadline/{i}/event", f"{event!r} is not an event type in the dictionary")
                continue
            if not isinstance(path, str) or not _PATH.match(path) or not _has_path(et.data_schema, path):
                self.fail(f"deadline/{i}/field", f"{event} has no data field {path!r}")
                continue
            out.append(Deadline(event, path))
        return tuple(out)


def _has_path(schema: Mapping[str, Any], dotted: str) -> bool:
    node: Mapping[str, Any] = schema
    for part in dotted.split("."):
        props = node.get("properties", {})
        if part not in props:
            return False
        node = props[part]
    return True
