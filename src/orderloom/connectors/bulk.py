"""Bulk import of CSV and Parquet files: rows become orders, events or signals, a batch at a time.

Each batch commits in one store transaction or not at all: a batch with any
invalid row stores nothing, and the report names every invalid row with its
field and rule, so the file can be fixed and imported again (rows already
stored come back as duplicates, never twice).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderloom.connectors.columns import Typer, build_doc, parse_columns
from orderloom.connectors.sinks import Sinks
from orderloom.connectors.spec import MappingSpec
from orderloom.connectors.transform import apply_spec
from orderloom.core.envelope import format_time
from orderloom.core.errors import ConfigError, Problem, RowError, ValidationFailed
from orderloom.core.ids import is_valid_oid, new_oid, ulid
from orderloom.routing.signals import validate_signal
from orderloom.status.directory import PLACED
from orderloom.status.intake import ref_key

KINDS = {"orders": "order", "events": "event", "signals": "signal"}
FORMATS = ("csv", "parquet")
STREAM = "sys.imports"
_ENVELOPE = {"oid", "time", "actor", "deviceid", "source"}
_BATCH_PROBLEM = "all_or_nothing"


@dataclass
class Report:
    """What an import did."""

    file: str
    kind: str
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    not_stored: int = 0  # valid rows of batches that held an invalid row
    batches: int = 0
    failed_batches: int = 0
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The closing JSON line: counts and speed."""
        return {
            "file": self.file,
            "kind": self.kind,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "not_stored": self.not_stored,
            "batches": self.batches,
            "failed_batches": self.failed_batches,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds > 0 else None,
        }


# -- reading files ---------------------------------------------------------------


def detect_format(path: Path, fmt: str | None = None) -> str:
    """csv or parquet, from `fmt` or the file name."""
    chosen = fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if chosen not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {chosen!r}")
    return chosen


def count_rows(path: Path, fmt: str) -> int:
    """How many data rows the file holds (for the progress bar)."""
    if fmt == "parquet":
        import duckdb

        with duckdb.connect() as con:
            row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
        return int(row[0]) if row else 0
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return max(0, sum(1 for _ in csv.reader(fh)) - 1)


