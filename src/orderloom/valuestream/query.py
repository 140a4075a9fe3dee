"""The federated query: read-only SQL over the log's tables, the domain facts and external sources, in place.

DuckDB runs in this process, one database per role (see `tables.py`); the
sources are read where they are (CSV/Parquet views, SQLite and PostgreSQL
attached read-only), never copied. A query passes the read-only gate
(`guard.py`), then runs on its own cursor with a row limit and a time limit
(the cursor is interrupted when the time is up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orderloom.core.errors import Forbidden, Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.store.port import EventStore
from orderloom.valuestream.catalog import ContractCatalog
from orderloom.valuestream.guard import check_read_only, parser_connection
from orderloom.valuestream.results import Rows, fetch
from orderloom.valuestream.sources import QUERY_ROLES, Source
from orderloom.valuestream.tables import RoleDatabase


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one query may return and for how long it may run."""

    rows: int = 10_000
    seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class Answer:
    """A query's result with what it cost."""

    rows: Rows
    elapsed_ms: float
    position: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": self.rows.columns,
            "rows": self.rows.rows,
            "row_count": len(self.rows.rows),
            "truncated": self.rows.truncated,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "position": self.position,
        }


class QueryEngine:
    """Runs read-only queries for a role over that role's database."""

    def __init__(
        self,
        store: EventStore,
        dictionary: Dictionary,
        catalog: ContractCatalog,
        sources: Sequence[Source] = (),
        *,
        limits: Limits | None = None,
        threads: int = 2,
        memory_limit: str = "1GB",
        extension_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.dictionary = dictionary
        self.catalog = catalog
        self.sources = list(sources)
        self.limits = limits or Limits()
        self._threads = threads
        self._memory = memory_limit
        self._ext = extension_dir
        self._dbs: dict[str, RoleDatabase] = {}
        self._lock = threading.Lock()
        self._parser: duckdb.DuckDBPyConnection | None = None
        self._parse_lock = threading.Lock()

    def database(self, role: str) -> RoleDatabase:
        """The role's database, made on first use and brought up to date with the log."""
        if role not in QUERY_ROLES:
            raise Forbidden(f"the {role} role may not run queries (roles allowed: {', '.join(QUERY_ROLES)})")
        with self._lock:
            db = self._dbs.get(role)
            if db is None:
                db = RoleDatabase(
                    role,
                    self.store,
                    self.dictionary,
                    self.catalog,
                    self.sources,
                    threads=self._threads,
                    memory_limit=self._memory,
                    extension_dir=self._ext,
                )
                self._dbs[role] = db
        db.refresh()
        return db

    def check(self, sql: Any) -> str:
        """The query if it passes the read-only gate."""
        with self._parse_lock:
            if self._parser is None:
                self._parser = parser_connection()
            return check_read_only(sql, self._parser)

    def run(self, sql: Any, role: str, *, limit: int | None = None, seconds: float | None = None) -> Answer:
        """Run one read-only query as `role`; ValidationFailed (with the rule) when refused or failed."""
        text = self.check(sql)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValidationFailed([Problem("limit", "type", "limit must be a whole number of rows")])
        rows_limit = _bounded("limit", limit, self.limits.rows)
        time_limit = _bounded("timeout_s", seconds, self.limits.seconds)
        db = self.database(role)
        started = time.perf_counter()
        cur = db.connection().cursor()
        timer = threading.Timer(time_limit, cur.interrupt)
        timer.start()
        try:
            rows = fetch(cur.sql(text), int(rows_limit))
        except duckdb.InterruptException:
            raise ValidationFailed(
                [
                    Problem(
                        "sql",
                        "time_limit",
                        f"the query ran longer than {time_limit:g} s and was stopped; filter or aggregate more",
                    )
                ]
            ) from None
        except duckdb.PermissionException as exc:
            raise ValidationFailed(
                [Problem("sql", "allowed_sources", f"the query reached outside your allowed sources: {_line(exc)}")]
            ) from None
        except duckdb.Error as exc:
            raise ValidationFailed([Problem("sql", _rule(exc), f"the query failed: {_line(exc)}")]) from None
        finally:
            timer.cancel()
            cur.close()
        return Answer(rows, (time.perf_counter() - started) * 1000, db.position)

    def sources_for(self, role: str) -> dict[str, Any]:
        """The tables, contract views and external sources `role` may query."""
        db = self.database(role)
        return {
            "tables": db.tables(),
            "sources": [s.describe() for s in db.sources if s.name not in db.unavailable],
            "unavailable": [{"name": n, "reason": r} for n, r in sorted(db.unavailable.items())],
            "limits": {"rows": self.limits.rows, "seconds": self.limits.seconds},
        }

    def close(self) -> None:
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
        with self._parse_lock:
            if self._parser is not None:
                self._parser.close()
                self._parser = None


def _bounded(name: str, asked: float | None, most: float) -> float:
    if asked is None:
        return most
    if isinstance(asked, bool) or not isinstance(asked, int | float) or asked <= 0:
        raise ValidationFailed([Problem(name, "minimum", f"{name} must be a number above 0")])
    return min(float(asked), most)


def _line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:400]


def _rule(exc: duckdb.Error) -> str:
    if isinstance(exc, duckdb.CatalogException):
        return "unknown_name"
    if isinstance(exc, duckdb.BinderException):
        return "binder"
    if isinstance(exc, duckdb.ParserException):
        return "syntax"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "memory_limit"
    return "failed"
