"""End to end over HTTP: facts in → detector fires → department tasks with evidence → tasks worked → success rate.

The shop's orders go in through `POST /v1/events` and every department's facts
through `POST /v1/facts/{domain}` (the clock set to the day they were
delivered); the detector is saved and published through the policy API, run
through the detector API, and the in-process playbook runner turns its firing
into one task per department. The evidence in those tasks is checked against
figures counted here from the generated orders, not against the code under test.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import groupby
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import parse_time
from orderloom.core.settings import Settings
from orderloom.playbook import install_default_playbooks
from orderloom.policy import load_example
from orderloom.valuestream import generator
from orderloom.valuestream.generator_events import FACT
from tests.integration.conftest import Api
from tests.unit.test_detector_rig import END

ROOT = "/v1/valuestream"
PLAN = generator.Plan(orders=800, seed=10)


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until `check` gives something truthy (the playbook runner works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def policy(api: Api, name: str, body: dict[str, Any]) -> int:
    """Save a policy version through the API and publish it; its version number."""
    saved = api.client.post(f"/v1/policies/{name}/versions", json=body, headers=api.as_("admin"))
    assert saved.status_code == 201, saved.text
    version: int = saved.json()["version"]
    published = api.client.post(f"/v1/policies/{name}/publish", json={"version": version}, headers=api.as_("admin"))
    assert published.status_code == 200, published.text
    return version


def detector_body() -> dict[str, Any]:
    """The shipped headphone detector, for a small shop."""
    v = load_example("headphone_returns")
    # An 800-order shop: judge cohorts from 50 orders instead of 100.
    return {"kind": v.kind, "document": {**v.document, "min_cohort": 50}, "input_schema": v.input_schema}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API over a SQLite store, the shop's events and facts posted over HTTP, the default playbooks installed."""
    path = tmp_path_factory.mktemp("vs-playbooks") / "vs.db"
    clock = ManualClock(END)
    svc = build_services(Settings(db_url=f"sqlite:///{path}"), clock=clock)
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    raws = [r for g in shop() for r in generator.events_of(g)]
    events = [r for r in raws if not r.get(FACT)]
    facts = sorted((r for r in raws if r.get(FACT)), key=lambda r: (r["time"][:10], r["domain"], r["object"]))
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        a = Api(client, svc, keys)
        for start in range(0, len(events), 1000):
            r = client.post("/v1/events", json=events[start : start + 1000], headers=a.as_("ops"))
            assert r.status_code == 200, r.text[:500]
        for (day, domain, obj), group in groupby(facts, key=lambda r: (r["time"][:10], r["domain"], r["object"])):
            # Each day's deliveries arrive at the start of that day: never later than the generated time.
            clock._now = parse_time(f"{day}T00:00:00Z")
            body = {"records": [r["record"] for r in group], "object": obj}
            r = client.post(f"/v1/facts/{domain}", json=body, headers=a.as_("ops"))
            assert r.status_code == 200, r.text[:500]
        clock._now = END
        assert install_default_playbooks(svc) == [
            "coldchain_stall",
            "sla_risk_reroute",
            "detector_evidence",
            "customer_at_risk",
        ]
        policy(a, "headphone_returns", detector_body())
        yield a
    svc.close()


def shop() -> list[generator.Generated]:
    return generator.generate(PLAN, END)


def cohort() -> list[generator.Generated]:
    """Premium headphones delivered in the detector's 60-day window, as generated."""
    return [
        g
        for g in shop()
        if g.product.sku == "HP-PRO-X" and g.delivered_at is not None and g.delivered_at > END - timedelta(days=60)
    ]


def finding(api: Api, fid: str, outcome: str = "succeeded") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = api.client.get(f"{ROOT}/findings/{fid}", headers=api.as_("ops")).json()
        return body if body["outcome"] == outcome else None

    found = wait_for(check)
    assert found, f"finding {fid} never became {outcome}"
    return found


