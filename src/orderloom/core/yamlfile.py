"""Reading a configuration YAML file, with errors that name the file and what it is."""

from __future__ import annotations

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
