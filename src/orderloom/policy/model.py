"""A policy version: an immutable document with its input schema and golden tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["decision", "routing_profile", "playbook", "detector"]
KINDS: tuple[Kind, ...] = ("decision", "routing_profile", "playbook", "detector")


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces, so equal content hashes equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One stored test: this input must produce (at least) this output, or be refused."""

    name: str
    input: dict[str, Any]
    expect: dict[str, Any]
    expect_rejected: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GoldenCase:
        """A case from its stored JSON form."""
        return cls(
            name=str(raw["name"]),
            input=dict(raw.get("input", {})),
            expect=dict(raw.get("expect", {})),
            expect_rejected=bool(raw.get("expect_rejected", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        """The stored JSON form of the case."""
        out: dict[str, Any] = {"name": self.name, "input": self.input, "expect": self.expect}
        if self.expect_rejected:
            out["expect_rejected"] = True
        return out


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One saved version of a policy; never changed after it is saved."""

    name: str
    version: int
    kind: Kind
    document: dict[str, Any]
    input_schema: dict[str, Any]
    tests: tuple[GoldenCase, ...] = ()
    note: str = ""
    author: str = ""
    saved_at: datetime | None = None
    digest: str = field(default="")

    def __post_init__(self) -> None:
        # The digest covers the content only, so re-saving identical content is detectable.
        if not self.digest:
            object.__setattr__(self, "digest", content_digest(self.kind, self.document, self.input_schema, self.tests))

    @property
    def key(self) -> str:
        """The loader key of this version, `name@version`."""
        return f"{self.name}@{self.version}"

    def content(self) -> dict[str, Any]:
        """The parts of the version a diff or digest looks at."""
        return {
            "kind": self.kind,
            "document": self.document,
            "input_schema": self.input_schema,
            "tests": [t.as_dict() for t in self.tests],
        }


def content_digest(
    kind: str, document: dict[str, Any], input_schema: dict[str, Any], tests: tuple[GoldenCase, ...]
) -> str:
    """SHA-256 of the canonical JSON of a version's content."""
    body = {"kind": kind, "document": document, "input_schema": input_schema, "tests": [t.as_dict() for t in tests]}
    return hashlib.sha256(canonical_json(body)).hexdigest()
