"""The connectors a deployment knows: the shipped mappings plus the user's own files.

Secrets are never in a mapping file: each names an environment variable,
read when a message arrives, so a rotated secret needs no restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orderloom.connectors.spec import MappingError, MappingSpec, load_spec
from orderloom.core.errors import NotFound, OrderloomError
from orderloom.core.yamlfile import yaml_files

MAPPINGS_DIR = Path(__file__).parent / "mappings"
ENV_PATHS = "ORDERLOOM_CONNECTORS"


class NotConfigured(OrderloomError):
    """A connector cannot be used yet because the server lacks its secret."""


def shipped_files() -> list[Path]:
    """The mapping files inside the package."""
    return sorted(MAPPINGS_DIR.glob("*.yaml"))


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    found, missing = yaml_files(paths)
    if missing:
        raise MappingError([f"{missing[0]}: mapping file not found (named in {ENV_PATHS})"])
    return found


@dataclass(frozen=True)
class Connectors:
    """Mapping specs by connector id, and where their secrets come from."""

    specs: Mapping[str, MappingSpec]
    env: Mapping[str, str]

    @classmethod
    def load(cls, extra: Iterable[str | Path] = (), env: Mapping[str, str] | None = None) -> Connectors:
        """The shipped mappings, then the user's (a user file may replace a shipped connector, not another user's)."""
        environ = os.environ if env is None else env
        specs: dict[str, MappingSpec] = {}
        problems: list[str] = []
        for path in shipped_files():
            spec = load_spec(path)
            specs[spec.connector] = spec
        user: dict[str, str] = {}
        for path in _expand(extra):
            try:
                spec = load_spec(path)
            except MappingError as exc:
                problems.extend(exc.problems)
                continue
            if spec.connector in user:
                problems.append(f"{path}: connector {spec.connector!r} is already defined in {user[spec.connector]}")
                continue
            user[spec.connector] = str(path)
            specs[spec.connector] = spec
        if problems:
            raise MappingError(problems)
        return cls(specs, environ)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Connectors:
        """Shipped mappings plus the files or folders listed in ORDERLOOM_CONNECTORS."""
        environ = os.environ if env is None else env
        extra = [p for p in (environ.get(ENV_PATHS) or "").split(os.pathsep) if p]
        return cls.load(extra, environ)

    def get(self, connector: str) -> MappingSpec:
        """The connector's mapping, or NotFound listing the known ones."""
        spec = self.specs.get(connector)
        if spec is None:
            known = ", ".join(sorted(self.specs)) or "none"
            raise NotFound(f"no connector {connector!r} is configured; known connectors: {known}")
        return spec

    def secret(self, spec: MappingSpec) -> bytes:
        """The connector's signing secret, or NotConfigured naming the variable to set."""
        if spec.secret_env is None:
            raise NotConfigured(
                f"connector {spec.connector} has no secret_env in {spec.origin}, so it cannot receive webhooks"
            )
        value = self.env.get(spec.secret_env, "")
        if len(value) < 16:
            raise NotConfigured(
                f"connector {spec.connector} is not ready: set {spec.secret_env} on the server "
                "to the shared signing secret (at least 16 characters)"
            )
        return value.encode()
