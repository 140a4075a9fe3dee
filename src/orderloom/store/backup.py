"""Online backup of the embedded SQLite log, and a check that a backup is whole.

The SQLite file holds the log, the views, the API keys and the customers' keys,
so one consistent copy of it is a complete backup. SQLite's backup API copies a
snapshot inside one read transaction; in WAL mode that does not block the
server's writer, so backups need no downtime. It is copied in one step on
purpose: a step-wise copy restarts whenever another connection writes, and on
a busy server it would never finish.

On PostgreSQL the database's own tools do this better (pg_dump of the schema,
or pg_basebackup with WAL archiving for point-in-time recovery); see
docs/operations.md. `check_backup` then verifies any restored copy.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import OrderloomError
from orderloom.status.verify import Verdict, verify_log


class BackupError(OrderloomError):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupCheck:
    """What a backup holds and whether every chain in it verifies."""

    events: int
    orders: int
    last_position: int
    gaps: int
    broken: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.gaps == 0 and not self.broken

    def as_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "orders": self.orders,
            "last_position": self.last_position,
            "gaps": self.gaps,
            "broken": [v.as_dict() for v in self.broken],
            "ok": self.ok,
        }


def backup_sqlite(source: str, dest: str) -> int:
    """Copy the SQLite file at `source` to `dest` (which must not exist); return the bytes written.

    The copy is written next to `dest` and renamed into place only when it is
    complete and on disk, so a crash never leaves a half-written backup under
    the final name.
    """
    if not os.path.exists(source):
        raise BackupError(f"there is no Orderloom database at {source}: check ORDERLOOM_DB_URL")
    if os.path.exists(dest):
        raise BackupError(f"{dest} already exists: choose a new file name, a backup never overwrites")
    partial = dest + ".partial"
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=-1)
            finally:
                dst.close()
        finally:
            src.close()
        _fsync(partial)
        os.replace(partial, dest)
        _fsync(os.path.dirname(os.path.abspath(dest)))
    except sqlite3.Error as exc:
        _remove(partial)
        raise BackupError(f"the backup of {source} failed: {exc}") from exc
    except OSError as exc:
        _remove(partial)
        raise BackupError(f"cannot write the backup {dest}: {exc.strerror or exc}") from exc
    return os.path.getsize(dest)


def restore_sqlite(backup: str, target: str) -> BackupCheck:
    """Check `backup` and put a copy at `target`, which must not exist (move the old file away first).

    Refusing to overwrite is deliberate: a live server's file cannot be
    replaced safely under it, and a restore must never destroy the only copy.
    """
    if os.path.exists(target) or os.path.exists(target + "-wal"):
        raise BackupError(
            f"{target} already exists: stop the server, move the old database"
            " (and its -wal/-shm files) away, then restore"
        )
    check = check_backup(backup)
    if not check.ok:
        problems = f"{check.gaps} gaps, {len(check.broken)} broken chains"
        raise BackupError(f"{backup} does not verify ({problems}); nothing was restored")
    backup_sqlite(backup, target)
    return check


def check_backup(path: str) -> BackupCheck:
    """Read every event of the backup at `path`: positions without gaps and every order's chain intact."""
    if not os.path.exists(path):
        raise BackupError(f"there is no backup at {path}")
    from orderloom.store.follow import iter_log
    from orderloom.store.sqlite import SQLiteEventStore

    store = SQLiteEventStore(path)
    try:
        counted = _Counted()
        verdicts = list(verify_log(counted.follow(iter_log(store))))
    finally:
        store.close()
    broken = [v for v in verdicts if not v.ok]
    return BackupCheck(counted.events, len(verdicts), counted.last, counted.gaps, broken)


class _Counted:
    """Counts events and position gaps while the verifier reads the log once."""

    def __init__(self) -> None:
        self.events = self.last = self.gaps = 0

    def follow(self, events: Iterable[StoredEvent]) -> Iterator[StoredEvent]:
        for e in events:
            if e.position != self.last + 1:
                self.gaps += 1
            self.events += 1
            self.last = e.position
            yield e


def _fsync(path: str) -> None:
    # For a directory: the rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