def read_rows(path: Path, fmt: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """(column names, rows numbered like a spreadsheet: CSV header = row 1, Parquet rows from 1)."""
    if fmt == "parquet":
        return _parquet(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        names = [n for n in next(csv.reader(fh), []) if n]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        # The file is opened only once reading starts, so an import refused before its first row leaks nothing.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield n, {k: v for k, v in row.items() if k is not None}

    return names, rows()


def _parquet(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    import duckdb

    con = duckdb.connect()
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        cur = con.execute(f"SELECT {_select_list(described)} FROM read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        con.close()
        raise ConfigError(f"{path} cannot be read as Parquet: {exc}") from None
    names = [d[0] for d in cur.description or []]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        n = 0
        try:
            while chunk := cur.fetchmany(2000):
                for values in chunk:
                    n += 1
                    yield n, dict(zip(names, values, strict=True))
        finally:
            con.close()

    return names, rows()


def _select_list(described: list[tuple[Any, ...]]) -> str:
    """Columns as they are, except times: rendered as RFC 3339 UTC text in SQL (naive ones taken as UTC),
    because handing time-zone-aware values to Python would need pytz, which Orderloom does not depend on."""
    out = []
    for name, declared, *_ in described:
        q = '"' + str(name).replace('"', '""') + '"'
        kind = str(declared).upper()
        if kind.startswith("TIMESTAMP WITH TIME ZONE"):
            out.append(f"strftime(timezone('UTC', {q}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {q}")
        elif kind.startswith("TIMESTAMP"):
            out.append(f"strftime({q}, '%Y-%m-%dT%H:%M:%S.%fZ') AS {q}")
        else:
            out.append(q)
    return ", ".join(out) or "*"


def file_digest(path: Path) -> str:
    """SHA-256 of the file, recorded with the import."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# -- importing ---------------------------------------------------------------------


@dataclass
class Importer:
    """Imports rows of one kind through the intake paths, batch by batch."""

    sinks: Sinks
    kind: str  # orders | events | signals
    actor: str = "cli"
    batch: int = 500
    spec: MappingSpec | None = None
    source: str = "orderloom/import"  # the events' source when the file does not name one

    def run(
        self,
        names: list[str],
        rows: Iterator[tuple[int, dict[str, Any]]],
        report: Report,
        progress: Callable[[int], None] | None = None,
    ) -> Report:
        """Import every row; `progress` is told how many rows each finished batch held."""
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}")
        if self.spec is not None and self.spec.kind != KINDS[self.kind]:
            raise ConfigError(f"mapping {self.spec.origin} makes {self.spec.kind}s, not {self.kind}")
        columns, bad_columns = parse_columns(names) if self.spec is None else ({}, [])
        if bad_columns:
            raise ValidationFailed(bad_columns)
        typer = Typer(self.kind, self.sinks.intake.dictionary, self.sinks.registry)
        started = time.perf_counter()
        chunk: list[tuple[int, dict[str, Any]]] = []
        for n, row in rows:
            report.rows += 1
            chunk.append((n, row))
            if len(chunk) >= self.batch:
                self._batch(chunk, columns, typer, report)
                if progress:
                    progress(len(chunk))
                chunk = []
        if chunk:
            self._batch(chunk, columns, typer, report)
            if progress:
                progress(len(chunk))
        report.seconds = time.perf_counter() - started
        return report

    def _batch(
        self, chunk: list[tuple[int, dict[str, Any]]], columns: dict[str, Any], typer: Typer, report: Report
    ) -> None:
        report.batches += 1
        docs: list[tuple[int, dict[str, Any]]] = []
        errors: list[RowError] = []
        for n, row in chunk:
            try:
                if self.spec is not None:
                    for doc in apply_spec(self.spec, row, resolve=self.sinks.resolve):
                        docs.append((n, doc))
                else:
                    doc = build_doc(row, columns, typer)
                    if self.kind == "events":
                        doc.setdefault("source", self.source)
                    docs.append((n, doc))
            except ValidationFailed as exc:
                errors.extend(RowError(n, p.field, p.rule, p.message) for p in exc.problems)
        if not errors:
            errors = self._commit(docs, report)
        if errors:
            bad_rows = {e.row for e in errors}
            report.failed_batches += 1
            report.rejected += len(bad_rows)
            report.not_stored += len(chunk) - len(bad_rows)
            report.errors.extend(errors)

    def _commit(self, docs: list[tuple[int, dict[str, Any]]], report: Report) -> list[RowError]:
        if self.kind == "orders":
            return self._orders(docs, report)
        if self.kind == "signals":
            return self._signals(docs, report)
        results = self.sinks.intake.record([d for _, d in docs], atomic=True)
        return self._tally(docs, results, report)

    def _tally(self, docs: Sequence[tuple[int, Any]], results: Sequence[Any], report: Report) -> list[RowError]:
        errors = [
            RowError(n, p.field, p.rule, p.message)
            for (n, _), r in zip(docs, results, strict=True)
            for p in r.problems
            if p.rule != _BATCH_PROBLEM
        ]
        if errors:
            return errors
        report.accepted += sum(1 for r in results if r.status == "accepted")
        report.duplicate += sum(1 for r in results if r.status == "duplicate")
        return []

    def _orders(self, docs: list[tuple[int, dict[str, Any]]], report: Report) -> list[RowError]:
        intake = self.sinks.intake
        now = format_time(intake.clock.now())
        raws: list[tuple[int, dict[str, Any]]] = []
        claims: dict[str, str] = {}
        errors: list[RowError] = []
        existing = 0
        for n, body in docs:
            keys = [
                ref_key(str(r["system"]), str(r["number"]))
                for r in body.get("source_refs") or []
                if isinstance(r, dict) and isinstance(r.get("system"), str) and isinstance(r.get("number"), str)
            ]
            oid = body.get("oid")
            # Idempotent like POST /v1/orders: an order already known by its id or a source number is a duplicate.
            if (isinstance(oid, str) and intake.directory.find(oid) is not None) or any(
                intake.store.resolve(k) for k in keys
            ):
                existing += 1
                continue
            oid = oid or new_oid()
            if not isinstance(oid, str) or not is_valid_oid(oid):
                errors.append(RowError(n, "oid", "format", "oid must be 3-64 letters, digits or . _ : -"))
                continue
            claims.update({k: oid for k in keys})
            raw = {
                "id": f"placed-{oid}",
                "type": PLACED,
                "source": body.get("source") or f"import/{self.actor}",
                "oid": oid,
                "time": body.get("time") or now,
                "actor": body.get("actor") or self.actor,
                "data": {k: v for k, v in body.items() if k not in _ENVELOPE},
            }
            if body.get("deviceid"):
                raw["deviceid"] = body["deviceid"]
            raws.append((n, raw))
        if errors:
            return errors
        results = intake.record([r for _, r in raws], atomic=True, claims=claims) if raws else []
        found = self._tally(raws, results, report)
        if not found:
            report.duplicate += existing
        return found

    def _signals(self, docs: list[tuple[int, dict[str, Any]]], report: Report) -> list[RowError]:
        sinks = self.sinks
        if sinks.registry is None or sinks.network is None:
            raise ConfigError("importing signals needs the signal registry and the network")
        now = sinks.intake.clock.now()
        errors: list[RowError] = []
        for n, doc in docs:
            try:
                validate_signal(doc, sinks.registry, now, network=sinks.network)
            except ValidationFailed as exc:
                errors.extend(RowError(n, p.field, p.rule, p.message) for p in exc.problems)
        if errors:
            return errors
        results = sinks.record("signal", [d for _, d in docs], actor=self.actor)
        return self._tally(docs, results, report)


def record_import(sinks: Sinks, report: Report, digest: str, *, actor: str) -> None:
    """Audit the import as `import.completed` in the system stream."""
    sinks.intake.record(
        [
            {
                "id": f"import-{ulid()}",
                "type": "import.completed",
                "source": "orderloom/import",
                "oid": STREAM,
                "time": format_time(sinks.intake.clock.now()),
                "actor": actor,
                "data": {
                    "file": report.file[-500:],
                    "kind": report.kind,
                    "rows": report.rows,
                    "accepted": report.accepted,
                    "duplicate": report.duplicate,
                    "rejected": report.rejected,
                    "digest": digest,
                    "seconds": round(report.seconds, 3),
                },
            }
        ],
        allow_internal=True,
    )


def problems_of(errors: list[RowError]) -> list[Problem]:
    """Row errors as problems (for an API answer)."""
    return [Problem(f"row {e.row}: {e.field}", e.rule, e.message) for e in errors]
