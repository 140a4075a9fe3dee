"""Operational signals: a registry of types, validation at intake, and a pure fold into a scoring snapshot.

The registry (`data/signals.yaml`) says per signal type what it is about, what its value looks
like, how long it applies and what it does to `scoring.Signals`. Signals are events in the log,
so `snapshot(log_signals, decision_time, registry)` rebuilds exactly what a decision saw.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import fastjsonschema

from orderloom.core.envelope import format_time, parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.yamlfile import read_yaml
from orderloom.routing.network import Network
from orderloom.routing.scoring import IDLE, NodeSignal, Signals

TargetKind = Literal["node", "region", "lane", "carrier"]
Action = Literal["set", "add", "close_city", "close_lane"]
TARGET_KINDS: tuple[TargetKind, ...] = ("node", "region", "lane", "carrier")
NODE_ATTRS: tuple[str, ...] = ("backlog_hours", "sorting_idle_rate", "down")
# The shipped registry (a path only: nothing is read at import).
SIGNALS_YAML = Path(__file__).parent / "data" / "signals.yaml"
# Clocks drift; a signal a few minutes "ahead" is normal, one from the far future is a bug upstream.
FUTURE_TOLERANCE = timedelta(minutes=15)
LANE_SEPARATOR = "->"
_TTL = re.compile(r"^([1-9]\d*)([smhd])$")
_TTL_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SIGNAL_KEYS = ("type", "target", "value", "time")
_TARGET_WORDS = {
    "node": "a node id such as SH-CWH",
    "region": "a city name such as 南京",
    "lane": 'a node and a city written "NODE->City", such as "SH-CWH->南京"',
    "carrier": "a carrier id such as SF",
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a value field: below or above a number, or one of a list."""

    field: str
    op: Literal["below", "above", "in"]
    operand: float | tuple[Any, ...]

    def holds(self, value: Mapping[str, Any]) -> bool:
        """Whether the value satisfies the test; a missing field never does."""
        if self.field not in value:
            return False
        got = value[self.field]
        if self.op == "in":
            # `True in (1,)` is true in Python; compare booleans only with booleans.
            return any(
                got == x and isinstance(got, bool) == isinstance(x, bool) for x in cast(tuple[Any], self.operand)
            )
        if isinstance(got, bool) or not isinstance(got, int | float):
            return False
        limit = cast(float, self.operand)
        return got < limit if self.op == "below" else got > limit


@dataclass(frozen=True, slots=True)
class Rule:
    """One declared effect of a signal type on the snapshot."""

    action: Action
    attr: str = ""  # NodeSignal attribute for set/add
    source: str = ""  # value field to read (`from`)
    constant: float | bool | None = None  # `to`
    scale: float = 1.0
    when: tuple[Condition, ...] = ()

    def applies(self, value: Mapping[str, Any]) -> bool:
        """Whether every condition holds and the value has the field the rule reads."""
        return all(c.holds(value) for c in self.when) and (not self.source or self.source in value)


@dataclass(frozen=True, slots=True)
class SignalType:
    """A registered kind of signal: its target, value schema, time-to-live and effect."""

    id: str
    label_zh: str
    label_en: str
    target: TargetKind
    ttl_s: int
    schema: Mapping[str, Any]
    effect: tuple[Rule, ...]
    validate_value: Callable[[Any], Any] = field(compare=False, repr=False)


