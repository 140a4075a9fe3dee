"""Loading data contracts: the shipped ones plus the user's ODCS v3 YAML files, checked thoroughly.

Each file is checked against the JSON Schema the `open-data-contract-standard`
package ships, then against our conventions (`contract.py`), then against the
event dictionary (the SLA's anchor event and the stages must exist). Every
problem names the file and the JSON path inside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from orderloom.core.errors import ConfigError, NotFound
from orderloom.core.yamlfile import yaml_files
from orderloom.dictionary.model import Dictionary
from orderloom.valuestream.contract import Contract, parse_contract

# Names the query tables use; a schema object (it becomes a query view) may not take one.
RESERVED = frozenset(
    {"events", "orders", "order_status", "order_ids", "facts", "fact_rows", "fact_rejections", "playbook_runs"}
)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ContractError(ConfigError):
    """A contract file is wrong; `problems` lists each mistake with its file and JSON path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the data contracts have problems:\n  - " + "\n  - ".join(problems))


@cache
def _odcs_validator() -> jsonschema.Draft201909Validator:
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text("utf-8")
    return jsonschema.Draft201909Validator(json.loads(text))


def shipped_files() -> list[Path]:
    """The contract files inside the package."""
    folder = Path(str(resources.files("orderloom.valuestream").joinpath("contracts")))
    return sorted(folder.glob("*.yaml"))


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    found, missing = yaml_files(paths)
    if missing:
        raise ContractError([f"{missing[0]}: file not found"])
    return found


def _json_path(error: jsonschema.ValidationError) -> str:
    return error.json_path


def read_contract(path: Path) -> tuple[Contract | None, list[str]]:
    """One file: the contract, or its problems (each starting with the file name)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        return None, [f"{path}: cannot be read: {exc.strerror}"]
    contract, problems = _read_once(str(path), stamp)
    return contract, list(problems)


# Checking against the ODCS schema takes tens of milliseconds a file; an unchanged file is checked once.
@lru_cache(maxsize=256)
def _read_once(name: str, stamp: int) -> tuple[Contract | None, tuple[str, ...]]:
    del stamp  # part of the cache key only
    contract, problems = _read(Path(name))
    return contract, tuple(problems)


def _read(path: Path) -> tuple[Contract | None, list[str]]:
    try:
        doc = yaml.load(path.read_text("utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        return None, [f"{path}: cannot be read as YAML: {exc}"]
    if not isinstance(doc, dict):
        return None, [f"{path}: must be an ODCS data contract (a mapping with apiVersion, kind, id, version)"]
    errors = sorted(_odcs_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        return None, [f"{path}: at {_json_path(e)}: {_short(e.message)} (ODCS v3 schema)" for e in errors[:50]]
    contract, problems = parse_contract(doc, str(path))
    return contract, [f"{path}: {line}" for line in problems]


def _short(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."


def check_against(contract: Contract, dictionary: Dictionary) -> list[str]:
    """Problems between a contract and the event dictionary."""
    out = []
    if contract.freshness.anchor not in dictionary.types:
        out.append(
            f"{contract.origin}: at $.slaProperties: anchorEvent {contract.freshness.anchor!r} "
            "is not an event type in the dictionary"
        )
    out.extend(
        f"{contract.origin}: at $.customProperties: stage {stage!r} is not a stage in the dictionary"
        for stage in contract.stages
        if stage not in dictionary.stages
    )
    return out


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    return tuple(int(x) for x in re.findall(r"\d+", version)), version


@dataclass(frozen=True, slots=True)
class ContractCatalog:
    """The contracts in force, by id, with one contract per domain."""

    contracts: Mapping[str, Contract]

    def get(self, contract_id: str) -> Contract:
        found = self.contracts.get(contract_id)
        if found is None:
            raise NotFound(f"no data contract {contract_id!r}; known: {', '.join(sorted(self.contracts))}")
        return found

    def for_domain(self, domain: str) -> Contract:
        found = next((c for c in self.contracts.values() if c.domain == domain), None)
        if found is None:
            raise NotFound(
                f"no data contract for the domain {domain!r}; domains with contracts: {', '.join(self.domains())}"
            )
        return found

    def domains(self) -> list[str]:
        return sorted({c.domain for c in self.contracts.values()})

    def list(self) -> list[Contract]:
        return sorted(self.contracts.values(), key=lambda c: (c.domain, c.id))

    def find_field(self, domain: str, name: str) -> tuple[Contract, str] | None:
        """The contract of `domain` and its object that owes the field `name`, if any."""
        found = next((c for c in self.contracts.values() if c.domain == domain), None)
        if found is None:
            return None
        obj = next((o for o in found.objects if o.field(name) is not None), None)
        return (found, obj.name) if obj is not None else None


def build_catalog(contracts: Iterable[Contract]) -> tuple[ContractCatalog, list[str]]:
    """The catalog of these contracts (a later or higher version of an id replaces the earlier) and its problems."""
    chosen: dict[str, Contract] = {}
    for c in contracts:
        old = chosen.get(c.id)
        if old is None or _version_key(c.version) >= _version_key(old.version):
            chosen[c.id] = c
    problems = []
    by_domain: dict[str, list[str]] = {}
    owners: dict[str, str] = {}
    for c in chosen.values():
        by_domain.setdefault(c.domain, []).append(c.id)
        for o in c.objects:
            if o.name in RESERVED:
                problems.append(f"{c.origin}: schema object name {o.name!r} is reserved for a query table; rename it")
            elif o.name in owners and owners[o.name] != c.id:
                problems.append(f"{c.origin}: schema object name {o.name!r} is already used by {owners[o.name]}")
            owners[o.name] = c.id
    problems.extend(
        f"domain {domain!r} has {len(ids)} contracts ({', '.join(sorted(ids))}); facts are posted per domain, "
        "so give each domain one contract (with several schema objects if needed)"
        for domain, ids in sorted(by_domain.items())
        if len(ids) > 1
    )
    return ContractCatalog(chosen), problems


def load_contracts(extra: Iterable[str | Path] = (), dictionary: Dictionary | None = None) -> ContractCatalog:
    """The shipped contracts plus the user's files; ContractError lists every problem."""
    problems: list[str] = []
    contracts: list[Contract] = []
    for path in [*shipped_files(), *_expand(extra)]:
        contract, found = read_contract(path)
        problems.extend(found)
        if contract is not None:
            contracts.append(contract)
            if dictionary is not None:
                problems.extend(check_against(contract, dictionary))
    catalog, more = build_catalog(contracts)
    problems.extend(more)
    if problems:
        raise ContractError(problems)
    return catalog


def contract_document(contract: Contract) -> dict[str, Any]:
    """The ODCS document as loaded (for `GET /v1/valuestream/contracts/{id}`)."""
    return dict(contract.document)
