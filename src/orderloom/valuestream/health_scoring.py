"""Training the health model from the log, scoring customers two hours after payment, flagging those at risk.

A trained model is an event (`health.model_trained` on `sys.health`) holding its
numbers, so every score names the model that made it and can be recomputed.
Scoring appends `customer.health_scored` on `cust.<customer id>` and, below the
threshold, `customer.at_risk` (playbooks start on it); both ids are the order
and the model, so scoring again appends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.store import iter_log
from orderloom.valuestream.detectors_table import CUSTOMER_STREAM, weave
from orderloom.valuestream.health import Row, rows
from orderloom.valuestream.health_model import Model, churn_probability, contributions, train

STREAM = "sys.health"
TRAINED = "health.model_trained"
SCORED = "customer.health_scored"
AT_RISK = "customer.at_risk"
ACTOR = "system:health"
AT_RISK_BELOW = 40.0  # health score (0-100) under which a customer is at risk
DRIVERS = 3


def train_model(svc: Services, now: datetime | None = None, *, record: bool = True) -> Model:
    """Train on the log as of `now`; with `record`, append the model so scores can name it."""
    now = now or svc.clock.now()
    model = train(rows(weave(iter_log(svc.store)), now))
    if record:
        raw = {
            "id": f"healthmodel-{model.digest[:16]}",
            "type": TRAINED,
            "source": "orderloom/health",
            "oid": STREAM,
            "time": format_time(now),
            "actor": ACTOR,
            "data": model.as_data(),
        }
        result = svc.intake.record([raw], allow_internal=True)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
    return model


def latest_model(svc: Services) -> Model | None:
    """The most recently trained model in the log, if any."""
    trained = [e for e in svc.store.read_stream(STREAM) if e.type == TRAINED]
    return Model.from_data(trained[-1].data) if trained else None


def _need_model(svc: Services) -> Model:
    model = latest_model(svc)
    if model is None:
        raise NotFound("no health model has been trained yet; run `orderloom health train` first")
    return model


def assess(model: Model, row: Row, threshold: float = AT_RISK_BELOW) -> dict[str, Any]:
    """The health of one B2B order's customer: score, probability, verdict and the features that weigh most."""
    pushes = contributions(model, row.features)
    p = churn_probability(model, row.features)
    score = round(100 * (1 - p), 1)
    worst = sorted(pushes.items(), key=lambda kv: -kv[1])[:DRIVERS]
    return {
        "customer": row.customer,
        "oid": row.oid,
        "score": score,
        "churn_probability": round(p, 4),
        "at_risk": score < threshold,
        "threshold": threshold,
        "model": model.digest[:12],
        "cutoff": format_time(row.cutoff),
        "drivers": [
            {"feature": name, "value": row.features.get(name), "effect": round(effect, 3)}
            for name, effect in worst
            if effect > 0
        ],
        "features": row.features,
    }


def score_due(svc: Services, now: datetime | None = None, threshold: float = AT_RISK_BELOW) -> list[dict[str, Any]]:
    """Score every undecided B2B customer whose two hours after payment have passed; record new scores."""
    now = now or svc.clock.now()
    model = _need_model(svc)
    raws = []
    out = []
    for row in rows(weave(iter_log(svc.store)), now):
        if row.churned is not None:
            continue  # already renewed or churned: nothing left to act on
        doc = assess(model, row, threshold)
        eid = f"health-{row.oid}-{doc['model']}"
        doc["status"] = "already_scored" if svc.store.get(eid) is not None else "scored"
        out.append(doc)
        if doc["status"] == "already_scored":
            continue
        raws.append(_event(eid, SCORED, row, now, doc))
        if doc["at_risk"]:
            reasons = [f"{d['feature']} is {d['value']}" for d in doc["drivers"]]
            risk = {k: doc[k] for k in ("customer", "oid", "score", "threshold", "model")} | {"reasons": reasons}
            raws.append(_event(f"atrisk-{row.oid}-{doc['model']}", AT_RISK, row, now, risk))
    for start in range(0, len(raws), 500):
        results = svc.intake.record(raws[start : start + 500], allow_internal=True)
        bad = [r for r in results if r.status == "rejected"]
        if bad:
            raise ValidationFailed(bad[0].problems)
    return out


def _event(eid: str, etype: str, row: Row, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in data.items() if k != "status"}
    return {
        "id": eid,
        "type": etype,
        "source": "orderloom/health",
        "oid": CUSTOMER_STREAM + row.customer,
        "time": format_time(now),
        "actor": ACTOR,
        "data": body,
    }


def customer_health(
    svc: Services, customer: str, now: datetime | None = None, threshold: float = AT_RISK_BELOW
) -> dict[str, Any]:
    """A customer's recorded health scores and, with the latest model, their health as of now."""
    now = now or svc.clock.now()
    mine = [r for r in rows(weave(iter_log(svc.store)), now) if r.customer == customer]
    recorded = [
        {"id": e.id, "time": e.time, **e.data}
        for e in svc.store.read_stream(CUSTOMER_STREAM + customer)
        if e.type in (SCORED, AT_RISK)
    ]
    if not mine and not recorded:
        raise NotFound(f"customer {customer} has no B2B order paid more than two hours ago")
    model = latest_model(svc)
    current = assess(model, mine[-1], threshold) if model is not None and mine else None
    return {
        "customer": customer,
        "current": current,
        "outcome": None if not mine or mine[-1].churned is None else ("churned" if mine[-1].churned else "renewed"),
        "recorded": recorded,
        "model": None if model is None else model.as_data() | {"params": None},
    }