Registry = Mapping[str, SignalType]


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and check a signal registry YAML (default: the shipped one); errors name the entry and field."""
    p = Path(path) if path is not None else SIGNALS_YAML
    raw = read_yaml(p, "signal registry")
    return parse_registry(raw, source=p.name)


def parse_registry(raw: Any, source: str = "signal registry") -> Registry:
    """Build a registry from parsed YAML, collecting every problem before failing."""
    c = _RegistryChecker(source)
    entries = raw.get("signals") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        c.fail("signals", "", "required", "must be a non-empty list of signal types")
        raise ValidationFailed(c.problems)
    types: dict[str, SignalType] = {}
    for i, entry in enumerate(entries):
        st = c.entry(f"signals[{i}]", entry)
        if st is None:
            continue
        if st.id in types:
            c.fail(f"signals[{i}].id", st.id, "unique", "is registered more than once")
        types[st.id] = st
    if c.problems:
        raise ValidationFailed(c.problems)
    return MappingProxyType(types)


def validate_signal(raw: Any, registry: Registry, now: datetime, *, network: Network | None = None) -> dict[str, Any]:
    """Check one incoming signal and return it normalised: {type, target, value, time, ttl_s}.

    With a network, node and lane targets must name one of its nodes.
    """
    if not isinstance(raw, dict):
        message = "a signal must be an object with type, target, value and time"
        raise ValidationFailed([Problem("(signal)", "type", message)])
    problems = [
        Problem(k or '""', "unknown_field", f"{k!r} is not a signal field; send only type, target, value and time")
        for k in sorted(raw)
        if k not in _SIGNAL_KEYS
    ]
    stype: SignalType | None = None
    type_id = raw.get("type")
    if type_id is None or type_id == "":
        problems.append(Problem("type", "required", "type is missing; say which kind of signal this is"))
    elif not isinstance(type_id, str) or type_id not in registry:
        known = ", ".join(sorted(registry))
        problems.append(
            Problem("type", "unknown", f"type {type_id!r} is not a registered signal type; use one of {known}")
        )
    else:
        stype = registry[type_id]

    target = raw.get("target")
    if target is None or target == "":
        problems.append(Problem("target", "required", "target is missing; say which node, city, lane or carrier"))
        target = ""
    elif stype is not None:
        target, problem = _check_target(target, stype, network)
        if problem is not None:
            problems.append(problem)

    value = raw.get("value")
    if value is None:
        problems.append(Problem("value", "required", "value is missing"))
    elif not isinstance(value, dict):
        problems.append(Problem("value", "type", f"value must be an object, got {_shown(value)}"))
    elif stype is not None:
        try:
            stype.validate_value(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            problems.append(_explain(exc, stype.id, stype.schema))

    time_text = ""
    moment = raw.get("time")
    if moment is None or moment == "":
        problems.append(Problem("time", "required", "time is missing; say when the signal was observed"))
    else:
        try:
            at = parse_time(moment)
        except (ValueError, TypeError):
            problems.append(
                Problem(
                    "time",
                    "format",
                    f"time must be an RFC 3339 timestamp like 2026-05-01T08:30:00+08:00, got {_shown(moment)}",
                )
            )
        else:
            if at > now + FUTURE_TOLERANCE:
                problems.append(
                    Problem(
                        "time",
                        "future",
                        f"time {moment} is more than 15 minutes in the future; check the sender's clock",
                    )
                )
            time_text = format_time(at)

    if problems:
        raise ValidationFailed(problems)
    assert stype is not None  # no problems means the type was found
    return {
        "type": stype.id,
        "target": target,
        "value": dict(cast(dict[str, Any], value)),
        "time": time_text,
        "ttl_s": stype.ttl_s,
    }


def snapshot(
    signals: Iterable[Mapping[str, Any]], now: datetime, registry: Registry, *, network: Network | None = None
) -> Signals:
    """Fold the signals in force at `now` into the scoring snapshot (pure; input order does not matter).

    Region signals that change node attributes need `network` to know the city's nodes;
    without it those rules are skipped (and `signals_used` does not list them).
    """
    return _fold(signals, now, registry, network)[0]


def signals_used(
    signals: Iterable[Mapping[str, Any]], now: datetime, registry: Registry, *, network: Network | None = None
) -> list[dict[str, str]]:
    """The signals that changed the snapshot at `now`, as {type, target, time}, oldest first."""
    return _fold(signals, now, registry, network)[1]


def _fold(
    signals: Iterable[Mapping[str, Any]], now: datetime, registry: Registry, network: Network | None
) -> tuple[Signals, list[dict[str, str]]]:
    latest: dict[tuple[str, str], tuple[datetime, str, Mapping[str, Any]]] = {}
    for s in signals:
        stype = registry.get(str(s.get("type")))
        if stype is None:
            continue  # a type the registry no longer knows cannot have an effect
        at = parse_time(s["time"])
        # A signal recorded with its ttl keeps it on replay even if the registry changed since.
        ttl = timedelta(seconds=int(s.get("ttl_s", stype.ttl_s)))
        if at > now or at + ttl <= now:
            continue
        value = s.get("value") or {}
        key = (stype.id, str(s["target"]))
        # Ties on time are broken by the value so the result never depends on input order.
        rank = (at, json.dumps(value, sort_keys=True, ensure_ascii=False), value)
        if key not in latest or rank[:2] > latest[key][:2]:
            latest[key] = rank

    in_force = sorted(((at, tid, tgt, val) for (tid, tgt), (at, _, val) in latest.items()), key=lambda r: r[:3])
    nodes: dict[str, dict[str, float | bool]] = {}
    closed_cities: set[str] = set()
    closed_lanes: set[tuple[str, str]] = set()
    used: set[tuple[datetime, str, str]] = set()

    def targets(kind: TargetKind, target: str) -> list[str]:
        if kind == "node":
            return [target]
        if kind == "region" and network is not None:
            return [n.id for n in network.nodes if n.city == target]
        return []

    # Sets first, in time order (the latest report of an attribute wins), then adds on top.
    for action in ("set", "add"):
        for at, tid, tgt, value in in_force:
            stype = registry[tid]
            for rule in stype.effect:
                if rule.action != action or not rule.applies(value):
                    continue
                for node_id in targets(stype.target, tgt):
                    attrs = nodes.setdefault(node_id, _attrs(IDLE))
                    if action == "set":
                        attrs[rule.attr] = value[rule.source] if rule.source else cast(float | bool, rule.constant)
                    else:
                        attrs[rule.attr] = float(attrs[rule.attr]) + float(value[rule.source]) * rule.scale
                    used.add((at, tid, tgt))
    for at, tid, tgt, value in in_force:
        for rule in registry[tid].effect:
            if rule.action in ("close_city", "close_lane") and rule.applies(value):
                if rule.action == "close_city":
                    closed_cities.add(tgt)
                else:
                    node_id, city = tgt.split(LANE_SEPARATOR, 1)
                    closed_lanes.add((node_id, city))
                used.add((at, tid, tgt))

    snap = Signals(
        nodes={
            n: NodeSignal(float(a["backlog_hours"]), float(a["sorting_idle_rate"]), bool(a["down"]))
            for n, a in sorted(nodes.items())
        },
        closed_cities=frozenset(closed_cities),
        closed_lanes=frozenset(closed_lanes),
    )
    listed = [{"type": tid, "target": tgt, "time": format_time(at)} for at, tid, tgt in sorted(used)]
    return snap, listed


def _attrs(sig: NodeSignal) -> dict[str, float | bool]:
    return {"backlog_hours": sig.backlog_hours, "sorting_idle_rate": sig.sorting_idle_rate, "down": sig.down}


def _check_target(target: Any, stype: SignalType, network: Network | None) -> tuple[str, Problem | None]:
    """The normalised target text, or a problem saying what form this type expects."""
    kind = stype.target
    expect = f"{stype.id} needs a {kind} target: {_TARGET_WORDS[kind]}"
    if not isinstance(target, str) or len(target) > 200:
        return "", Problem("target", "format", f"target must be text; {expect}")
    text = target.strip()
    if kind == "lane":
        parts = [p.strip() for p in text.split(LANE_SEPARATOR)]
        if len(parts) != 2 or not all(parts):
            return "", Problem("target", "format", f"target {target!r} is not a lane; {expect}")
        text = LANE_SEPARATOR.join(parts)
    elif LANE_SEPARATOR in text or not text:
        return "", Problem("target", "format", f"target {target!r} looks like a lane; {expect}")
    node_id = text.split(LANE_SEPARATOR, 1)[0]
    if network is not None and kind in ("node", "lane") and node_id not in {n.id for n in network.nodes}:
        return "", Problem("target", "unknown", f"target {target!r}: {node_id} is not a node of the network")
    return text, None


def _explain(exc: fastjsonschema.JsonSchemaValueException, type_id: str, schema: Mapping[str, Any]) -> Problem:
    """fastjsonschema's complaint in plain words, with the field path rooted at `value`."""
    name = "value" + (exc.name or "data")[4:]
    rule = exc.rule or "schema"
    definition = exc.rule_definition
    got = exc.value
    if rule == "required" and isinstance(definition, list) and isinstance(got, dict):
        missing = next((k for k in definition if k not in got), "?")
        return Problem(f"{name}.{missing}", "required", f"{name}.{missing} is missing; {type_id} needs it")
    if rule == "additionalProperties" and isinstance(got, dict):
        props = _schema_at(schema, name[len("value") :]).get("properties", {})
        extra = next((k for k in sorted(got) if k not in props), "?")
        return Problem(f"{name}.{extra}", "unknown_field", f"{name}.{extra} is not a field {type_id} knows; remove it")
    if rule == "type":
        return Problem(name, rule, f"{name} must be of type {definition}, got {_shown(got)}")
    if rule == "enum" and isinstance(definition, list):
        return Problem(name, rule, f"{name} must be one of: {', '.join(map(str, definition))}; got {_shown(got)}")
    bounds = {"minimum": "at least", "maximum": "at most", "minLength": "at least", "maxLength": "at most"}
    if rule in bounds:
        unit = " characters" if rule.endswith("Length") else ""
        return Problem(name, rule, f"{name} must be {bounds[rule]} {definition}{unit}, got {_shown(got)}")
    return Problem(name, rule, f"{name} does not fit {type_id}: {exc.message}")


