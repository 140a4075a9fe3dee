"""Value-stream detectors: published `detector` policies evaluated over the woven log; a firing is an event.

`run_detectors` reads the log once, weaves each order with its departments'
facts, evaluates every published detector and, when one fires, appends
`detector.fired` on the stream `det.<name>` with the evidence and the most
likely causes. The event id is the detector and its schedule period, so a
detector fires at most once per period however often it is run; playbooks
start on `detector.fired`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import orjson

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.policy.log import PolicyLog
from orderloom.policy.model import PolicyVersion
from orderloom.store import iter_log
from orderloom.valuestream.detectors_document import METRIC_WORDS, Detector, matches, parse_detector
from orderloom.valuestream.detectors_eval import Evaluation, evaluate, had_event, members
from orderloom.valuestream.detectors_table import OrderRecord, Woven, weave
from orderloom.valuestream.evidence import packages
from orderloom.valuestream.rootcause import Settings, Unit
from orderloom.valuestream.rootcause_report import Wording, report

FIRED = "detector.fired"
KIND = "detector"
STREAM = "det."
ACTOR = "system:detectors"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def stream_of(name: str) -> str:
    """The stream a detector's firings go on."""
    return STREAM + name


def period_start(d: Detector, now: datetime) -> datetime:
    """The start of the schedule period `now` falls in (periods are counted from 2000-01-01 UTC)."""
    periods = (now - _EPOCH) // d.every
    return _EPOCH + periods * d.every


def cohort_key(d: Detector) -> str:
    """8 hex digits naming what a firing is about: the cohort, its comparison, the metric and the window length."""
    what = [d.cohort, d.against, d.exclude_cohort, d.metric, d.within_days, d.window_days]
    return hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]


def fired_id(name: str, start: datetime, d: Detector) -> str:
    """The id of the detector's firing for its cohort in the period starting at `start`: one per cohort and window.

    A new version that keeps the cohort does not fire again in the same period; one that watches another cohort does.
    """
    return f"detfired-{name}-{start.strftime('%Y%m%dT%H%M')}-{cohort_key(d)}"


def published(svc: Services, woven: Woven) -> list[PolicyVersion]:
    """The serving version of every detector policy the log holds."""
    log = PolicyLog(svc.intake)
    out = []
    for name, kind in sorted(woven.policies.items()):
        if kind != KIND:
            continue
        state = log.state(name)
        if state.stable is not None:
            out.append(state.versions[state.stable])
    return out


