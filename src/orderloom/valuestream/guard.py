"""The read-only gate: only one SELECT statement gets through, parsed by DuckDB's own parser.

Three checks, each refusing with a message an analyst can act on:
1. exactly one statement (a second one after `;` is refused, not ignored);
2. its type is SELECT (INSERT, CREATE, COPY, ATTACH, INSTALL, LOAD, SET, CALL ... are not);
3. its syntax tree (DuckDB's `json_serialize_sql`, which also refuses PRAGMA) calls no table function
   outside a small allow-list: the scanners' own functions (`postgres_query`, `postgres_scan`,
   `sqlite_scan`, ...) would reach databases and files that were never attached; and it does not
   read settings (`current_setting`), which name the attached files.
The database behind the gate adds its own walls: sources attached read-only, external access off,
configuration locked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import orjson

from orderloom.core.errors import Problem, ValidationFailed

MAX_SQL = 100_000
TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "json_each",
        "json_tree",
        "duckdb_tables",
        "duckdb_columns",
        "duckdb_schemas",
        "duckdb_types",
    }
)
# Settings name the attached files; nothing in a query needs them.
SCALAR_FUNCTIONS_DENIED = frozenset({"current_setting"})


def _refuse(rule: str, message: str) -> ValidationFailed:
    return ValidationFailed([Problem("sql", rule, message)])


def _functions(node: Any) -> Iterator[tuple[str, str]]:
    """("table" or "scalar", name) of every function the syntax tree calls."""
    if isinstance(node, dict):
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            yield "table", str(function.get("function_name", "")).lower()
        elif node.get("class") == "FUNCTION":
            yield "scalar", str(node.get("function_name", "")).lower()
        for value in node.values():
            yield from _functions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _functions(value)


def check_read_only(sql: Any, parser: duckdb.DuckDBPyConnection) -> str:
    """The query text if it is one read-only SELECT; ValidationFailed saying why not otherwise."""
    if not isinstance(sql, str) or not sql.strip():
        raise _refuse("required", "send the query as text in `sql`, e.g. SELECT count(*) FROM orders")
    if len(sql) > MAX_SQL:
        raise _refuse("max_length", f"the query is longer than {MAX_SQL:,} characters")
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise _refuse("syntax", f"the query is not valid SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise _refuse(
            "single_statement",
            f"send exactly one SELECT statement; this text holds {len(statements)} (remove the extra ; parts)",
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = kind.name if hasattr(kind, "name") else str(kind)
        raise _refuse(
            "read_only",
            f"only reading queries are allowed (SELECT, WITH ... SELECT); this is a {name} statement, which "
            "would change data or reach outside it, so it was not run",
        )
    (tree,) = parser.execute("SELECT json_serialize_sql($q)", {"q": sql}).fetchone() or ("{}",)
    parsed = orjson.loads(tree)
    if parsed.get("error"):
        raise _refuse(
            "read_only", "only plain reading queries are allowed (SELECT, WITH ... SELECT); PRAGMA and the like are not"
        )
    called = set(_functions(parsed))
    denied = sorted(name for kind, name in called if kind == "scalar" and name in SCALAR_FUNCTIONS_DENIED)
    if denied:
        raise _refuse("function", f"the function {', '.join(denied)} is not allowed in queries")
    banned = sorted(name for kind, name in called if kind == "table" and name not in TABLE_FUNCTIONS)
    if banned:
        raise _refuse(
            "table_function",
            f"the table function {', '.join(banned)} is not allowed: read the tables and sources listed by "
            "GET /v1/query/sources instead",
        )
    return sql


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


def parser_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB used only to parse: no tables, no files, no extensions."""
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
