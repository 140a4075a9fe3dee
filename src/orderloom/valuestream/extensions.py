"""DuckDB's sqlite and postgres scanners, offline: taken from their PyPI packages, never downloaded.

DuckDB fetches extensions from its own server at run time by default, which a
machine without internet cannot do. The packages `duckdb-extension-sqlite` and
`duckdb-extension-postgres` carry the same signed binaries; DuckDB finds an
extension by name only in `<extension_directory>/v<version>/<platform>/<name>.duckdb_extension`
(and the file must be named after the extension's real name, `sqlite_scanner`,
for its entry point to be found), so the files are linked (or copied) there
once, into a directory beside the virtual environment.
"""

from __future__ import annotations

import os
import shutil
import sys
from importlib import resources
from pathlib import Path

import duckdb

from orderloom.core.errors import ConfigError

# Our name for a source kind -> (the PyPI package's module, the file inside it, the extension's real name).
PACKAGES = {
    "sqlite": ("duckdb_extension_sqlite", "sqlite.duckdb_extension", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres.duckdb_extension", "postgres_scanner"),
}
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def default_directory() -> Path:
    """Beside the virtual environment when it is writable, else the user's cache folder."""
    venv = Path(sys.prefix) / "var" / "orderloom" / "duckdb_extensions"
    if os.access(sys.prefix, os.W_OK):
        return venv
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "orderloom" / "duckdb_extensions"


def _platform() -> str:
    with duckdb.connect(":memory:", config=dict(OFFLINE)) as con:
        row = con.execute("PRAGMA platform").fetchone()
    return str(row[0]) if row else "linux_amd64"


def _place(packaged: Path, target: Path) -> None:
    """A link to the packaged file (they are tens of MB), or a copy where links are not possible.

    Made under a temporary name and renamed, so a process starting at the same moment never loads half a file.
    """
    temp = target.with_name(f".{target.name}.{os.getpid()}.part")
    temp.unlink(missing_ok=True)
    try:
        temp.symlink_to(packaged)
    except OSError:
        shutil.copyfile(packaged, temp)
    os.replace(temp, target)


def prepare(kinds: set[str], directory: Path | None = None) -> Path:
    """The extension directory holding the scanners for `kinds` (copied from their packages if missing)."""
    root = directory or default_directory()
    folder = root / f"v{duckdb.__version__}" / _platform()
    for kind in sorted(kinds & set(PACKAGES)):
        module, filename, name = PACKAGES[kind]
        try:
            packaged = Path(str(resources.files(module).joinpath("extensions", f"v{duckdb.__version__}", filename)))
        except ModuleNotFoundError:
            packaged = Path("/nonexistent")
        if not packaged.is_file():
            raise ConfigError(
                f"the DuckDB {kind} scanner for DuckDB {duckdb.__version__} is not installed; "
                f"install the package {module.replace('_', '-')}=={duckdb.__version__}"
            )
        target = folder / f"{name}.duckdb_extension"
        if target.is_file() and target.stat().st_size == packaged.stat().st_size:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _place(packaged, target)
        except OSError as exc:
            raise ConfigError(f"cannot prepare the DuckDB extension directory {folder}: {exc.strerror}") from None
    return root