def _schema_at(schema: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema
    for part in filter(None, dotted.split(".")):
        node = node.get("properties", {}).get(part, {})
    return node


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _RegistryChecker:
    """Reads signal types out of raw YAML, recording a Problem per bad field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, where: str, type_id: str, rule: str, message: str) -> None:
        who = f"signal type {type_id}" if type_id else where
        self.problems.append(Problem(where, rule, f"in {self.source}, {who}: {where.split('.', 1)[-1]} {message}"))

    def entry(self, where: str, raw: Any) -> SignalType | None:
        if not isinstance(raw, dict):
            self.fail(where, "", "type", "must be a mapping")
            return None
        before = len(self.problems)
        tid = raw.get("id")
        if not isinstance(tid, str) or not _ID.match(tid):
            self.fail(f"{where}.id", "", "format", f"must be a dotted lower-case name like node.backlog, got {tid!r}")
            tid = ""
        label = raw.get("label")
        if not isinstance(label, dict) or not all(isinstance(label.get(k), str) and label[k] for k in ("zh", "en")):
            self.fail(f"{where}.label", tid, "required", "must give both zh and en texts")
            label = {}
        target = raw.get("target")
        if target not in TARGET_KINDS:
            self.fail(f"{where}.target", tid, "enum", f"must be one of {', '.join(TARGET_KINDS)}, got {target!r}")
        ttl_s = self.ttl(f"{where}.ttl", tid, raw.get("ttl"))
        schema, validator = self.schema(f"{where}.value", tid, raw.get("value"))
        if validator is not None and "example" in raw:
            try:
                validator(raw["example"])
            except fastjsonschema.JsonSchemaValueException as exc:
                self.fail(f"{where}.example", tid, "schema", f"does not fit the value schema: {exc.message}")
        props = set(schema.get("properties", {}))
        effect = self.effect(f"{where}.effect", tid, raw.get("effect"), cast(str, target), props)
        if len(self.problems) > before or validator is None:
            return None
        return SignalType(tid, label["zh"], label["en"], cast(TargetKind, target), ttl_s, schema, effect, validator)

    def ttl(self, where: str, tid: str, raw: Any) -> int:
        m = _TTL.match(raw) if isinstance(raw, str) else None
        if m is None:
            self.fail(where, tid, "format", f"must be a duration like 90s, 30m, 6h or 2d, got {raw!r}")
            return 0
        return int(m.group(1)) * _TTL_UNIT_S[m.group(2)]

    def schema(self, where: str, tid: str, raw: Any) -> tuple[Mapping[str, Any], Callable[[Any], Any] | None]:
        if not isinstance(raw, dict) or raw.get("type") != "object":
            self.fail(where, tid, "type", "must be a JSON Schema of an object (type: object)")
            return {}, None
        try:
            return raw, fastjsonschema.compile(dict(raw), use_default=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            self.fail(where, tid, "schema", f"is not a valid JSON Schema: {exc}")
            return raw, None

    def effect(self, where: str, tid: str, raw: Any, target: str, props: set[str]) -> tuple[Rule, ...]:
        if raw == "none":
            return ()
        if not isinstance(raw, list) or not raw:
            self.fail(where, tid, "required", "must be `none` or a non-empty list of rules")
            return ()
        return tuple(r for i, item in enumerate(raw) if (r := self.rule(f"{where}[{i}]", tid, item, target, props)))

    def rule(self, where: str, tid: str, raw: Any, target: str, props: set[str]) -> Rule | None:
        actions = [a for a in ("set", "add", "close_city", "close_lane") if isinstance(raw, dict) and a in raw]
        if not isinstance(raw, dict) or len(actions) != 1:
            self.fail(where, tid, "format", "must have exactly one of set, add, close_city, close_lane")
            return None
        action = cast(Action, actions[0])
        known = {action, "from", "to", "scale", "when"}
        for extra in sorted(set(raw) - known):
            self.fail(f"{where}.{extra}", tid, "unknown_field", "is not part of the effect language")
        before = len(self.problems)
        when = self.conditions(f"{where}.when", tid, raw.get("when", []), props)
        if action in ("close_city", "close_lane"):
            kind = "region" if action == "close_city" else "lane"
            if raw[action] is not True:
                self.fail(f"{where}.{action}", tid, "type", "must be true")
            if target != kind:
                self.fail(f"{where}.{action}", tid, "target", f"only applies to {kind} signals, this one is {target}")
            return Rule(action, when=when) if len(self.problems) == before else None
        attr = raw[action]
        if attr not in NODE_ATTRS or (action == "add" and attr == "down"):
            allowed = NODE_ATTRS if action == "set" else NODE_ATTRS[:2]
            self.fail(f"{where}.{action}", tid, "enum", f"must be one of {', '.join(allowed)}, got {attr!r}")
        if target not in ("node", "region"):
            self.fail(f"{where}.{action}", tid, "target", f"changes a node, but this signal is about a {target}")
        source, constant = raw.get("from"), raw.get("to")
        if action == "add" and "to" in raw:
            self.fail(f"{where}.to", tid, "format", "add takes `from`, not `to`")
        if action == "set" and ("from" in raw) == ("to" in raw):
            self.fail(where, tid, "format", "set needs exactly one of `from` (a value field) or `to` (a constant)")
        if action == "add" and "from" not in raw:
            self.fail(where, tid, "required", "add needs `from` (a value field)")
        if "to" in raw and (isinstance(constant, bool) != (attr == "down") or not isinstance(constant, int | float)):
            self.fail(f"{where}.to", tid, "type", f"must be {'true or false' if attr == 'down' else 'a number'}")
        if source is not None and source not in props:
            self.fail(f"{where}.from", tid, "unknown_field", f"{source!r} is not a field of the value schema")
        scale = raw.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            self.fail(f"{where}.scale", tid, "type", f"must be a number, got {scale!r}")
            scale = 1.0
        if len(self.problems) > before:
            return None
        return Rule(action, cast(str, attr), source or "", constant, float(scale), when)

    def conditions(self, where: str, tid: str, raw: Any, props: set[str]) -> tuple[Condition, ...]:
        items = raw if isinstance(raw, list) else [raw]
        out: list[Condition] = []
        for item in items:
            ops = [o for o in ("below", "above", "in") if isinstance(item, dict) and o in item]
            if not isinstance(item, dict) or len(ops) != 1 or set(item) != {"field", ops[0]}:
                self.fail(where, tid, "format", "must be {field: F, below|above|in: ...} (one test each)")
                continue
            op = cast(Literal["below", "above", "in"], ops[0])
            if item["field"] not in props:
                self.fail(
                    f"{where}.field", tid, "unknown_field", f"{item['field']!r} is not a field of the value schema"
                )
                continue
            operand = item[op]
            if op == "in" and isinstance(operand, list) and operand:
                out.append(Condition(item["field"], op, tuple(operand)))
            elif op != "in" and isinstance(operand, int | float) and not isinstance(operand, bool):
                out.append(Condition(item["field"], op, float(operand)))
            else:
                self.fail(f"{where}.{op}", tid, "type", "must be a number (below/above) or a non-empty list (in)")
        return tuple(out)
