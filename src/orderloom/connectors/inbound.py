"""Inbound webhooks: check the signature, spend the nonce, map the payload, record the result.

The nonce is spent by appending `inbound.received` with an id made from it:
the store refuses a second event with that id, in every process and after
every restart, so replay protection needs no cache of its own. The nonce is
spent before the payload is recorded, so a replay can never record twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from orderloom.connectors import signing
from orderloom.connectors.registry import Connectors
from orderloom.connectors.sinks import Sinks
from orderloom.connectors.spec import MappingSpec, Rule
from orderloom.connectors.transform import apply_spec
from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, Unauthorized, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.status.intake import ItemResult

MAX_PROBLEMS = 20


def stream_of(connector: str) -> str:
    """The system stream holding a connector's received messages."""
    return f"sys.inbound.{connector}"


@dataclass(frozen=True, slots=True)
class Received:
    """What became of one inbound message."""

    connector: str
    kind: str
    results: list[ItemResult]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in ("accepted", "duplicate", "rejected")}


def receive(connectors: Connectors, sinks: Sinks, connector: str, headers: Mapping[str, str], body: bytes) -> Received:
    """Verify, map and record one message; Unauthorized, NotFound, NotConfigured or ValidationFailed otherwise."""
    spec = connectors.get(connector)
    secret = connectors.secret(spec)
    intake = sinks.intake
    signed_at, nonce = signing.check(secret, headers, body, now=intake.clock.now())
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        payload = None
        error: Problem | None = Problem("(body)", "json", f"the body is not valid JSON: {exc}")
    else:
        error = None
    _spend_nonce(sinks, spec, nonce, signed_at, body)
    actor = f"connector:{spec.connector}"
    try:
        if error is not None:
            raise ValidationFailed([error])
        docs = apply_spec(spec, payload, resolve=sinks.resolve)
        results = sinks.record(spec.kind, docs, actor=actor)
    except ValidationFailed as exc:
        problems = explain(spec, exc.problems)
        _note_rejected(sinks, spec, nonce, problems)
        raise ValidationFailed(problems) from None
    results = [_explained(spec, r) for r in results]
    rejected = [p for r in results for p in r.problems]
    if rejected:
        _note_rejected(sinks, spec, nonce, rejected)
    return Received(spec.connector, spec.kind, results)


def _spend_nonce(sinks: Sinks, spec: MappingSpec, nonce: str, signed_at: int, body: bytes) -> None:
    intake = sinks.intake
    raw = {
        "id": f"inbound-{spec.connector}-{nonce}",
        "type": "inbound.received",
        "source": "orderloom/inbound",
        "oid": stream_of(spec.connector),
        "time": format_time(intake.clock.now()),
        "actor": f"connector:{spec.connector}",
        "data": {
            "connector": spec.connector,
            "nonce": nonce,
            "signed_at": signed_at,
            "digest": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "kind": spec.kind,
        },
    }
    result = intake.record([raw], allow_internal=True)[0]
    if result.status != "accepted":
        raise Unauthorized(
            f"this message was already received: nonce {nonce} has been used before for {spec.connector}; "
            "send every message (and every retry) with a new nonce"
        )


def _note_rejected(sinks: Sinks, spec: MappingSpec, nonce: str, problems: list[Problem]) -> None:
    intake = sinks.intake
    shown = [{"field": p.field[:200], "rule": p.rule[:64], "message": p.message[:500]} for p in problems[:MAX_PROBLEMS]]
    intake.record(
        [
            {
                "id": f"inbound-rejected-{ulid()}",
                "type": "inbound.rejected",
                "source": "orderloom/inbound",
                "oid": stream_of(spec.connector),
                "time": format_time(intake.clock.now()),
                "actor": f"connector:{spec.connector}",
                "data": {"connector": spec.connector, "nonce": nonce, "problems": shown},
            }
        ],
        allow_internal=True,
    )


def explain(spec: MappingSpec, problems: list[Problem]) -> list[Problem]:
    """Problems on mapped fields, each saying which of the sender's fields the value came from."""
    sources = _sources(spec.fields, "")
    out = []
    for p in problems:
        origin = _origin(p.field, sources)
        if origin is None or "from" in p.message or "payload has no" in p.message:
            out.append(p)
        else:
            out.append(Problem(p.field, p.rule, f"{p.message} (mapped from the payload's {origin})"))
    return out


def _explained(spec: MappingSpec, r: ItemResult) -> ItemResult:
    if r.problems:
        r.problems = explain(spec, r.problems)
    return r


def _sources(rules: tuple[Rule, ...], prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in rules:
        out[prefix + rule.target.text] = rule.source()
        if rule.fields:
            out.update(_sources(rule.fields, prefix + rule.target.text + "[]."))
    return out


def _origin(field: str, sources: dict[str, str]) -> str | None:
    plain = _plain(field)
    best = None
    for target, source in sources.items():
        t = _plain(target)
        if (plain == t or plain.startswith(t + ".")) and (best is None or len(t) > len(best[0])):
            best = (t, source)
    return best[1] if best else None


def _plain(field: str) -> str:
    """`lines[2].qty`, `lines.2.qty` and `lines[].qty` all read as `lines.qty`."""
    parts = field.replace("[]", "").replace("[", ".").replace("]", "").split(".")
    return ".".join(p for p in parts if p and not p.isdigit())


def as_dict(received: Received) -> dict[str, Any]:
    """The JSON answer to the sender."""
    return {
        "connector": received.connector,
        "kind": received.kind,
        **received.counts(),
        "results": [r.as_dict() for r in received.results],
    }
