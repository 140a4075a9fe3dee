"""Reading a configuration YAML file, with errors that name the file and what it is."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from orderloom.core.errors import ConfigError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed file; ConfigError saying which `what` (e.g. "network file") could not be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc


def yaml_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """The YAML files `paths` name (a file as given, a folder's *.yaml then *.yml, sorted), and the missing paths.

    Every loader of user configuration (dictionary, monitors, connectors, contracts) takes files or folders
    the same way; each says in its own words what a missing path was supposed to be.
    """
    found: list[Path] = []
    missing: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")))
        elif p.exists():
            found.append(p)
        else:
            missing.append(p)
    return found, missing
