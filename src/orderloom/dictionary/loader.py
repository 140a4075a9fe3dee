"""Loads dictionary files, checks them thoroughly, and builds a `Dictionary`.

Every problem is reported with the file and the path inside it, so a user
adding a pack of their own sees exactly which line to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import yaml

from orderloom.core.errors import ConfigError
from orderloom.core.yamlfile import yaml_files
from orderloom.dictionary.model import HIDDEN, Dictionary, EventType, RoleView, Term, Timer, Upcast

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DictionaryError(ConfigError):
    """A dictionary file is wrong; `problems` lists each mistake with its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the event dictionary has problems:\n  - " + "\n  - ".join(problems))


@cache
def _meta_validator() -> jsonschema.Draft202012Validator:
    text = resources.files("orderloom.dictionary").joinpath("meta_schema.yaml").read_text("utf-8")
    return jsonschema.Draft202012Validator(yaml.safe_load(text))


def shipped_files() -> list[Path]:
    """The dictionary files inside the package (core first)."""
    folder = Path(str(resources.files("orderloom.dictionary").joinpath("data")))
    files = sorted(folder.glob("*.yaml"), key=lambda p: (p.stem != "core", p.stem))
    return files


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    found, missing = yaml_files(paths)
    if missing:
        raise DictionaryError([f"{missing[0]}: file not found"])
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DictionaryError([f"{path}: cannot be read as YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise DictionaryError([f"{path}: must be a mapping with `dictionary:` and `types:`"])
    errors = sorted(_meta_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise DictionaryError(
            [f"{path}: at {'/'.join(str(x) for x in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:50]]
        )
    return doc


def load_dictionary(extra: Iterable[str | Path] = ()) -> Dictionary:
    """The shipped dictionary plus the user's files (later files may add types or newer versions)."""
    return build([*shipped_files(), *_expand(extra)])


def check_file(path: str | Path) -> Dictionary:
    """Check one file; a file that is not `core` is checked on top of the shipped core."""
    p = Path(path)
    doc = _read(p)
    base = [] if doc.get("dictionary") == "core" else [f for f in shipped_files() if f.resolve() != p.resolve()]
    return build([*base, p])


def build(paths: list[Path]) -> Dictionary:
    """Merge the files in order and check the result as a whole."""
    roles: dict[str, Term] = {}
    stages: dict[str, Term] = {}
    legs: dict[str, Term] = {}
    statuses: dict[str, Term] = {}
    defaults: dict[str, Any] = {}
    raw_types: dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]] = {}
    problems: list[str] = []
    for path in paths:
        doc = _read(path)
        for key, into in (("roles", roles), ("stages", stages), ("legs", legs), ("statuses", statuses)):
            for item in doc.get(key, []):
                extra = {k: item[k] for k in ("from", "to") if k in item}
                into[item["id"]] = Term(item["id"], item["label"], item.get("rank", 0), item.get("kind", "open"), extra)
        for role, view in (doc.get("defaults") or {}).get("visibility", {}).items():
            defaults[role] = view
        for tid, spec in doc["types"].items():
            if tid in raw_types:
                old_path, old, history = raw_types[tid]
                if spec["version"] <= old["version"]:
                    problems.append(
                        f"{path}: types/{tid}: already defined in {old_path.name} with version {old['version']};"
                        " a redefinition must raise the version"
                    )
                    continue
                raw_types[tid] = (path, spec, [*history, old])
            else:
                raw_types[tid] = (path, spec, [])
    types: dict[str, EventType] = {}
    # Older versions stay readable through `upcast`, so only the newest schema is kept.
    for tid, (path, spec, _older) in raw_types.items():
        try:
            types[tid] = _build_type(
                tid, path, spec, roles=roles, stages=stages, legs=legs, statuses=statuses, defaults=defaults
            )
        except DictionaryError as exc:
            problems.extend(exc.problems)
    for t in types.values():
        for timer in t.timers:
            problems.extend(
                f"{t.origin}: types/{t.id}/timers/{timer.id}: expects unknown event type {e!r}"
                for e in timer.expect
                if e not in types
            )
    if not roles:
        problems.append("no roles are defined (the core dictionary defines consumer, cs, finance, ops, admin)")
    if problems:
        raise DictionaryError(problems)
    return Dictionary(types, roles, stages, legs, statuses, tuple(str(p) for p in paths))


def _build_type(
    tid: str,
    path: Path,
    spec: dict[str, Any],
    *,
    roles: Mapping[str, Term],
    stages: Mapping[str, Term],
    legs: Mapping[str, Term],
    statuses: Mapping[str, Term],
    defaults: Mapping[str, Any],
) -> EventType:
    where = f"{path}: types/{tid}"
    problems: list[str] = []
    for key, known in (("stage", stages), ("leg", legs), ("status", statuses)):
        if key in spec and spec[key] not in known:
            problems.append(f"{where}/{key}: {spec[key]!r} is not one of the defined {key}s")
    data_schema = spec["data"]
    props = data_schema.get("properties", {})
    validate_data = _compile(data_schema, f"{where}/data", problems)
    proof_schema = spec.get("proof")
    validate_proof = _compile(proof_schema, f"{where}/proof", problems) if proof_schema else None
    for pii in spec.get("pii", []):
        if _schema_at(data_schema, pii).get("type") != "string":
            problems.append(f"{where}/pii: {pii!r} must name a text field of the payload")
    visibility: dict[str, RoleView] = {}
    declared = spec["visibility"]
    for role in roles:
        raw = declared.get(role, defaults.get(role, False))
        visibility[role] = _role_view(raw)
        v = visibility[role]
        if v.fields is not None:
            problems.extend(
                f"{where}/visibility/{role}: field {f!r} is not in the payload schema"
                for f in sorted(v.fields)
                if f not in props
            )
    problems.extend(f"{where}/visibility: {r!r} is not a defined role" for r in declared if r not in roles)
    if visibility.get("consumer", HIDDEN).details:
        problems.append(f"{where}/visibility/consumer: consumers never see devices or proofs (details: true)")
    timers = tuple(
        Timer(t["id"], _duration(t["after"]), tuple(t["expect"]), t.get("severity", "warning"), t.get("label"))
        for t in spec.get("timers", [])
    )
    upcasts = tuple(
        Upcast(u["from"], u.get("rename", {}), u.get("defaults", {}), tuple(u.get("drop", [])))
        for u in sorted(spec.get("upcast", []), key=lambda u: u["from"])
    )
    for u in upcasts:
        if u.source >= spec["version"]:
            problems.append(f"{where}/upcast: from {u.source} must be below the current version {spec['version']}")
    example = spec["example"]
    if validate_data is not None:
        _check_example(validate_data, example.get("data"), f"{where}/example/data", problems)
    if validate_proof is not None:
        _check_example(validate_proof, example.get("proof", {}), f"{where}/example/proof", problems)
    problems.extend(
        f"{where}/example: {attr} is required by this type but missing"
        for attr in spec.get("requires", [])
        if not example.get(attr)
    )
    if problems or validate_data is None:
        raise DictionaryError(problems)
    return EventType(
        id=tid,
        version=spec["version"],
        label=spec["label"],
        stage=spec["stage"],
        leg=spec["leg"],
        data_schema=data_schema,
        example=example,
        validate_data=validate_data,
        description=spec.get("description", ""),
        status=spec.get("status"),
        requires=frozenset(spec.get("requires", [])),
        proof_schema=proof_schema,
        validate_proof=validate_proof,
        pii=tuple(spec.get("pii", [])),
        invoicing=bool(spec.get("invoicing", False)),
        internal=bool(spec.get("internal", False)),
        visibility=visibility,
        timers=timers,
        upcasts=upcasts,
        origin=str(path),
    )


def _role_view(raw: Any) -> RoleView:
    if raw is False:
        return HIDDEN
    if raw is True:
        return RoleView(visible=True)
    fields = raw.get("fields", "*")
    return RoleView(
        visible=True,
        label=raw.get("label"),
        fields=None if fields == "*" else frozenset(fields),
        details=bool(raw.get("details", False)),
    )


def _compile(schema: Mapping[str, Any], where: str, problems: list[str]) -> Any:
    try:
        return fastjsonschema.compile(dict(schema), use_default=False)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        problems.append(f"{where}: not a valid JSON Schema: {exc}")
        return None


def _check_example(validator: Any, value: Any, where: str, problems: list[str]) -> None:
    try:
        validator(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        problems.append(f"{where}: the example does not fit the schema: {exc.message}")


def _schema_at(schema: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part, {})
    return node


def _duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m:
        raise DictionaryError([f"duration {text!r} must look like 30m, 4h or 2d"])
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
