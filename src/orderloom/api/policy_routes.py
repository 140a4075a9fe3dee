"""HTTP routes of the policy capability: versions, tests, diffs, publish, gray release, rollback, decide."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON
from orderloom.core.envelope import normalise_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.policy import diff, load_example, run_golden
from orderloom.policy.log import PolicyState
from orderloom.policy.model import KINDS, GoldenCase, PolicyVersion
from orderloom.policy.runtime import (
    PolicyRuntime,
    experiment_report,
    live_shadow_report,
    policy_health,
    record_decision,
    shadow_report,
)

_LIMIT = 2 * 1024 * 1024


def _state_doc(state: PolicyState) -> dict[str, Any]:
    rollout = state.rollout
    return {
        "name": state.name,
        "stable": state.stable,
        "shadow": state.shadow,
        "rollout": None
        if rollout is None
        else {"stable": rollout.stable, "candidate": rollout.candidate, "percent": rollout.percent}
        | ({"segment": {k: list(v) for k, v in rollout.segment}} if rollout.segment else {}),
        "versions": [
            {"version": v.version, "kind": v.kind, "note": v.note, "author": v.author, "digest": v.digest}
            for v in sorted(state.versions.values(), key=lambda v: v.version)
        ],
        "history": state.history,
    }


def _fields(body: Any, *required: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed([Problem("(body)", "type", "send a JSON object")])
    missing = [f for f in required if f not in body]
    if missing:
        raise ValidationFailed([Problem(f, "required", f"{f} is required") for f in missing])
    return body


def router(runtime: PolicyRuntime) -> APIRouter:
    """Routes under /v1/policies; editing needs ops or admin, publishing needs admin."""
    r = APIRouter(prefix="/v1/policies", tags=["policies"])
    log = runtime.log
    example = load_example("douyin_first_order")
    version_example = {
        "kind": example.kind,
        "document": example.document,
        "input_schema": example.input_schema,
        "tests": [t.as_dict() for t in example.tests],
        "note": "Douyin first orders of ¥299 and more: SF next-day with an unboxing video",
    }

    @r.post(
        "/{name}/versions",
        status_code=201,
        summary="Save a new version (linted; refused with the problems if anything would fail silently)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "required": ["kind", "document", "input_schema"]},
                        "example": version_example,
                    }
                },
            }
        },
    )
    async def save(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = _fields(await json_body(request, _LIMIT), "kind", "document", "input_schema")
        if body["kind"] not in KINDS:
            raise ValidationFailed([Problem("kind", "enum", f"kind must be one of: {', '.join(KINDS)}")])
        for key in ("document", "input_schema"):
            if not isinstance(body[key], dict):
                raise ValidationFailed([Problem(key, "type", f"{key} must be a JSON object")])
        tests = body.get("tests", [])
        if not isinstance(tests, list) or not all(isinstance(t, dict) and "name" in t for t in tests):
            raise ValidationFailed([Problem("tests", "type", "tests must be a list of {name, input, expect}")])
        try:
            cases = tuple(GoldenCase.from_dict(t) for t in tests)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed([Problem("tests", "format", f"a golden test is malformed: {exc}")]) from None
        draft = PolicyVersion(
            name, 0, body["kind"], body["document"], body["input_schema"], cases, str(body.get("note", ""))[:500]
        )
        saved = await run_in_threadpool(log.save, draft, actor=f"key:{who.key.key_id}")
        return JSON({"name": name, "version": saved.version, "digest": saved.digest}, status_code=201)

    @r.get("/{name}", summary="Versions, what serves traffic, and the audit history")
    async def get_state(name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        state = await run_in_threadpool(log.state, name)
        if not state.versions:
            raise NotFound(f"no policy named {name}")
        return JSON(_state_doc(state))

    @r.get("/{name}/versions/{version}", summary="One version in full")
    async def get_version(name: str, version: int, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        state = await run_in_threadpool(log.state, name)
        if version not in state.versions:
            raise NotFound(f"policy {name} has no version {version}")
        v = state.versions[version]
        return JSON({"name": name, "version": version, **v.content(), "note": v.note, "digest": v.digest})

    @r.post(
        "/{name}/versions/{version}/test",
        summary="Run the version's golden tests (no body)",
    )
    async def test(name: str, version: int, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        state = await run_in_threadpool(log.state, name)
        if version not in state.versions:
            raise NotFound(f"policy {name} has no version {version}")
        results = await run_in_threadpool(run_golden, state.versions[version])
        return JSON(
            {
                "passed": all(x.passed for x in results),
                "results": [
                    {"case": x.case, "passed": x.passed, "problems": [p.as_dict() for p in x.problems]} for x in results
                ],
            }
        )

    @r.get("/{name}/diff", summary="What changed between two versions")
    async def get_diff(
        name: str,
        who: Annotated[Caller, Depends(caller)],
        a: Annotated[int, Query(ge=1)],
        b: Annotated[int, Query(ge=1)],
    ) -> JSON:
        who.require("verify")
        state = await run_in_threadpool(log.state, name)
        for v in (a, b):
            if v not in state.versions:
                raise NotFound(f"policy {name} has no version {v}")
        return JSON({"name": name, "a": a, "b": b, "changes": diff(state.versions[a], state.versions[b])})

    @r.post(
        "/{name}/publish",
        summary="Serve a version to a percentage of traffic (100 = everyone)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": {"version": 2, "percent": 10, "reason": "gray release to 10% of orders"}
                    }
                },
            }
        },
    )
    async def publish(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        body = _fields(await json_body(request, 64 * 1024), "version")
        version, percent = body["version"], body.get("percent", 100)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationFailed([Problem("version", "type", "version must be a whole number")])
        if not isinstance(percent, (int, float)) or isinstance(percent, bool):
            raise ValidationFailed([Problem("percent", "type", "percent must be a number from 0 to 100")])
        segment = body.get("segment")
        if segment is not None and not isinstance(segment, dict):
            raise ValidationFailed([Problem("segment", "type", 'segment must look like {"channel": ["douyin"]}')])
        state = await run_in_threadpool(
            functools.partial(log.publish, segment=segment),
            name,
            version,
            actor=f"key:{who.key.key_id}",
            percent=float(percent),
            reason=str(body.get("reason", "")),
        )
        runtime.invalidate(name)  # served at once by this worker; others within REFRESH_S
        return JSON(_state_doc(state))

    @r.post(
        "/{name}/rollback",
        summary="Serve an earlier version to everyone, at once",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"example": {"version": 1, "reason": "complaints rose after version 2"}}
                },
            }
        },
    )
    async def rollback(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        body = _fields(await json_body(request, 64 * 1024), "version")
        if not isinstance(body["version"], int) or isinstance(body["version"], bool):
            raise ValidationFailed([Problem("version", "type", "version must be a whole number")])
        state = await run_in_threadpool(
            log.rollback, name, body["version"], actor=f"key:{who.key.key_id}", reason=str(body.get("reason", ""))
        )
        runtime.invalidate(name)  # served at once by this worker; others within REFRESH_S
        return JSON(_state_doc(state))

    @r.get("/{name}/health", summary="Invocations, rule hits, rules never hit, latency, deviation from execution")
    async def get_health(
        request: Request,
        name: str,
        who: Annotated[Caller, Depends(caller)],
        threshold: Annotated[float, Query(ge=0, le=1, description="deviation rate that raises an alert")] = 0.1,
    ) -> JSON:
        who.require("verify")
        return JSON(await run_in_threadpool(policy_health, services(request), name, threshold))

    @r.post(
        "/{name}/shadow",
        summary="Evaluate a version beside every recorded live decision, acting on nothing (null stops it)",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"example": {"version": 2}}}}},
    )
    async def set_shadow(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = _fields(await json_body(request, 64 * 1024), "version")
        version = body["version"]
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ValidationFailed([Problem("version", "type", "version must be a whole number, or null to stop")])
        state = await run_in_threadpool(functools.partial(log.set_shadow, actor=f"key:{who.key.key_id}"), name, version)
        runtime.invalidate(name)  # served at once by this worker; others within REFRESH_S
        return JSON(_state_doc(state))

    @r.get("/{name}/shadow/live", summary="How the shadow version's answers differed from live decisions")
    async def shadow_live(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        return JSON(await run_in_threadpool(live_shadow_report, services(request), name))

    @r.get("/{name}/experiment", summary="A/B report: outcomes per arm with 95% CIs and a sample-ratio check")
    async def experiment(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        return JSON(await run_in_threadpool(experiment_report, services(request), name))

    @r.get(
        "/{name}/versions/{version}/shadow", summary="Replay recorded decisions through a version, acting on nothing"
    )
    async def shadow(
        request: Request,
        name: str,
        version: int,
        who: Annotated[Caller, Depends(caller)],
        since: Annotated[str | None, Query(description="only decisions at or after this time (RFC 3339, UTC)")] = None,
    ) -> JSON:
        who.require("verify")
        if since is not None:
            try:
                since = normalise_time(since)
            except ValueError:
                raise ValidationFailed(
                    [Problem("since", "format", "since must be a time like 2026-05-01T00:00:00Z")]
                ) from None
        return JSON(await run_in_threadpool(shadow_report, services(request), name, version, since))

    @r.post(
        "/{name}/decide",
        summary="The served version's decision for one unit (order or customer id)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": {"unit": "OL-DEMO-0001", "input": example.tests[0].input if example.tests else {}}
                    }
                },
            }
        },
    )
    async def decide(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = _fields(await json_body(request, 256 * 1024), "unit", "input")
        if not isinstance(body["unit"], str) or not isinstance(body["input"], dict):
            raise ValidationFailed([Problem("input", "type", 'send {"unit": "<order id>", "input": {...}}')])
        oid = body.get("oid")
        if oid is not None and not isinstance(oid, str):
            raise ValidationFailed([Problem("oid", "type", "oid must be the order id the decision is for")])
        d = await run_in_threadpool(
            functools.partial(runtime.decide, trace=oid is not None), name, body["unit"], body["input"]
        )
        answer: dict[str, Any] = {"policy": d.policy, "version": d.version, "arm": d.arm, "result": d.result}
        if oid is not None:
            # Recorded on the order, so an experiment can compare what happened to each arm's orders.
            answer["recorded"] = await run_in_threadpool(
                record_decision, services(request), oid, body["unit"], d, body["input"]
            )
        return JSON(answer)

    return r