@pytest.mark.slow
def test_a_firing_gives_each_department_a_task_with_its_evidence_and_the_health_view_counts_it(api: Api) -> None:
    c = api.client
    run = c.post(f"{ROOT}/detectors/run", headers=api.as_("ops")).json()
    # (The API's own detector schedule may have been first: either way there is one firing this period.)
    assert run["detectors"][0]["status"] in ("fired", "already_fired")
    fid = run["detectors"][0]["event_id"]
    found = finding(api, fid)
    assert [r["playbook"] for r in found["runs"]] == ["detector_evidence"]
    tasks = {t["team"]: t for t in found["tasks"]}
    assert sorted(tasks) == ["cs", "marketing", "product"] and found["tasks_owed"] == found["tasks_created"] == 3
    assert {t["owner"] for t in tasks.values()} == {"marketing-lead", "product-oncall", "cs-lead"}
    assert all(t["state"] == "open" and t["due"] > t["created_at"] for t in tasks.values())

    # Marketing: the funnel per channel and creative, as counted from the generated orders.
    mine = cohort()
    funnel = tasks["marketing"]["evidence"]["funnel"]
    assert funnel == found["data"]["evidence"]["marketing"]  # the task carries the firing's package
    assert funnel["cohort"]["delivered"] == len(mine) == found["data"]["cohort"]["size"]
    expected = Counter((g.attributes["marketing.channel_id"], g.attributes["marketing.creative"]) for g in mine)
    returned = Counter(
        (g.attributes["marketing.channel_id"], g.attributes["marketing.creative"]) for g in mine if g.returned
    )
    assert {(r["channel"], r["creative"]): r["delivered"] for r in funnel["rows"]} == dict(expected)
    assert {(r["channel"], r["creative"]): r["events"] for r in funnel["rows"]} == {k: returned[k] for k in expected}
    worst = funnel["rows"][0]
    assert worst["creative"] == "short_video" and worst["return_rate"] > funnel["cohort"]["return_rate"]

    # Product: firmware versions and the crash reports the devices sent.
    product = tasks["product"]["evidence"]["firmware"]
    by_version = Counter(g.attributes["product.firmware_version"] for g in mine)
    assert {r["firmware_version"]: r["orders"] for r in product["firmware"]} == dict(by_version)
    crashed = [g for g in mine if g.extra.get("crash")]
    assert product["crash_reports"]["orders_with_reports"] == len(crashed) > 0
    top = product["crash_reports"]["signatures"][0]
    assert top["signature"] == Counter(g.extra["crash"]["crash_signature"] for g in crashed).most_common(1)[0][0]

    # Customer service: the answer pack follows the reasons the cohort's buyers gave.
    pack = tasks["cs"]["evidence"]["answer_pack"]
    reasons = Counter(g.return_reason for g in mine if g.returned)
    first = pack["answers"][0]
    assert (first["reason"], first["count"]) == reasons.most_common(1)[0] == ("pairing_difficulty", first["count"])
    assert "5.2.0" in first["answer"]["en"] and f"{round(100 * first['share'])}%" in first["answer"]["en"]

    # People work the tasks through the API; a closed task refuses to reopen, naming the field and the rule.
    task = tasks["marketing"]["task_id"]
    moved = c.post(f"/v1/tasks/{task}", json={"state": "in_progress", "owner": "王芳"}, headers=api.as_("ops"))
    assert moved.status_code == 200 and moved.json()["owner"] == "王芳"
    assert (
        c.post(f"/v1/tasks/{task}", json={"state": "done", "comment": "素材已调整"}, headers=api.as_("cs")).json()[
            "state"
        ]
        == "done"
    )
    refused = c.post(f"/v1/tasks/{task}", json={"state": "in_progress"}, headers=api.as_("ops"))
    assert refused.status_code == 422
    assert [(p["field"], p["rule"]) for p in refused.json()["error"]["problems"]] == [("state", "transition")]

    view = c.get(f"{ROOT}/views/value_stream_health", headers=api.as_("finance")).json()
    assert view["trigger_success_rate"] == 1.0
    t = view["triggers"]
    assert (t["findings"], t["succeeded"], t["tasks_owed"], t["tasks_created"]) == (1, 1, 3, 3)
    teams = {row["team"]: row for row in t["tasks_by_team"]}
    assert teams["marketing"]["done"] == 1 and teams["product"]["open"] == 1 and teams["cs"]["owned"] == 1


@pytest.mark.slow
def test_a_finding_no_playbook_acts_on_counts_against_the_rate_once_its_grace_period_is_over(api: Api) -> None:
    c = api.client
    clock = api.services.clock
    assert isinstance(clock, ManualClock)
    c.post(f"{ROOT}/detectors/run", headers=api.as_("ops"))  # the first firing, if the test before did not run
    # Switch the evidence playbook off for a second detector watching the same cohort.
    shipped = load_example("detector_evidence")
    trigger = {
        **shipped.document["trigger"],
        "when": ["trigger.data.evidence != null", "trigger.data.detector != 'silent_watch'"],
    }
    body = {
        "kind": "playbook",
        "document": {**shipped.document, "trigger": trigger},
        "input_schema": shipped.input_schema,
    }
    policy(api, "detector_evidence", body)
    policy(api, "silent_watch", detector_body())
    clock.advance(timedelta(minutes=1))
    run = c.post(f"{ROOT}/detectors/run", headers=api.as_("ops")).json()
    fired = {d["detector"]: d for d in run["detectors"]}
    assert fired["silent_watch"]["status"] == "fired" and fired["headphone_returns"]["status"] == "already_fired"
    finding(api, fired["headphone_returns"]["event_id"])  # fired and acted on by the test before
    silent = fired["silent_watch"]["event_id"]
    time.sleep(0.5)  # give the runner a chance it must not take
    assert c.get(f"{ROOT}/findings/{silent}", headers=api.as_("ops")).json()["outcome"] == "none_yet"

    listed = c.get(f"{ROOT}/findings", headers=api.as_("cs")).json()
    assert (listed["findings"], listed["pending"], listed["trigger_success_rate"]) == (2, 1, 1.0)
    clock.advance(timedelta(minutes=16))
    listed = c.get(f"{ROOT}/findings?days=30&limit=5", headers=api.as_("ops")).json()
    assert (listed["succeeded"], listed["no_playbook"], listed["trigger_success_rate"]) == (1, 1, 0.5)
    assert [r["outcome"] for r in listed["recent"]] == ["no_playbook", "succeeded"]
    view = c.get(f"{ROOT}/views/value_stream_health", headers=api.as_("ops")).json()
    assert view["trigger_success_rate"] == 0.5


def test_findings_are_for_staff_and_unknown_ones_are_404(api: Api) -> None:
    c = api.client
    assert c.get(f"{ROOT}/findings", headers=api.as_("finance")).status_code == 403
    assert c.get(f"{ROOT}/findings/detfired-nothing", headers=api.as_("ops")).status_code == 404
    assert c.get(f"{ROOT}/findings/bad id!", headers=api.as_("ops")).status_code == 422
    assert c.get(f"{ROOT}/findings?days=0", headers=api.as_("ops")).status_code == 422
