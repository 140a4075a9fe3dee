"""A data contract in memory: what one department owes each order or customer, read from an ODCS v3 document.

The ODCS document stays the source; this model keeps only what Orderloom acts
on. Conventions on top of ODCS (checked here, each problem named by its JSON path):
- every schema object has exactly one `primaryKey: true` property, named `oid`
  (facts about an order) or `customer_id` (facts about a customer);
- the freshness SLA is the `latency` entry of `slaProperties` with a custom
  property `anchorEvent`: the fields are owed `value` `unit` after that event;
- `roles` with `access: read` or `write` name the Orderloom roles (besides ops
  and admin) that may read or deliver the facts;
- property-level quality rules of metric `invalidValues` with `mustBe: 0` are
  checked on every record; other quality rules describe the data set and are kept
  for documentation only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A contract's refused deliveries go on the stream `contract.<id>`, and a stream name holds at most 64 characters.
CONTRACT_ID = re.compile(r"^[a-z][a-z0-9_]{0,54}$")
KEYS = ("oid", "customer_id")
LOGICAL_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp", "array", "object")
ROLES = ("cs", "finance", "ops", "admin")
ALWAYS = frozenset({"ops", "admin"})
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


@dataclass(frozen=True, slots=True)
class RecordRule:
    """A quality rule checked on each record: the value must be one of `valid_values` and/or match `pattern`."""

    name: str
    valid_values: tuple[Any, ...] | None
    pattern: str | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One property of a schema object."""

    name: str
    logical_type: str
    required: bool = False
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    enum: tuple[Any, ...] | None = None
    items: FieldSpec | None = None
    properties: tuple[FieldSpec, ...] = ()
    rules: tuple[RecordRule, ...] = ()


@dataclass(frozen=True, slots=True)
class ContractObject:
    """A schema object: the record a department delivers, keyed by `key` (oid or customer_id)."""

    name: str
    key: str
    fields: tuple[FieldSpec, ...]
    description: str = ""

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        """The owed fields: every required one besides the key."""
        return tuple(f.name for f in self.fields if f.required and f.name != self.key)


@dataclass(frozen=True, slots=True)
class Freshness:
    """The SLA: the fields are owed `latency` after the first `anchor` event of the order."""

    anchor: str
    latency: timedelta
    description: str = ""

    def words(self) -> str:
        seconds = int(self.latency.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds % size == 0:
                return f"within {seconds // size} {unit} of {self.anchor}"
        return f"within {seconds} s of {self.anchor}"


@dataclass(frozen=True, slots=True)
class Contract:
    """One department's data contract."""

    id: str
    version: str
    name: str
    domain: str
    status: str
    team: str
    purpose: str
    objects: tuple[ContractObject, ...]
    freshness: Freshness
    readers: frozenset[str]
    writers: frozenset[str]
    stages: tuple[str, ...]
    origin: str
    document: Mapping[str, Any]

    def object(self, name: str | None = None) -> ContractObject | None:
        """The named schema object, or the first one when no name is given."""
        if name is None:
            return self.objects[0]
        return next((o for o in self.objects if o.name == name), None)

    def may_read(self, role: str) -> bool:
        return role in ALWAYS or role in self.readers or role in self.writers

    def may_write(self, role: str) -> bool:
        return role in ALWAYS or role in self.writers

    def summary(self) -> dict[str, Any]:
        """The contract as `GET /v1/valuestream/contracts` lists it."""
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "domain": self.domain,
            "team": self.team,
            "status": self.status,
            "purpose": self.purpose,
            "freshness": {
                "anchor": self.freshness.anchor,
                "latency_s": self.freshness.latency.total_seconds(),
                "text": self.freshness.words(),
            },
            "objects": [
                {
                    "name": o.name,
                    "key": o.key,
                    "fields": [_field_summary(f) for f in o.fields],
                }
                for o in self.objects
            ],
            "readers": sorted(ALWAYS | self.readers | self.writers),
            "writers": sorted(ALWAYS | self.writers),
            "origin": self.origin,
        }


def _field_summary(f: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.logical_type, "required": f.required}
    if f.description:
        out["description"] = f.description
    if f.enum is not None:
        out["enum"] = list(f.enum)
    if f.items is not None:
        out["items"] = f.items.logical_type
    return out


