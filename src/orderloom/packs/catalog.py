"""The industry packs shipped in this package: each a folder with a `pack.yaml` manifest.

A manifest names what the pack brings, in the order it is installed:

```yaml
name: manufacturing
version: "1.0.0"
label: {zh: 制造业齐套, en: Manufacturing kitting}
description: ...
contents:
  dictionary: [dictionary.yaml]      # event types
  monitors: monitors.yaml            # optional: monitors, in the ORDERLOOM_MONITORS format
  signals: signals.yaml              # optional: signal types, in the routing registry's format
  policies: [policies/mfg_kitting.json, ...]   # decision tables and playbooks, saved and published in order
```
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from orderloom.core.errors import ConfigError, NotFound
from orderloom.policy.model import GoldenCase, PolicyVersion

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_MANIFEST_KEYS = {"name", "version", "label", "description", "contents"}
_CONTENT_KEYS = {"dictionary", "monitors", "signals", "policies"}


@dataclass(frozen=True, slots=True)
class Pack:
    """One pack as its manifest describes it."""

    name: str
    version: str
    label: dict[str, str]
    description: str
    folder: Path
    dictionary: tuple[str, ...]
    signals: str | None
    policies: tuple[str, ...]
    monitors: str | None = None

    def file(self, relative: str) -> Path:
        """A file of the pack."""
        return self.folder / relative

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the manifest names, in install order."""
        optional = tuple(f for f in (self.monitors, self.signals) if f)
        return (*self.dictionary, *optional, *self.policies)

    @property
    def digest(self) -> str:
        """SHA-256 over the manifest and every file it names, so a changed pack is a different install."""
        h = hashlib.sha256()
        for rel in ("pack.yaml", *self.files):
            h.update(rel.encode() + b"\x00" + self.file(rel).read_bytes() + b"\x00")
        return h.hexdigest()

    def policy_versions(self) -> list[PolicyVersion]:
        """The pack's policies and playbooks as unsaved versions, in install order."""
        out = []
        for rel in self.policies:
            raw: dict[str, Any] = json.loads(self.file(rel).read_text("utf-8"))
            out.append(
                PolicyVersion(
                    name=raw["name"],
                    version=1,
                    kind=raw["kind"],
                    document=raw["document"],
                    input_schema=raw["input_schema"],
                    tests=tuple(GoldenCase.from_dict(t) for t in raw.get("tests", [])),
                    note=raw.get("note", ""),
                    author=f"pack:{self.name}",
                )
            )
        return out

    def monitor_entries(self) -> dict[str, Any]:
        """The monitors the pack's monitors file defines or changes, by id."""
        if not self.monitors:
            return {}
        doc = yaml.safe_load(self.file(self.monitors).read_text("utf-8")) or {}
        entries = doc.get("monitors") if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            raise ConfigError(f"pack {self.name}: {self.monitors} must hold a `monitors:` mapping")
        return entries

    def signal_entries(self) -> list[dict[str, Any]]:
        """The pack's signal types, as registry entries."""
        if not self.signals:
            return []
        doc = yaml.safe_load(self.file(self.signals).read_text("utf-8")) or {}
        entries = doc.get("signals") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(f"pack {self.name}: {self.signals} must hold a `signals:` list")
        return entries


def packs_folder() -> Path:
    """Where the shipped packs live."""
    return Path(str(resources.files("orderloom.packs")))


def list_packs() -> list[Pack]:
    """Every shipped pack, by name."""
    return [_read(p.parent) for p in sorted(packs_folder().glob("*/pack.yaml"))]


def get_pack(name: str) -> Pack:
    """The shipped pack `name`; NotFound naming the packs there are."""
    folder = packs_folder() / name
    if not _NAME.match(name) or not (folder / "pack.yaml").is_file():
        known = ", ".join(p.name for p in list_packs())
        raise NotFound(f"there is no pack named {name!r}; the packs are: {known}")
    return _read(folder)


def _read(folder: Path) -> Pack:
    where = f"{folder.name}/pack.yaml"
    raw = yaml.safe_load((folder / "pack.yaml").read_text("utf-8"))
    if not isinstance(raw, dict) or set(raw) - _MANIFEST_KEYS or raw.get("name") != folder.name:
        raise ConfigError(f"{where}: a manifest has {sorted(_MANIFEST_KEYS)} and its name is its folder's")
    contents = raw.get("contents") or {}
    if not isinstance(contents, dict) or set(contents) - _CONTENT_KEYS:
        raise ConfigError(f"{where}: contents may list only {sorted(_CONTENT_KEYS)}")
    pack = Pack(
        name=raw["name"],
        version=str(raw["version"]),
        label=dict(raw["label"]),
        description=str(raw.get("description", "")).strip(),
        folder=folder,
        dictionary=tuple(contents.get("dictionary") or ()),
        signals=contents.get("signals"),
        policies=tuple(contents.get("policies") or ()),
        monitors=contents.get("monitors"),
    )
    missing = [rel for rel in pack.files if not pack.file(rel).is_file()]
    if missing:
        raise ConfigError(f"{where}: names files that are not in the pack: {', '.join(missing)}")
    return pack
