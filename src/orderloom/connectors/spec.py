"""Mapping specs: YAML files that turn an external payload into orders, events, signals or facts.

A spec is checked as a whole when it loads; every mistake is reported with
the file and the place inside it (e.g. `fields/data.weight_kg/convert`), so
whoever writes a mapping sees exactly which line to fix.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from orderloom.connectors.paths import Path, is_plain_target, parse_path
from orderloom.connectors.units import check_units
from orderloom.core.errors import ConfigError
from orderloom.core.yamlfile import read_yaml

KINDS = ("order", "event", "signal", "fact")
CASTS = ("string", "integer", "number", "boolean", "time", "json")
CASES = ("lower", "upper")
DIGESTS = ("sha256",)
_CONNECTOR = re.compile(r"^[a-z][a-z0-9_-]{1,47}$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]{1,127}$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# The envelope a mapped event or signal may fill; anything else is a typo the dictionary would refuse later.
ROOTS: dict[str, frozenset[str] | None] = {
    "event": frozenset({"id", "type", "source", "oid", "time", "actor", "deviceid", "proof", "data", "schemaver"}),
    "signal": frozenset({"type", "target", "value", "time"}),
    "order": None,
    "fact": None,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "event": ("type", "oid", "time"),
    "signal": ("type", "target", "time"),
    "order": (),
    "fact": (),
}
_RULE_KEYS = frozenset(
    {
        "path",
        "const",
        "template",
        "each",
        "fields",
        "required",
        "default",
        "case",
        "map",
        "else",
        "type",
        "convert",
        "round",
        "digest",
        "lookup",
        "when",
    }
)
_NO = object()  # "not given", so an explicit null const or default stays possible


class MappingError(ConfigError):
    """A mapping file is wrong; `problems` lists each mistake with its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the mapping has problems:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True, slots=True)
class Template:
    """Text with {path} placeholders, e.g. `shopify-{id}`."""

    text: str
    parts: tuple[str | Path, ...]


