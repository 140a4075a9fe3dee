"""HTTP routes of value-stream detectors, their root causes and B2B customer health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.responses import JSON
from orderloom.api.valuestream_routes import valuestream
from orderloom.core.errors import Forbidden
from orderloom.valuestream.detectors import list_detectors, root_cause, run_detectors
from orderloom.valuestream.findings import finding
from orderloom.valuestream.fulfilment import MAX_DAYS
from orderloom.valuestream.health_scoring import AT_RISK_BELOW, customer_health, score_due

READERS = frozenset({"cs", "ops", "admin"})
RUNNERS = frozenset({"ops", "admin"})
FINANCE = "finance"  # finance sees a customer's score and verdict, not what drove it
_NAME = r"^[a-z][a-z0-9_]{1,63}$"
_CUSTOMER = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,58}$"
_FINDING = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"


def _allow(who: Caller, roles: frozenset[str], what: str) -> None:
    if who.role not in roles:
        raise Forbidden(f"the {who.role} role may not {what}; ask {' or '.join(sorted(roles))}")


def _finance_view(doc: dict[str, Any]) -> dict[str, Any]:
    current = doc.get("current") or {}
    keep = ("customer", "oid", "score", "at_risk", "threshold")
    return {
        "customer": doc["customer"],
        "current": {k: current[k] for k in keep if k in current} if current else None,
        "recorded": [{k: r[k] for k in ("time", *keep) if k in r} for r in doc["recorded"]],
    }


def router() -> APIRouter:
    """Routes under /v1/valuestream; detectors are run by ops or admins, read by cs too."""
    r = APIRouter(prefix="/v1/valuestream", tags=["detectors"])

    @r.get("/detectors", summary="Published detectors with their latest firings")
    async def get_detectors(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _allow(who, READERS, "read detectors")
        found = await run_in_threadpool(list_detectors, services(request))
        return JSON({"detectors": found, "count": len(found)})

    @r.post("/detectors/run", summary="Evaluate every published detector now; record a firing for each that fires")
    async def post_run(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _allow(who, RUNNERS, "run detectors")
        results = await run_in_threadpool(run_detectors, services(request))
        return JSON({"detectors": results, "fired": sum(1 for x in results if x.get("status") == "fired")})

    @r.get(
        "/detectors/{name}/root-cause",
        summary="Which attributes (up to 3 combined) explain the detector's cohort, and when its events came",
    )
    async def get_root_cause(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        name: Annotated[str, Path(pattern=_NAME)],
    ) -> JSON:
        _allow(who, READERS, "read root causes")
        return JSON(await run_in_threadpool(root_cause, services(request), name))

    @r.get(
        "/findings",
        summary="Detector firings and at-risk customers with their outcome, and the trigger success rate",
    )
    async def get_findings(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        *,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="look back this many days")] = 30,
        limit: Annotated[int, Query(ge=1, le=1000, description="at most this many recent findings")] = 100,
    ) -> JSON:
        _allow(who, READERS, "read findings")
        vs = await run_in_threadpool(valuestream, request)
        return JSON(await run_in_threadpool(lambda: vs.findings(days=days, limit=limit)))

    @r.get(
        "/findings/{finding_id}",
        summary="One finding with its evidence, the playbook runs it started and their tasks (state, owner, due)",
    )
    async def get_finding(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        finding_id: Annotated[str, Path(pattern=_FINDING)],
    ) -> JSON:
        _allow(who, READERS, "read findings")
        svc = services(request)
        return JSON(await run_in_threadpool(lambda: finding(svc, finding_id, who.role)))

    @r.get("/customers/{customer}/health", summary="A B2B customer's health score two hours after payment")
    async def get_health(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        customer: Annotated[str, Path(pattern=_CUSTOMER)],
        *,
        threshold: Annotated[float, Query(ge=0, le=100, description="scores below this are at risk")] = AT_RISK_BELOW,
    ) -> JSON:
        _allow(who, READERS | {FINANCE}, "read customer health")
        svc = services(request)
        doc = await run_in_threadpool(lambda: customer_health(svc, customer, threshold=threshold))
        return JSON(_finance_view(doc) if who.role == FINANCE else doc)

    @r.post("/customers/health/score", summary="Score every undecided B2B customer two hours after payment")
    async def post_score(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        *,
        threshold: Annotated[float, Query(ge=0, le=100, description="scores below this are at risk")] = AT_RISK_BELOW,
    ) -> JSON:
        _allow(who, RUNNERS, "score customers")
        svc = services(request)
        scored = await run_in_threadpool(lambda: score_due(svc, threshold=threshold))
        new = [s for s in scored if s["status"] == "scored"]
        return JSON(
            {
                "scored": len(scored),
                "new": len(new),
                "at_risk": [{k: s[k] for k in ("customer", "oid", "score", "drivers")} for s in new if s["at_risk"]],
            }
        )

    return r
