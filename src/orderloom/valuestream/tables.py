"""One role's query database: the log's order events, orders, facts and playbook runs, as that role may see them.

Each role that queries gets its own in-process DuckDB, so what a role may not
see is simply not there: events are copied with only the fields the dictionary
grants the role (personal fields never, not even sealed), facts only of the
contracts the role may read, and only the external sources listed for the role
are attached. After attaching them, file and network access is switched off
and the configuration locked, so a query can read nothing else. The tables are
fed from the log through the EventStore port, incrementally from the last
position read, like every view.

Tables and views (times are TIMESTAMPTZ, sessions run in UTC):
- events(position, oid, seq, id, type, stage, status, time, source, data JSON): events of order streams
- orders(oid, placed_at, customer_id, customer_tier, channel, total, currency)
- order_status(oid, status, status_at): the latest status an event set
- facts(position, id, domain, contract, version, object, subject_kind, subject, oid, customer_id, fields JSON,
  received_at, due_at, anchor, valid_now): every delivered fact; `valid_now` = it meets the current contract
- one view per contract object (e.g. rush_flag): the latest fact per subject with typed columns
- fact_rejections(position, id, domain, contract, version, object, subject, problems JSON, received_at): ops, admin
- playbook_runs(run, playbook, version, stream, started_at, finished_at, outcome, trigger_id, tasks_owed): ops, admin
- findings(position, id, type, stream, time, subject): detector firings and at-risk customers (ops, admin)
- tasks(task_id, team, state, owner, due, oid, run, playbook, step, created_at, updated_at): ops, admin
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from orderloom.core.envelope import StoredEvent
from orderloom.dictionary.model import Dictionary, EventType
from orderloom.status.directory import PLACED
from orderloom.store.follow import iter_log
from orderloom.store.port import EventStore
from orderloom.valuestream.catalog import ContractCatalog
from orderloom.valuestream.conformance import check_record
from orderloom.valuestream.contract import ALWAYS, Contract, ContractObject
from orderloom.valuestream.extensions import OFFLINE, prepare
from orderloom.valuestream.facts import RECORDED, REJECTED
from orderloom.valuestream.sources import Source

# The playbook runner's own events (the playbook package's dictionary file); read here because they are
# the run history: a run counts as a success when it finished done.
RUN_STARTED = "playbook.run_started"
RUN_FINISHED = "playbook.run_finished"
STEP_DONE = "playbook.step_done"
TASK_CREATED, TASK_UPDATED = "task.created", "task.updated"
# The value-stream findings playbooks act on (detectors.yaml): a firing names its detector, an at-risk its customer.
FINDINGS = {"detector.fired": "detector", "customer.at_risk": "customer"}
STAFF = ALWAYS

SCHEMA = (
    "CREATE TABLE order_ids (oid VARCHAR)",
    "CREATE TABLE events (position BIGINT, oid VARCHAR, seq INTEGER, id VARCHAR, type VARCHAR, stage VARCHAR, "
    "status VARCHAR, time TIMESTAMPTZ, source VARCHAR, data JSON)",
    "CREATE TABLE fact_rows (position BIGINT, id VARCHAR, domain VARCHAR, contract VARCHAR, version VARCHAR, "
    "object VARCHAR, subject_kind VARCHAR, subject VARCHAR, fields JSON, received_at TIMESTAMPTZ, "
    "due_at TIMESTAMPTZ, anchor VARCHAR, valid_now BOOLEAN)",
    f"CREATE VIEW orders AS SELECT oid, time AS placed_at, data->>'$.customer.id' AS customer_id, "
    "data->>'$.customer.tier' AS customer_tier, data->>'$.channel' AS channel, "
    "TRY_CAST(data->>'$.total' AS DOUBLE) AS total, data->>'$.currency' AS currency "
    f"FROM events WHERE type = '{PLACED}'",
    "CREATE VIEW order_status AS SELECT oid, arg_max(status, time) AS status, max(time) AS status_at "
    "FROM events WHERE status IS NOT NULL GROUP BY oid",
    "CREATE VIEW facts AS SELECT f.position, f.id, f.domain, f.contract, f.version, f.object, f.subject_kind, "
    "f.subject, CASE WHEN f.subject_kind = 'oid' THEN f.subject END AS oid, "
    "CASE WHEN f.subject_kind = 'customer_id' THEN f.subject ELSE o.customer_id END AS customer_id, "
    "f.fields, f.received_at, f.due_at, f.anchor, f.valid_now "
    "FROM fact_rows f LEFT JOIN orders o ON f.subject_kind = 'oid' AND o.oid = f.subject",
)
# Only ops and admin see refused deliveries and playbook runs.
STAFF_SCHEMA = (
    "CREATE TABLE fact_rejections (position BIGINT, id VARCHAR, domain VARCHAR, contract VARCHAR, version VARCHAR, "
    "object VARCHAR, subject VARCHAR, problems JSON, received_at TIMESTAMPTZ)",
    "CREATE TABLE playbook_events (run VARCHAR, playbook VARCHAR, version INTEGER, stream VARCHAR, type VARCHAR, "
    "time TIMESTAMPTZ, outcome VARCHAR, trigger_id VARCHAR, step_type VARCHAR, step_status VARCHAR)",
    # tasks_owed: the create_task steps that ran (done or failed); a done one wrote its task in the same transaction.
    "CREATE VIEW playbook_runs AS SELECT run, any_value(playbook) AS playbook, any_value(version) AS version, "
    "any_value(stream) AS stream, "
    f"min(time) FILTER (WHERE type = '{RUN_STARTED}') AS started_at, "
    f"max(time) FILTER (WHERE type = '{RUN_FINISHED}') AS finished_at, "
    f"coalesce(any_value(outcome) FILTER (WHERE type = '{RUN_FINISHED}'), 'running') AS outcome, "
    f"any_value(trigger_id) FILTER (WHERE type = '{RUN_STARTED}') AS trigger_id, "
    f"count(*) FILTER (WHERE type = '{STEP_DONE}' AND step_type = 'create_task' "
    "AND step_status IN ('done', 'failed')) AS tasks_owed "
    "FROM playbook_events GROUP BY run",
    "CREATE TABLE findings (position BIGINT, id VARCHAR, type VARCHAR, stream VARCHAR, time TIMESTAMPTZ, "
    "subject VARCHAR)",
    "CREATE TABLE task_events (position BIGINT, task_id VARCHAR, type VARCHAR, time TIMESTAMPTZ, team VARCHAR, "
    "state VARCHAR, owner VARCHAR, owner_set BOOLEAN, due TIMESTAMPTZ, oid VARCHAR, run VARCHAR, playbook VARCHAR, "
    "step VARCHAR)",
    "CREATE VIEW tasks AS SELECT task_id, any_value(team) AS team, arg_max(state, position) AS state, "
    "arg_max(owner, position) FILTER (WHERE owner_set) AS owner, "
    f"any_value(due) FILTER (WHERE type = '{TASK_CREATED}') AS due, any_value(oid) AS oid, any_value(run) AS run, "
    "any_value(playbook) AS playbook, any_value(step) AS step, "
    f"min(time) FILTER (WHERE type = '{TASK_CREATED}') AS created_at, max(time) AS updated_at "
    f"FROM task_events GROUP BY task_id HAVING count(*) FILTER (WHERE type = '{TASK_CREATED}') > 0",
)
_SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
# libpq connection keywords -> the DuckDB postgres secret's parameters.
_SECRET_KEYS = {"host": "HOST", "port": "PORT", "dbname": "DATABASE", "user": "USER", "password": "PASSWORD"}
_EVENT_COLUMNS = ("position", "oid", "seq", "id", "type", "stage", "status", "time", "source", "data")
_FACT_COLUMNS = (
    "position",
    "id",
    "domain",
    "contract",
    "version",
    "object",
    "subject_kind",
    "subject",
    "fields",
    "received_at",
    "due_at",
    "anchor",
    "valid_now",
)
_REJECTION_COLUMNS = ("position", "id", "domain", "contract", "version", "object", "subject", "problems", "received_at")
_RUN_COLUMNS = (
    "run",
    "playbook",
    "version",
    "stream",
    "type",
    "time",
    "outcome",
    "trigger_id",
    "step_type",
    "step_status",
)
_FINDING_COLUMNS = ("position", "id", "type", "stream", "time", "subject")
_TASK_COLUMNS = (
    "position",
    "task_id",
    "type",
    "time",
    "team",
    "state",
    "owner",
    "owner_set",
    "due",
    "oid",
    "run",
    "playbook",
    "step",
)
_INSERTS = {
    "order_ids": "INSERT INTO order_ids SELECT DISTINCT oid FROM {b}",
    # Only events of order streams: the placement of every order is inserted just before (same batch or earlier).
    "events": "INSERT INTO events SELECT position, oid, seq, id, type, stage, status, CAST(time AS TIMESTAMPTZ), "
    "source, CAST(data AS JSON) FROM {b} WHERE oid IN (SELECT oid FROM order_ids)",
    "fact_rows": "INSERT INTO fact_rows SELECT position, id, domain, contract, version, object, subject_kind, subject, "
    "CAST(fields AS JSON), CAST(received_at AS TIMESTAMPTZ), CAST(due_at AS TIMESTAMPTZ), anchor, valid_now FROM {b}",
    "fact_rejections": "INSERT INTO fact_rejections SELECT position, id, domain, contract, version, object, subject, "
    "CAST(problems AS JSON), CAST(received_at AS TIMESTAMPTZ) FROM {b}",
    "playbook_events": "INSERT INTO playbook_events SELECT run, playbook, version, stream, type, "
    "CAST(time AS TIMESTAMPTZ), outcome, trigger_id, step_type, step_status FROM {b}",
    "findings": "INSERT INTO findings SELECT position, id, type, stream, CAST(time AS TIMESTAMPTZ), subject FROM {b}",
    "task_events": "INSERT INTO task_events SELECT position, task_id, type, CAST(time AS TIMESTAMPTZ), team, state, "
    "owner, owner_set, CAST(due AS TIMESTAMPTZ), oid, run, playbook, step FROM {b}",
}
_COLUMNS = {
    "order_ids": ("oid",),
    "events": _EVENT_COLUMNS,
    "fact_rows": _FACT_COLUMNS,
    "fact_rejections": _REJECTION_COLUMNS,
    "playbook_events": _RUN_COLUMNS,
    "findings": _FINDING_COLUMNS,
    "task_events": _TASK_COLUMNS,
}


def quote(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _without(data: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of `data` without the dotted `path` (copying only the dicts along it)."""
    parts = path.split(".")
    if len(parts) == 1:
        return {k: v for k, v in data.items() if k != path}
    child = data.get(parts[0])
    if not isinstance(child, dict):
        return data
    return {**data, parts[0]: _without(child, ".".join(parts[1:]))}