@dataclass(frozen=True, slots=True)
class When:
    """A condition on the payload: the rule applies only when the value at `path` is one of `values`."""

    path: Path
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rule:
    """How one target field gets its value."""

    target: Path
    paths: tuple[Path, ...] = ()
    const: Any = _NO
    templates: tuple[Template, ...] = ()
    each: Path | None = None
    fields: tuple[Rule, ...] = ()
    required: bool = False
    default: Any = _NO
    case: str | None = None
    value_map: Mapping[str, Any] | None = None
    otherwise: Any = _NO
    cast: str | None = None
    convert: tuple[str, str] | None = None
    round_to: int | None = None
    digest: str | None = None
    lookup: str | None = None
    when: When | None = None

    @property
    def has_const(self) -> bool:
        return self.const is not _NO

    @property
    def has_default(self) -> bool:
        return self.default is not _NO

    @property
    def has_otherwise(self) -> bool:
        return self.otherwise is not _NO

    def source(self) -> str:
        """Where the value comes from, in words for error messages."""
        if self.each is not None:
            return f"each of {self.each.text}"
        if self.templates:
            return f"template {self.templates[0].text!r}"
        if self.paths:
            return " or ".join(p.text for p in self.paths)
        return "a constant"


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A whole mapping: which connector, what it produces and how."""

    connector: str
    kind: str
    fields: tuple[Rule, ...]
    description: str = ""
    secret_env: str | None = None
    each: Path | None = None
    origin: str = "(inline)"


def load_spec(path: str | FilePath) -> MappingSpec:
    """Read and check one mapping file."""
    p = FilePath(path)
    return parse_spec(read_yaml(p, "mapping file"), str(p))


def parse_spec(doc: Any, origin: str = "(inline)") -> MappingSpec:
    """Check a parsed mapping document; MappingError lists every problem with its place."""
    problems: list[str] = []

    def bad(where: str, message: str) -> None:
        problems.append(f"{origin}: at {where}: {message}")

    if not isinstance(doc, dict):
        raise MappingError([f"{origin}: must be a mapping with connector, kind and fields"])
    for key in sorted(set(doc) - {"connector", "description", "secret_env", "kind", "each", "fields"}):
        bad(str(key), "is not a mapping setting (connector, description, secret_env, kind, each, fields)")
    connector = doc.get("connector")
    if not isinstance(connector, str) or not _CONNECTOR.match(connector):
        bad("connector", "must be 2-48 lowercase letters, digits, _ or -, starting with a letter")
    kind = doc.get("kind")
    if kind not in KINDS:
        bad("kind", f"must be one of {', '.join(KINDS)}")
    secret_env = doc.get("secret_env")
    if secret_env is not None and (not isinstance(secret_env, str) or not _ENV.match(secret_env)):
        bad("secret_env", "must name an environment variable (A-Z, 0-9, _), never hold the secret itself")
    description = doc.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be text")
    each = _path_or_none(doc.get("each"), "each", bad)
    raw_fields = doc.get("fields")
    rules: tuple[Rule, ...] = ()
    if not isinstance(raw_fields, dict) or not raw_fields:
        bad("fields", "must map each target field to a rule, e.g. data.node: {path: warehouse}")
    else:
        rules = _rules(raw_fields, "fields", bad)
        if kind in KINDS:
            _check_roots(rules, str(kind), bad)
    if problems:
        raise MappingError(problems)
    return MappingSpec(
        connector=str(connector),
        kind=str(kind),
        fields=rules,
        description=str(description),
        secret_env=secret_env,
        each=each,
        origin=origin,
    )


def _check_roots(rules: tuple[Rule, ...], kind: str, bad: Any) -> None:
    allowed = ROOTS[kind]
    roots = {str(r.target.steps[0]) for r in rules if r.target.steps}
    if allowed is not None:
        for r in rules:
            root = str(r.target.steps[0])
            if root not in allowed:
                bad(f"fields/{r.target.text}", f"a {kind} has no {root!r}; use one of {', '.join(sorted(allowed))}")
    for needed in REQUIRED[kind]:
        if needed not in roots:
            bad("fields", f"a {kind} mapping must fill {needed!r}")
    texts = sorted(_plain(r.target.text) for r in rules)
    for a, b in itertools.pairwise(texts):
        if a == b or b.startswith(a + "."):
            bad(f"fields/{b}", f"{b} is filled twice (also by {a}); map each field once")
    for r in rules:
        if r.lookup is not None and (kind not in ("event", "fact") or r.target.text != "oid"):
            bad(f"fields/{r.target.text}/lookup", "lookup resolves a source order number and only fills oid")


def _plain(target: str) -> str:
    return target.replace("[", ".[")


def _path_or_none(raw: Any, where: str, bad: Any) -> Path | None:
    if raw is None:
        return None
    try:
        return parse_path(raw)
    except ConfigError as exc:
        bad(where, str(exc))
        return None


def _rules(raw: dict[Any, Any], where: str, bad: Any) -> tuple[Rule, ...]:
    out = []
    for target_text, given in raw.items():
        here = f"{where}/{target_text}"
        try:
            target = parse_path(str(target_text))
            if not is_plain_target(target):
                raise ConfigError(f"target {target_text!r} must be a plain path like data.weight_kg or lines[0].sku")
        except ConfigError as exc:
            bad(here, str(exc))
            continue
        # Shorthand: `data.node: warehouse_code` reads that path.
        spec = {"path": given} if isinstance(given, str) else given
        if not isinstance(spec, dict):
            bad(here, "must be a rule (path, const, template or each) or a path as text")
            continue
        rule = _rule(target, spec, here, bad)
        if rule is not None:
            out.append(rule)
    return tuple(out)


def _rule(target: Path, spec: dict[str, Any], here: str, bad: Any) -> Rule | None:
    unknown = sorted(set(spec) - _RULE_KEYS)
    for key in unknown:
        bad(f"{here}/{key}", f"is not a rule setting; use {', '.join(sorted(_RULE_KEYS))}")
    sources = [k for k in ("path", "const", "template", "each") if k in spec]
    if len(sources) != 1:
        bad(here, "needs exactly one of path, const, template or each")
        return None
    kw: dict[str, Any] = {"target": target}
    if "path" in spec:
        raw_paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
        paths = [_path_or_none(p, f"{here}/path", bad) for p in raw_paths]
        kw["paths"] = tuple(p for p in paths if p is not None)
    elif "const" in spec:
        kw["const"] = spec["const"]
    elif "template" in spec:
        raw_templates = spec["template"] if isinstance(spec["template"], list) else [spec["template"]]
        templates = [_template(t, f"{here}/template", bad) for t in raw_templates]
        kw["templates"] = tuple(t for t in templates if t is not None)
    else:
        kw["each"] = _path_or_none(spec["each"], f"{here}/each", bad)
        inner = spec.get("fields")
        if not isinstance(inner, dict) or not inner:
            bad(f"{here}/fields", "each needs fields: one rule per field of every item")
        else:
            kw["fields"] = _rules(inner, f"{here}/fields", bad)
    if "fields" in spec and "each" not in spec:
        bad(f"{here}/fields", "fields belong to an each rule")
    if not isinstance(spec.get("required", False), bool):
        bad(f"{here}/required", "must be true or false")
    kw["required"] = bool(spec.get("required", False))
    if "default" in spec:
        kw["default"] = spec["default"]
    if "case" in spec:
        if spec["case"] not in CASES:
            bad(f"{here}/case", f"must be one of {', '.join(CASES)}")
        kw["case"] = spec["case"]
    if "map" in spec:
        if not isinstance(spec["map"], dict) or not spec["map"]:
            bad(f"{here}/map", "must map source values to target values, e.g. {PICK: pick.completed}")
        else:
            kw["value_map"] = {map_key(k): v for k, v in spec["map"].items()}
    if "else" in spec:
        if "map" not in spec:
            bad(f"{here}/else", "else is the value for anything the map does not list; add a map")
        kw["otherwise"] = spec["else"]
    if "type" in spec:
        if spec["type"] not in CASTS:
            bad(f"{here}/type", f"must be one of {', '.join(CASTS)}")
        kw["cast"] = spec["type"]
    if "convert" in spec:
        kw["convert"] = _convert(spec["convert"], f"{here}/convert", bad)
    if "round" in spec:
        if not isinstance(spec["round"], int) or isinstance(spec["round"], bool) or not 0 <= spec["round"] <= 12:
            bad(f"{here}/round", "must be a number of decimals from 0 to 12")
        else:
            kw["round_to"] = spec["round"]
    if "digest" in spec:
        if spec["digest"] not in DIGESTS:
            bad(f"{here}/digest", f"must be one of {', '.join(DIGESTS)}")
        kw["digest"] = spec["digest"]
    if "lookup" in spec:
        if not isinstance(spec["lookup"], str) or not spec["lookup"].strip():
            bad(f"{here}/lookup", "must name the source system whose order number this is, e.g. wms")
        else:
            kw["lookup"] = spec["lookup"].strip()
    if "when" in spec:
        kw["when"] = _when(spec["when"], f"{here}/when", bad)
    return Rule(**kw)


def map_key(value: Any) -> str:
    """A source value as the text a value map (or a condition) compares it by."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _when(raw: Any, where: str, bad: Any) -> When | None:
    if not isinstance(raw, dict) or "path" not in raw or len(set(raw) & {"is", "in"}) != 1 or len(raw) != 2:
        bad(where, "must be {path: P, is: VALUE} or {path: P, in: [VALUES]}")
        return None
    path = _path_or_none(raw["path"], f"{where}/path", bad)
    values = raw["in"] if "in" in raw else [raw["is"]]
    if not isinstance(values, list) or not values:
        bad(f"{where}/in", "must be a non-empty list of values")
        return None
    return When(path, frozenset(map_key(v) for v in values)) if path is not None else None


def _template(raw: Any, where: str, bad: Any) -> Template | None:
    if not isinstance(raw, str) or not raw:
        bad(where, "must be text with {path} placeholders, e.g. shopify-{id}")
        return None
    parts: list[str | Path] = []
    last = 0
    for m in _PLACEHOLDER.finditer(raw):
        if m.start() > last:
            parts.append(raw[last : m.start()])
        path = _path_or_none(m.group(1), where, bad)
        if path is not None:
            parts.append(path)
        last = m.end()
    if last < len(raw):
        parts.append(raw[last:])
    if not any(isinstance(p, Path) for p in parts):
        bad(where, "has no {path} placeholder; use const for fixed text")
    return Template(raw, tuple(parts))


def _convert(raw: Any, where: str, bad: Any) -> tuple[str, str] | None:
    if not isinstance(raw, dict) or set(raw) != {"from", "to"}:
        bad(where, "must be {from: UNIT, to: UNIT}, e.g. {from: g, to: kg}")
        return None
    source, target = str(raw["from"]), str(raw["to"])
    try:
        check_units(source, target)
    except ConfigError as exc:
        bad(where, str(exc))
        return None
    return source, target
