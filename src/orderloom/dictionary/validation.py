"""Checks a raw CloudEvent against the dictionary and turns it into an `Event`.

Each rule broken becomes a `Problem` naming the field and the rule in words an
operations person can act on. Nothing here writes anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import fastjsonschema

from orderloom.core.envelope import Event, format_time, format_utc, parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.ids import is_valid_oid
from orderloom.dictionary.model import Dictionary, EventType

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
# Attributes the store assigns: accepted on input (e.g. re-importing an export) but ignored.
_ASSIGNED = {"seq", "position", "prevhash", "hash", "recorded"}
_KNOWN = {"specversion", "id", "type", "source", "oid", "time", "data", "actor", "deviceid", "proof", "schemaver"}
_OPTIONAL_CE = {"datacontenttype", "subject", "dataschema"}
_ALLOWED = frozenset(_KNOWN | _ASSIGNED | _OPTIONAL_CE)
FUTURE_TOLERANCE = timedelta(minutes=15)
# Orders live in the present; anything outside these years is a typo or a broken clock.
EARLIEST, LATEST = 1970, 9998

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object (a set of named fields)",
    "null": "empty (null)",
}


def validate_event(raw: Any, dictionary: Dictionary, now: datetime, *, allow_internal: bool = False) -> Event:
    """Return the event, or raise ValidationFailed listing every problem found."""
    event = _valid_or_none(raw, dictionary, now, allow_internal)
    return event if event is not None else _check_thoroughly(raw, dictionary, now, allow_internal)


def _valid_or_none(raw: Any, dictionary: Dictionary, now: datetime, allow_internal: bool) -> Event | None:
    """The happy path, a few microseconds: the event if everything holds, else None.

    It checks exactly the rules of `_check_thoroughly`, only without collecting
    problems; any doubt falls through to the thorough path, which explains.
    """
    if type(raw) is not dict or not _ALLOWED.issuperset(raw) or raw.get("specversion", "1.0") != "1.0":
        return None
    tid = raw.get("type")
    etype = dictionary.types.get(tid) if type(tid) is str else None
    if etype is None or (etype.internal and not allow_internal):
        return None
    eid, source, oid, text = raw.get("id"), raw.get("source"), raw.get("oid"), raw.get("time")
    if (
        type(eid) is not str
        or not _ID.match(eid)
        or type(source) is not str
        or not 0 < len(source) <= 256
        or type(oid) is not str
        or not is_valid_oid(oid)
        or type(text) is not str
        or len(text) < 20
        or text[10] not in "Tt "
    ):
        return None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None or moment - now > FUTURE_TOLERANCE:
            return None
        utc = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not EARLIEST <= utc.year <= LATEST:
        return None
    actor, deviceid = raw.get("actor"), raw.get("deviceid")
    for value in (actor, deviceid):
        if value is not None and (type(value) is not str or not 0 < len(value) <= 128):
            return None
    schemaver = raw.get("schemaver", etype.version)
    if (
        (etype.requires and any(not raw.get(a) for a in etype.requires))
        or type(schemaver) is not int
        or (schemaver != etype.version)
    ):
        return None
    data, proof = raw.get("data", {}), raw.get("proof") or {}
    if type(data) is not dict or type(proof) is not dict or (proof and etype.validate_proof is None):
        return None
    try:
        etype.validate_data(data)
        if etype.validate_proof is not None:
            etype.validate_proof(proof)
    except fastjsonschema.JsonSchemaValueException:
        return None
    return Event(eid, etype.id, source, oid, format_utc(utc), data, actor, deviceid, proof, etype.version)


def _check_thoroughly(raw: Any, dictionary: Dictionary, now: datetime, allow_internal: bool) -> Event:
    """Every rule, every problem, in words; raise ValidationFailed or return the event."""
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem("(event)", "type", "each event must be a JSON object")])
    problems: list[Problem] = []
    unknown = sorted(set(raw) - _KNOWN - _ASSIGNED - _OPTIONAL_CE)
    problems.extend(
        Problem(k, "unknown_attribute", f"{k} is not an attribute Orderloom stores; put it inside data")
        for k in unknown
    )
    if raw.get("specversion", "1.0") != "1.0":
        problems.append(Problem("specversion", "enum", "specversion must be 1.0 (CloudEvents 1.0)"))
    eid = _text(raw, "id", problems, pattern=_ID, hint="letters, digits and . _ : - (at most 128)")
    source = _text(raw, "source", problems, max_len=256)
    oid = raw.get("oid")
    if not isinstance(oid, str) or not is_valid_oid(oid):
        problems.append(
            Problem("oid", "required" if oid is None else "format", "oid must be the order id (3-64 letters/digits)")
        )
    time_text = ""
    raw_time = raw.get("time")
    if raw_time is None:
        problems.append(Problem("time", "required", "time is missing: when did this happen? (RFC 3339)"))
    else:
        try:
            moment = parse_time(raw_time)
            if not EARLIEST <= moment.astimezone(UTC).year <= LATEST:
                raise ValueError(f"the year must be between {EARLIEST} and {LATEST}")
            if moment - now > FUTURE_TOLERANCE:
                problems.append(
                    Problem(
                        "time",
                        "not_in_future",
                        f"time {raw_time} is in the future; check the device clock and the time zone",
                    )
                )
            time_text = format_time(moment)
        except (ValueError, TypeError, OverflowError) as exc:
            problems.append(Problem("time", "format", f"time {raw_time!r} is not a valid timestamp: {exc}"))
    etype: EventType | None = None
    tid = raw.get("type")
    if not isinstance(tid, str):
        problems.append(Problem("type", "required", "type is missing: which event is this? see GET /v1/dictionary"))
    else:
        etype = dictionary.get(tid)
        if etype is None or (etype.internal and not allow_internal):
            problems.append(Problem("type", "known_type", f"{tid!r} is not an event type in the dictionary"))
            etype = None
    schemaver = raw.get("schemaver", etype.version if etype else 1)
    if not isinstance(schemaver, int) or isinstance(schemaver, bool) or schemaver < 1:
        problems.append(Problem("schemaver", "type", "schemaver must be a whole number from 1"))
        schemaver = 1
    data = raw.get("data", {})
    proof = raw.get("proof") or {}
    actor, deviceid = raw.get("actor"), raw.get("deviceid")
    for attr, value in (("actor", actor), ("deviceid", deviceid)):
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 128):
            problems.append(Problem(attr, "type", f"{attr} must be text of 1 to 128 characters"))
    if etype is not None:
        if schemaver > etype.version:
            problems.append(
                Problem("schemaver", "maximum", f"{etype.id} is at version {etype.version}; {schemaver} is unknown")
            )
        problems.extend(
            Problem(attr, "required", f"{attr} is required for {etype.id}: who or which device recorded it")
            for attr in sorted(etype.requires)
            if not raw.get(attr)
        )
        if not isinstance(data, dict):
            problems.append(Problem("data", "type", "data must be an object"))
        else:
            # Old-version payloads are lifted and stored in the current shape, so
            # personal-data paths and readers only ever deal with one version.
            if schemaver < etype.version:
                data = etype.upcast(dict(data), schemaver)
                schemaver = etype.version
            problems.extend(_schema_problems(etype.validate_data, data, "data", etype))
        if not isinstance(proof, dict):
            problems.append(Problem("proof", "type", "proof must be an object"))
        elif etype.validate_proof is not None:
            problems.extend(_schema_problems(etype.validate_proof, proof, "proof", etype))
        elif proof:
            problems.append(Problem("proof", "unexpected", f"{etype.id} takes no proof"))
    if problems:
        raise ValidationFailed(problems)
    assert etype is not None and isinstance(oid, str)
    return Event(
        id=eid,
        type=etype.id,
        source=source,
        oid=oid,
        time=time_text,
        data=data,
        actor=actor,
        deviceid=deviceid,
        proof=proof,
        schemaver=schemaver,
    )


def _text(
    raw: dict[str, Any],
    key: str,
    problems: list[Problem],
    *,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
    max_len: int = 128,
) -> str:
    value = raw.get(key)
    if value is None or value == "":
        problems.append(Problem(key, "required", f"{key} is missing"))
        return ""
    if not isinstance(value, str) or len(value) > max_len or (pattern is not None and not pattern.match(value)):
        problems.append(Problem(key, "format", f"{key} must be text{': ' + hint if hint else ''}"))
        return ""
    return value


def _schema_problems(validator: Any, value: Any, root: str, etype: EventType) -> list[Problem]:
    try:
        validator(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        return [_explain(exc, root, etype)]
    return []


def _explain(exc: fastjsonschema.JsonSchemaValueException, root: str, etype: EventType) -> Problem:
    """fastjsonschema's message in plain words, with the field path rooted at data/proof."""
    name = root + (exc.name or "data")[4:]
    rule = exc.rule or "schema"
    definition = exc.rule_definition
    value = exc.value
    if rule == "required" and isinstance(definition, list) and isinstance(value, dict):
        missing = [k for k in definition if k not in value]
        field = f"{name}.{missing[0]}" if missing else name
        return Problem(field, "required", f"{field} is missing; {etype.id} needs it")
    if rule == "additionalProperties" and isinstance(value, dict):
        allowed = set(_props_at(etype, root, name))
        extra = sorted(k for k in value if k not in allowed) or ["?"]
        return Problem(f"{name}.{extra[0]}", "unknown_field", f"{name}.{extra[0]} is not a field {etype.id} knows")
    if rule == "type":
        want = definition if isinstance(definition, str) else " or ".join(definition or [])
        return Problem(name, "type", f"{name} must be {_TYPE_WORDS.get(want, want)}, got {_shown(value)}")
    if rule == "enum":
        return Problem(name, "enum", f"{name} must be one of: {', '.join(map(str, definition))}; got {_shown(value)}")
    words = {
        "minimum": f"{name} must be at least {definition}, got {_shown(value)}",
        "maximum": f"{name} must be at most {definition}, got {_shown(value)}",
        "exclusiveMinimum": f"{name} must be more than {definition}, got {_shown(value)}",
        "exclusiveMaximum": f"{name} must be less than {definition}, got {_shown(value)}",
        "minLength": f"{name} must have at least {definition} characters",
        "maxLength": f"{name} must have at most {definition} characters",
        "minItems": f"{name} must list at least {definition} item(s)",
        "maxItems": f"{name} must list at most {definition} item(s)",
        "pattern": f"{name} does not have the expected format ({definition})",
        "format": f"{name} must be a valid {definition}"
        + (" such as 2026-05-01T08:30:00+08:00" if definition == "date-time" else ""),
        "const": f"{name} must be {definition!r}",
    }
    return Problem(name, rule, words.get(rule, exc.message.replace("data", name, 1)))


def _props_at(etype: EventType, root: str, dotted: str) -> list[str]:
    node: Any = etype.data_schema if root == "data" else (etype.proof_schema or {})
    for part in re.sub(r"\[\d+\]", ".[]", dotted).split(".")[1:]:
        node = node.get("items", {}) if part == "[]" else node.get("properties", {}).get(part, {})
    return list(node.get("properties", {}))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
