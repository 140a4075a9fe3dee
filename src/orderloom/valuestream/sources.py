"""External sources the federated query may read in place: CSV, Parquet, SQLite files and PostgreSQL databases.

They are listed in a YAML file (`ORDERLOOM_QUERY_SOURCES`), each with the roles
allowed to read it:

    sources:
      - name: crm_accounts          # the table name in queries
        kind: csv                   # csv | parquet | sqlite | postgres
        path: exports/crm.csv       # relative to this file
        roles: [ops, admin]
      - name: erp
        kind: postgres
        dsn_env: ERP_DATABASE_URL   # or dsn: postgresql://reader@db/erp (prefer a read-only user)
        schema: public              # only this schema is visible
        roles: [finance, ops, admin]

A CSV or Parquet source is a view over the file; a SQLite or PostgreSQL source
is attached read-only as a catalog (`erp.invoices`, `shop.main.customers`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderloom.core.errors import ConfigError
from orderloom.core.yamlfile import read_yaml
from orderloom.valuestream.catalog import RESERVED

KINDS = ("csv", "parquet", "sqlite", "postgres")
QUERY_ROLES = ("cs", "finance", "ops", "admin")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Source:
    """One external source and who may read it."""

    name: str
    kind: str
    location: str  # a file path, or a PostgreSQL connection string (never shown)
    roles: frozenset[str]
    schema: str | None = None
    description: str = ""

    @property
    def is_file(self) -> bool:
        return self.kind in ("csv", "parquet", "sqlite")

    def describe(self) -> dict[str, Any]:
        """What a caller may know of the source: no path, no connection string."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "description": self.description}
        if self.schema:
            out["schema"] = self.schema
        return out


def parse_sources(doc: Any, base: Path, origin: str, env: Mapping[str, str] | None = None) -> list[Source]:
    """The sources of a parsed YAML document; ConfigError names the file and the entry."""
    e = os.environ if env is None else env
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("sources", []), list):
        raise ConfigError(f"{origin}: expected `sources:` with a list of sources")
    out: list[Source] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.get("sources") or []):
        where = f"{origin}: sources[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: each source is a mapping with name, kind and roles")
        name, kind = raw.get("name"), raw.get("kind")
        if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
            raise ConfigError(f"{where}.name: use lower-case letters, digits and _, not one of {', '.join(RESERVED)}")
        if name in seen:
            raise ConfigError(f"{where}.name: {name} is listed twice")
        seen.add(name)
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind: must be one of {', '.join(KINDS)}")
        roles = raw.get("roles")
        if not isinstance(roles, list) or not roles or any(r not in QUERY_ROLES for r in roles):
            raise ConfigError(f"{where}.roles: list the roles that may read it, from {', '.join(QUERY_ROLES)}")
        schema = raw.get("schema")
        if schema is not None and (kind != "postgres" or not isinstance(schema, str) or not _NAME.match(schema)):
            raise ConfigError(f"{where}.schema: only a postgres source takes a schema (lower-case name)")
        out.append(
            Source(
                name=name,
                kind=kind,
                location=_location(raw, kind, base, where, e),
                roles=frozenset(roles),
                schema=schema,
                description=str(raw.get("description") or ""),
            )
        )
    return out


def _location(raw: Mapping[str, Any], kind: str, base: Path, where: str, env: Mapping[str, str]) -> str:
    if kind != "postgres":
        path = raw.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}.path: give the file's path")
        full = Path(path) if Path(path).is_absolute() else base / path
        return str(full.resolve())
    dsn = raw.get("dsn")
    var = raw.get("dsn_env")
    if isinstance(var, str):
        dsn = env.get(var)
        if not dsn:
            raise ConfigError(f"{where}.dsn_env: the environment variable {var} is not set")
    if not isinstance(dsn, str) or not dsn.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{where}: give dsn (postgresql://...) or dsn_env naming a variable that holds it")
    return dsn


def load_sources(path: str | Path) -> list[Source]:
    """The sources listed in a YAML file."""
    p = Path(path)
    return parse_sources(read_yaml(p, "query sources file"), p.parent, str(p))