class _Buffer:
    """Column lists per table, handed to DuckDB as NumPy arrays."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, list[Any]]] = {t: {c: [] for c in cols} for t, cols in _COLUMNS.items()}
        self.size = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        for name, values in self.columns[table].items():
            values.append(row.get(name))
        self.size += 1

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        for table, cols in self.columns.items():
            n = len(next(iter(cols.values())))
            if not n:
                continue
            arrays = {
                c: np.fromiter(v, dtype=np.int64 if c == "position" else object, count=n) for c, v in cols.items()
            }
            con.register("vs_batch", arrays)
            try:
                con.execute(_INSERTS[table].format(b="vs_batch"))
            finally:
                con.unregister("vs_batch")
            for v in cols.values():
                v.clear()
        self.size = 0


@dataclass
class RoleView:
    """What one role may see, precomputed from the dictionary and the contracts."""

    role: str
    types: dict[str, tuple[EventType, Any]] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)

    @classmethod
    def build(cls, role: str, dictionary: Dictionary, catalog: ContractCatalog) -> RoleView:
        view = cls(role)
        for tid, t in dictionary.types.items():
            v = t.view(role)
            if v.visible and tid not in (RECORDED, REJECTED):
                view.types[tid] = (t, v)
        view.contracts = {c.id: c for c in catalog.list() if c.may_read(role)}
        return view


class RoleDatabase:
    """The role's DuckDB: tables loaded from the log, sources attached, then sealed against other access."""

    def __init__(
        self,
        role: str,
        store: EventStore,
        dictionary: Dictionary,
        catalog: ContractCatalog,
        sources: Sequence[Source],
        *,
        threads: int = 2,
        memory_limit: str = "1GB",
        extension_dir: Path | None = None,
        chunk: int = 50_000,
    ) -> None:
        self.role = role
        self.store = store
        self.dictionary = dictionary
        self.catalog = catalog
        self.sources = [s for s in sources if role in s.roles]
        self.position = 0
        self.unavailable: dict[str, str] = {}
        self.object_views: dict[str, tuple[Contract, ContractObject]] = {}
        self._view = RoleView.build(role, dictionary, catalog)
        self._threads = threads
        self._memory = memory_limit
        self._ext = extension_dir
        self._chunk = chunk
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    # -- building

    def _connect(self) -> duckdb.DuckDBPyConnection:
        # No temp directory: a query over the memory limit fails instead of spilling to disk, and no
        # directory stays readable once external access is off.
        config: dict[str, Any] = {
            **OFFLINE,
            "threads": self._threads,
            "memory_limit": self._memory,
            "temp_directory": "",
        }
        scanners = {s.kind for s in self.sources} & {"sqlite", "postgres"}
        if scanners:
            config["extension_directory"] = str(prepare(scanners, self._ext))
        con = duckdb.connect(":memory:", config=config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            for statement in (*SCHEMA, *(STAFF_SCHEMA if self.role in STAFF else ())):
                con.execute(statement)
            self._object_views(con)
            for kind in sorted(scanners):
                con.execute(f"LOAD {kind}")
            allowed = self._attach(con)
            con.execute("SET allowed_paths = [" + ", ".join(literal(p) for p in allowed) + "]")
            # From here on no statement may read a file or open a connection that is not attached already,
            # and no statement may change that.
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return con

    def _object_views(self, con: duckdb.DuckDBPyConnection) -> None:
        for contract in self._view.contracts.values():
            for obj in contract.objects:
                columns = [f"subject AS {quote(obj.key)}"]
                for f in obj.fields:
                    if f.name == obj.key:
                        continue
                    path = literal(f"$.{f.name}")
                    sql_type = _SQL_TYPES.get(f.logical_type)
                    if sql_type is None:
                        columns.append(f"json_extract(fields, {path}) AS {quote(f.name)}")
                    else:
                        columns.append(
                            f"TRY_CAST(json_extract_string(fields, {path}) AS {sql_type}) AS {quote(f.name)}"
                        )
                columns += ["received_at", "version", "valid_now"]
                con.execute(
                    f"CREATE VIEW {quote(obj.name)} AS SELECT {', '.join(columns)} FROM fact_rows "
                    f"WHERE contract = {literal(contract.id)} AND object = {literal(obj.name)} "
                    "QUALIFY row_number() OVER (PARTITION BY subject ORDER BY received_at DESC, position DESC) = 1"
                )
                self.object_views[obj.name] = (contract, obj)

    def _attach(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        allowed = []
        for s in self.sources:
            try:
                if s.kind in ("csv", "parquet"):
                    reader = "read_csv" if s.kind == "csv" else "read_parquet"
                    con.execute(f"CREATE VIEW {quote(s.name)} AS SELECT * FROM {reader}({literal(s.location)})")
                elif s.kind == "sqlite":
                    con.execute(f"ATTACH {literal(s.location)} AS {quote(s.name)} (TYPE sqlite, READ_ONLY)")
                else:
                    self._attach_postgres(con, s)
            except duckdb.Error as exc:
                # The connection string may hold a password: only the source's name is shown.
                text = str(exc).replace(s.location, f"<{s.name}>").splitlines()[0][:300]
                self.unavailable[s.name] = text
                continue
            if s.is_file:
                allowed.append(s.location)
        return allowed

    @staticmethod
    def _attach_postgres(con: duckdb.DuckDBPyConnection, s: Source) -> None:
        """Attach with the credentials in a DuckDB secret: DuckDB lists an attached database's connection
        string among its allowed paths (a setting), while a secret's password is always redacted."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = {k: str(v) for k, v in conninfo_to_dict(s.location).items()}
        except Exception as exc:  # noqa: BLE001 - psycopg raises its own error types for a malformed string
            raise duckdb.InvalidInputException(f"the connection string is not valid: {type(exc).__name__}") from None
        secret = {name: parts.pop(key) for key, name in _SECRET_KEYS.items() if key in parts}
        settings = ", ".join(f"{name} {literal(value)}" for name, value in secret.items())
        secret_name = quote(f"vs_source_{s.name}")
        con.execute(f"CREATE TEMPORARY SECRET {secret_name} (TYPE postgres{', ' + settings if settings else ''})")
        rest = " ".join(f"{k}={v}" for k, v in parts.items())  # e.g. sslmode: not secret
        schema = f", SCHEMA {literal(s.schema)}" if s.schema else ""
        con.execute(
            f"ATTACH {literal(rest)} AS {quote(s.name)} (TYPE postgres, SECRET {secret_name}, READ_ONLY{schema})"
        )

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The database, connected on first use (building the object does no I/O)."""
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    # -- loading

    def refresh(self) -> int:
        """Load the events appended since the last refresh; returns how many were read."""
        con = self.connection()
        with self._lock:
            buffer = _Buffer()
            read = 0
            last = self.position
            con.begin()
            try:
                for e in iter_log(self.store, after=self.position):
                    read += 1
                    last = e.position
                    self._add(buffer, e)
                    if buffer.size >= self._chunk:
                        buffer.flush(con)
                buffer.flush(con)
                con.commit()
            except BaseException:
                con.rollback()
                raise
            self.position = last
            return read

    def _add(self, buffer: _Buffer, e: StoredEvent) -> None:
        if e.type == PLACED:
            buffer.add("order_ids", {"oid": e.oid})
        if e.type == RECORDED:
            self._add_fact(buffer, e)
            return
        if e.type == REJECTED:
            if self.role in STAFF:
                d = e.data
                subject = d.get("subject") or {}
                buffer.add(
                    "fact_rejections",
                    {
                        "position": e.position,
                        "id": e.id,
                        "domain": d.get("domain"),
                        "contract": d.get("contract"),
                        "version": d.get("version"),
                        "object": d.get("object"),
                        "subject": subject.get("id"),
                        "problems": orjson.dumps(d.get("problems") or []).decode(),
                        "received_at": d.get("received_at") or e.time,
                    },
                )
            return
        if self.role in STAFF:
            self._add_staff(buffer, e)
        seen = self._view.types.get(e.type)
        if seen is None:
            return
        t, v = seen
        data = t.upcast(dict(e.data), e.schemaver) if e.schemaver < t.version else e.data
        shown = {k: val for k, val in data.items() if v.grants(k)}
        for path in t.pii:
            shown = _without(shown, path)
        buffer.add(
            "events",
            {
                "position": e.position,
                "oid": e.oid,
                "seq": e.seq,
                "id": e.id,
                "type": e.type,
                "stage": t.stage,
                "status": t.status,
                "time": e.time,
                "source": e.source,
                "data": orjson.dumps(shown).decode(),
            },
        )

    def _add_staff(self, buffer: _Buffer, e: StoredEvent) -> None:
        """Playbook runs, value-stream findings and tasks: the trigger success rate is computed from them."""
        d = e.data
        if e.type in (RUN_STARTED, RUN_FINISHED) or (e.type == STEP_DONE and d.get("type") == "create_task"):
            buffer.add(
                "playbook_events",
                {
                    "run": d.get("run"),
                    "playbook": d.get("playbook"),
                    "version": d.get("version"),
                    "stream": e.oid,
                    "type": e.type,
                    "time": e.time,
                    "outcome": d.get("outcome"),
                    "trigger_id": (d.get("trigger") or {}).get("id"),
                    "step_type": d.get("type") if e.type == STEP_DONE else None,
                    "step_status": d.get("status") if e.type == STEP_DONE else None,
                },
            )
        elif e.type in FINDINGS:
            subject = d.get(FINDINGS[e.type])
            row = {"position": e.position, "id": e.id, "type": e.type, "stream": e.oid, "time": e.time}
            buffer.add("findings", {**row, "subject": None if subject is None else str(subject)})
        elif e.type in (TASK_CREATED, TASK_UPDATED):
            source = d.get("source") or {}
            buffer.add(
                "task_events",
                {
                    "position": e.position,
                    "task_id": d.get("task_id"),
                    "type": e.type,
                    "time": e.time,
                    "team": d.get("team"),
                    "state": d.get("state"),
                    "owner": d.get("owner"),
                    "owner_set": "owner" in d,
                    "due": d.get("due"),
                    "oid": d.get("oid"),
                    "run": source.get("run"),
                    "playbook": source.get("playbook"),
                    "step": source.get("step"),
                },
            )

    def _add_fact(self, buffer: _Buffer, e: StoredEvent) -> None:
        d = e.data
        contract = self._view.contracts.get(str(d.get("contract")))
        if contract is None and self.role not in STAFF:
            return
        subject = d.get("subject") or {}
        fields = d.get("fields") or {}
        valid = False
        obj = contract.object(str(d.get("object"))) if contract is not None else None
        if obj is not None and subject.get("kind") == obj.key:
            valid = not check_record(obj, {**fields, obj.key: subject.get("id")}).problems
        buffer.add(
            "fact_rows",
            {
                "position": e.position,
                "id": e.id,
                "domain": d.get("domain"),
                "contract": d.get("contract"),
                "version": d.get("version"),
                "object": d.get("object"),
                "subject_kind": subject.get("kind"),
                "subject": subject.get("id"),
                "fields": orjson.dumps(fields).decode(),
                "received_at": d.get("received_at") or e.time,
                "due_at": d.get("due_at"),
                "anchor": d.get("anchor"),
                "valid_now": valid,
            },
        )

    def tables(self) -> list[dict[str, Any]]:
        """The tables and views a query may read here, with their columns."""
        con = self.connection()
        cur = con.cursor()
        try:
            found = cur.execute(
                "SELECT database_name, schema_name, table_name, list(column_name ORDER BY column_index) "
                "FROM duckdb_columns() WHERE NOT internal "
                "AND table_name NOT IN ('order_ids', 'playbook_events', 'task_events') "
                "GROUP BY database_name, schema_name, table_name "
                "ORDER BY database_name <> 'memory', database_name, schema_name, table_name"
            ).fetchall()
        finally:
            cur.close()
        return [
            {"table": name if db == "memory" else f"{db}.{schema}.{name}", "columns": list(columns)}
            for db, schema, name, columns in found
        ]