class _Problems:
    """Collects "at <JSON path>: <message>" lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"at {path}: {message}")


def parse_contract(doc: Mapping[str, Any], origin: str) -> tuple[Contract | None, list[str]]:
    """The contract of an ODCS document that already passed the ODCS schema, or the problems of our conventions."""
    p = _Problems()
    cid = doc.get("id")
    if not isinstance(cid, str) or not CONTRACT_ID.match(cid):
        p.add("$.id", "the contract id must be 1-55 lower-case letters, digits and _ (it names the contract's stream)")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        p.add("$.name", "give the contract a name people recognise")
    domain = doc.get("domain")
    if not isinstance(domain, str) or not IDENT.match(domain):
        p.add("$.domain", "the domain (department) must be lower-case letters, digits and _, e.g. supply_chain")
    objects = _objects(doc.get("schema"), p)
    freshness = _freshness(doc.get("slaProperties"), p)
    readers, writers = _roles(doc.get("roles"), p)
    stages = _stages(doc.get("customProperties"), p)
    if p.lines or freshness is None:
        return None, p.lines
    team = doc.get("team")
    description = doc.get("description")
    return (
        Contract(
            id=str(cid),
            version=str(doc["version"]),
            name=str(name),
            domain=str(domain),
            status=str(doc.get("status") or "active"),
            team=str(team.get("name") or domain) if isinstance(team, dict) else str(domain),
            purpose=str(description.get("purpose") or "") if isinstance(description, dict) else "",
            objects=tuple(objects),
            freshness=freshness,
            readers=readers,
            writers=writers,
            stages=stages,
            origin=origin,
            document=doc,
        ),
        [],
    )


def _objects(schema: Any, p: _Problems) -> list[ContractObject]:
    if not isinstance(schema, list) or not schema:
        p.add("$.schema", "a contract needs at least one schema object listing the fields it owes")
        return []
    out: list[ContractObject] = []
    seen: set[str] = set()
    for i, obj in enumerate(schema):
        path = f"$.schema[{i}]"
        oname = obj.get("name")
        if not isinstance(oname, str) or not IDENT.match(oname):
            p.add(f"{path}.name", "the object name must be lower-case letters, digits and _ (it names a query view)")
            continue
        if oname in seen:
            p.add(f"{path}.name", f"{oname} is used by two schema objects")
        seen.add(oname)
        fields = _fields(obj.get("properties"), f"{path}.properties", p)
        keys = [f for f in fields if f[1]]
        if len(keys) != 1 or keys[0][0].name not in KEYS:
            p.add(
                f"{path}.properties",
                "exactly one property must be the key (primaryKey: true), named oid or customer_id",
            )
            continue
        key = keys[0][0]
        if key.logical_type != "string":
            p.add(f"{path}.properties", f"the key {key.name} must have logicalType string")
            continue
        specs = tuple(replace(f, required=True) if f is key else f for f, _ in fields)
        out.append(ContractObject(oname, key.name, specs, str(obj.get("description") or "")))
    return out


def _fields(props: Any, path: str, p: _Problems) -> list[tuple[FieldSpec, bool]]:
    if not isinstance(props, list) or not props:
        p.add(path, "list the fields (properties) this object owes")
        return []
    out: list[tuple[FieldSpec, bool]] = []
    seen: set[str] = set()
    for i, prop in enumerate(props):
        spec = _field(prop, f"{path}[{i}]", p)
        if spec is None:
            continue
        if spec.name in seen:
            p.add(f"{path}[{i}].name", f"{spec.name} is listed twice")
        seen.add(spec.name)
        out.append((spec, prop.get("primaryKey") is True))
    return out


def _field(prop: Mapping[str, Any], path: str, p: _Problems, *, item: bool = False) -> FieldSpec | None:
    fname = "item" if item else prop.get("name")
    if not isinstance(fname, str) or not IDENT.match(fname):
        p.add(f"{path}.name", "a field name must be lower-case letters, digits and _ (records use it as a key)")
        return None
    ltype = prop.get("logicalType")
    if ltype not in LOGICAL_TYPES:
        p.add(f"{path}.logicalType", f"give {fname} a logicalType, one of {', '.join(LOGICAL_TYPES)}")
        return None
    options = dict(prop.get("logicalTypeOptions") or {})
    if "pattern" in options:
        try:
            re.compile(str(options["pattern"]))
        except re.error as exc:
            p.add(f"{path}.logicalTypeOptions.pattern", f"not a regular expression: {exc}")
    enum = None
    if isinstance(prop.get("enum"), list):
        enum = tuple(e.get("value") for e in prop["enum"])
        if ltype not in ("string", "integer", "number"):
            p.add(f"{path}.enum", "enumerated values need a string, integer or number field")
    items = None
    if ltype == "array":
        raw_items = prop.get("items")
        if not isinstance(raw_items, dict):
            p.add(f"{path}.items", f"say what {fname} holds (items with a logicalType)")
        else:
            items = _field(raw_items, f"{path}.items", p, item=True)
    nested: tuple[FieldSpec, ...] = ()
    if ltype == "object" and isinstance(prop.get("properties"), list):
        nested = tuple(f for f, _ in _fields(prop["properties"], f"{path}.properties", p))
    return FieldSpec(
        name=fname,
        logical_type=ltype,
        required=prop.get("required") is True,
        description=str(prop.get("description") or ""),
        options=options,
        enum=enum,
        items=items,
        properties=nested,
        rules=_rules(prop.get("quality"), f"{path}.quality", p),
    )


def _rules(quality: Any, path: str, p: _Problems) -> tuple[RecordRule, ...]:
    out = []
    for i, q in enumerate(quality or []):
        if q.get("metric") != "invalidValues" or q.get("mustBe") != 0:
            continue  # a rule about the whole data set: documentation, not a per-record check
        args = q.get("arguments") or {}
        valid = args.get("validValues")
        pattern = args.get("pattern")
        if valid is None and pattern is None:
            p.add(f"{path}[{i}].arguments", "an invalidValues rule needs validValues or a pattern")
            continue
        if valid is not None and not isinstance(valid, list):
            p.add(f"{path}[{i}].arguments.validValues", "validValues must be a list")
            continue
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                p.add(f"{path}[{i}].arguments.pattern", f"not a regular expression: {exc}")
                continue
        name = str(q.get("name") or q.get("id") or f"quality_{i}")
        out.append(
            RecordRule(
                name,
                tuple(valid) if valid is not None else None,
                str(pattern) if pattern is not None else None,
                str(q.get("description") or ""),
            )
        )
    return tuple(out)


def _freshness(sla: Any, p: _Problems) -> Freshness | None:
    entries = [(i, s) for i, s in enumerate(sla or []) if s.get("property") == "latency"]
    if len(entries) != 1:
        p.add("$.slaProperties", "state the freshness SLA as exactly one slaProperties entry with property: latency")
        return None
    i, s = entries[0]
    path = f"$.slaProperties[{i}]"
    value = s.get("value")
    unit = str(s.get("unit") or "").lower()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        p.add(f"{path}.value", "the latency must be a number above 0")
        return None
    if unit not in _UNITS:
        p.add(f"{path}.unit", "the unit must be one of s, m (minutes), h or d")
        return None
    anchors = [c for c in s.get("customProperties") or [] if c.get("property") == "anchorEvent"]
    if len(anchors) != 1 or not isinstance(anchors[0].get("value"), str):
        p.add(
            f"{path}.customProperties",
            "name the event the latency counts from: a custom property anchorEvent, e.g. payment.captured",
        )
        return None
    return Freshness(anchors[0]["value"], timedelta(seconds=float(value) * _UNITS[unit]), str(s.get("description", "")))


def _roles(roles: Any, p: _Problems) -> tuple[frozenset[str], frozenset[str]]:
    readers: set[str] = set()
    writers: set[str] = set()
    for i, r in enumerate(roles or []):
        role, access = r.get("role"), r.get("access", "read")
        if role not in ROLES:
            p.add(f"$.roles[{i}].role", f"{role!r} is not an Orderloom role that may use facts ({', '.join(ROLES)})")
        elif access not in ("read", "write"):
            p.add(f"$.roles[{i}].access", "access must be read or write")
        else:
            (writers if access == "write" else readers).add(role)
    return frozenset(readers), frozenset(writers)


def _stages(custom: Any, p: _Problems) -> tuple[str, ...]:
    for i, c in enumerate(custom or []):
        if c.get("property") != "stages":
            continue
        value = c.get("value")
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            p.add(f"$.customProperties[{i}].value", "stages must be a list of dictionary stage ids")
            return ()
        return tuple(value)
    return ()


def object_names(contracts: Sequence[Contract]) -> dict[str, str]:
    """Each schema object's name -> the id of the contract that defines it."""
    return {o.name: c.id for c in contracts for o in c.objects}
