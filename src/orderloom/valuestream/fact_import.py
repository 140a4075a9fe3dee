"""Importing domain facts from a file (CSV with a header, or JSON lines), with a report per row.

CSV cells are text; each is turned into the type the contract gives its column
(whole numbers, numbers, true/false, lists as JSON or `a;b;c`), and an empty
cell means the field is absent. A cell that does not convert is passed on as
text, so the contract check names the field and the rule like for any record.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from orderloom.core.errors import RowError
from orderloom.valuestream.contract import ContractObject, FieldSpec
from orderloom.valuestream.facts import FactDesk

FORMATS = ("csv", "jsonl")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass
class ImportReport:
    """What an import stored and refused."""

    file: str
    domain: str
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "domain": self.domain,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
        }


def detect_format(path: Path, fmt: str | None) -> str:
    """The file's format: as given, or from its extension."""
    if fmt:
        return fmt
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def read_records(path: Path, fmt: str, obj: ContractObject) -> Iterator[tuple[int, Any, str | None]]:
    """(row number, record or None, why the row could not be read) for each row of the file."""
    if fmt == "jsonl":
        with path.open("rb") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield n, orjson.loads(line), None
                except orjson.JSONDecodeError as exc:
                    yield n, None, f"not valid JSON: {exc}"
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=1):
            if None in row:
                yield n, None, "the row has more cells than the header has columns"
                continue
            yield n, coerce_row(obj, row), None


def coerce_row(obj: ContractObject, row: dict[str, str]) -> dict[str, Any]:
    """A CSV row's cells as the contract's types (cells that do not convert stay text)."""
    out: dict[str, Any] = {}
    for name, text in row.items():
        if text is None or text.strip() == "":
            continue
        spec = obj.field(name)
        out[name] = _convert(spec, text.strip()) if spec is not None else text
    return out


def _convert(spec: FieldSpec, text: str) -> Any:
    kind = spec.logical_type
    converters: dict[str, Callable[[str], Any]] = {
        "integer": int,
        "number": float,
        "boolean": _boolean,
        "array": lambda t: _array(spec, t),
        "object": orjson.loads,
    }
    convert = converters.get(kind)
    if convert is None:
        return text
    try:
        return convert(text)
    except (ValueError, orjson.JSONDecodeError):
        return text


def _boolean(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(text)


def _array(spec: FieldSpec, text: str) -> list[Any]:
    if text.startswith("["):
        value = orjson.loads(text)
        if not isinstance(value, list):
            raise ValueError(text)
        return value
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return [_convert(spec.items, p) for p in parts] if spec.items is not None else parts


def import_facts(
    desk: FactDesk,
    domain: str,
    path: Path,
    *,
    fmt: str | None = None,
    batch: int = 500,
    atomic: bool = False,
    actor: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check and record every row; with `atomic` the whole file is stored only if every row is valid."""
    contract = desk.contract(domain)
    obj = contract.objects[0]
    kind = detect_format(path, fmt)
    report = ImportReport(str(path), domain)
    pending: list[tuple[int, Any]] = []

    def flush() -> None:
        if not pending:
            return
        results = desk.record(domain, [r for _, r in pending], actor=actor, source=f"import/{path.name}", atomic=atomic)
        for (row, _), result in zip(pending, results, strict=True):
            if result.status == "rejected":
                report.rejected += 1
                report.errors.extend(RowError(row, p.field, p.rule, p.message) for p in result.problems)
            elif result.status == "duplicate":
                report.duplicate += 1
            else:
                report.accepted += 1
        if progress is not None:
            progress(len(pending))
        pending.clear()

    unreadable: list[RowError] = []
    for row, record, problem in read_records(path, kind, obj):
        report.rows += 1
        if problem is not None:
            unreadable.append(RowError(row, "(row)", "format", problem))
            continue
        pending.append((row, record))
        if not atomic and len(pending) >= batch:
            flush()
    if atomic and unreadable:
        # One unreadable row keeps the whole file out, like a refused one would.
        pending_rows = [r for r, _ in pending]
        report.errors.extend(
            RowError(r, "(file)", "all_or_nothing", "not stored: another row of the file was refused")
            for r in pending_rows
        )
        report.rejected += len(pending_rows)
        pending.clear()
    flush()
    report.rejected += len(unreadable)
    report.errors = sorted([*report.errors, *unreadable], key=lambda e: e.row)
    return report