def run_detectors(
    svc: Services, now: datetime | None = None, *, only: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Evaluate every published detector (or `only` those) at `now`; append `detector.fired` for each that fires.

    A detector fires at most once per cohort and schedule period (see `fired_id`).
    """
    now = now or svc.clock.now()
    woven = weave(iter_log(svc.store))
    results = []
    for version in published(svc, woven):
        if only is not None and version.name not in only:
            continue
        d = parse_detector(version.document, version.input_schema)
        verdict = evaluate(woven, d, now)
        row: dict[str, Any] = {"detector": version.name, "version": version.version, **verdict.as_dict()}
        if verdict.fires:
            eid = fired_id(version.name, period_start(d, now), d)
            if svc.store.get(eid) is not None:
                row["event_id"], row["status"] = eid, "already_fired"
            else:
                cause = _cause(woven, d, now, version)
                evidence = packages(woven, d, now, members(woven, d, now)[0], cause)
                row["event_id"] = eid
                row["status"] = _fire(
                    svc, version, d, verdict=verdict, cause=cause, evidence=evidence, eid=eid, now=now
                )
        results.append(row)
    return results


def _fire(
    svc: Services,
    version: PolicyVersion,
    d: Detector,
    *,
    verdict: Evaluation,
    cause: dict[str, Any],
    evidence: dict[str, Any],
    eid: str,
    now: datetime,
) -> str:
    data: dict[str, Any] = {
        "detector": version.name,
        "version": version.version,
        "label": d.label,
        "period": format_time(period_start(d, now)),
        **verdict.as_dict(),
        "metric": {"kind": d.metric, "within_days": d.within_days},
        "threshold": d.ratio_above,
        "filters": {"cohort": d.cohort, "against": d.against or "all"},
        "summary": cause["sentences"][:4],
        "causes": [
            {k: s[k] for k in ("text", "size", "events", "rate", "lift", "q_value")} for s in cause["subgroups"][:3]
        ],
        # Each department's package, as the data stood when the detector fired (playbooks hand them on).
        "evidence": evidence,
    }
    data.pop("fires", None)
    data.pop("why_not", None)
    raw = {
        "id": eid,
        "type": FIRED,
        "source": "orderloom/detectors",
        "oid": stream_of(version.name),
        "time": format_time(now),
        "actor": ACTOR,
        "data": data,
    }
    result = svc.intake.record([raw], allow_internal=True)[0]
    if result.status == "rejected":
        if svc.store.get(eid) is not None:
            return "already_fired"  # another runner fired this period first (its figures were a moment older)
        raise ValidationFailed(result.problems)
    return "fired" if result.status == "accepted" else "already_fired"


def _units(orders: list[OrderRecord], woven: Woven, d: Detector, now: datetime) -> list[Unit]:
    out = []
    for o in orders:
        hit = had_event(o, d, now)
        minutes = o.return_minutes if d.metric == "return_rate" else _minutes(o, o.complained_at)
        reason = o.return_reason if d.metric == "return_rate" else None
        # Only what was known at delivery can have caused what happened after it.
        known = woven.attributes(o, at=o.delivered_at)
        out.append(Unit(o.oid, known, hit, minutes if hit else None, reason if hit else None))
    return out


def _minutes(o: OrderRecord, at: datetime | None) -> float | None:
    if at is None or o.delivered_at is None:
        return None
    return (at - o.delivered_at).total_seconds() / 60


def _cause(woven: Woven, d: Detector, now: datetime, version: PolicyVersion) -> dict[str, Any]:
    cohort, comparison = members(woven, d, now)
    units = _units(cohort, woven, d, now)
    elsewhere = [u for u in _units(comparison, woven, d, now) if not matches(u.attributes, d.cohort)]
    skip = set(d.cohort) | set(d.root_cause.get("exclude", []))
    names = sorted({k for u in units for k in u.attributes} - skip)
    learned = {k for o in cohort for k in woven.attributes(o)}
    later = sorted(learned - set(names) - skip)
    settings = Settings(max_conditions=int(d.root_cause.get("max_conditions", 3)))
    verb, noun = METRIC_WORDS[d.metric]
    label = d.label.get("en") or version.name
    compared = "all orders" if d.against is None else " and ".join(f"{k} = {v}" for k, v in d.against.items())
    wording = Wording(label, compared, verb, noun)
    return report(units, names, wording, settings=settings, elsewhere=elsewhere, later=later)


def root_cause(svc: Services, name: str, now: datetime | None = None) -> dict[str, Any]:
    """The root-cause report of a published detector's cohort over its window ending `now`."""
    now = now or svc.clock.now()
    woven = weave(iter_log(svc.store))
    version = next((v for v in published(svc, woven) if v.name == name), None)
    if version is None:
        raise NotFound(f"no published detector named {name}")
    d = parse_detector(version.document, version.input_schema)
    verdict = evaluate(woven, d, now)
    return {"detector": name, "version": version.version, **verdict.as_dict(), **_cause(woven, d, now, version)}


def list_detectors(svc: Services, firings: int = 5) -> list[dict[str, Any]]:
    """Each published detector with its document and its latest firings (newest first)."""
    woven = Woven()
    for e in iter_log(svc.store):
        if e.type == "policy.version_saved":
            woven.policies[str(e.data.get("name"))] = str(e.data.get("kind"))
    out = []
    for version in published(svc, woven):
        fired = [e for e in svc.store.read_stream(stream_of(version.name)) if e.type == FIRED]
        out.append(
            {
                "name": version.name,
                "version": version.version,
                "label": version.document.get("label", {}),
                "document": version.document,
                "firings": [{"id": e.id, "time": e.time, **e.data} for e in reversed(fired[-firings:])],
            }
        )
    return out
