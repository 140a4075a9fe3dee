"""The demo gives the console's intelligence and value-stream pages something real to show, over the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.sim.demo import load_demo
from orderloom.status.monitors.engine import MonitorEngine
from tests.integration.conftest import Api


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path = tmp_path_factory.mktemp("demo") / "api.db"
    svc = build_services(Settings(db_url=f"sqlite:///{path}"))
    assert load_demo(svc) == 38 + 160 + 240
    MonitorEngine(svc).scan()  # what the server's pipeline does within its first 30 seconds
    keys = {role: svc.keys.create(role)[0] for role in ("ops", "admin")}
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys)
    svc.close()


def test_open_findings_have_the_planted_firmware_as_their_root_cause(demo: Api) -> None:
    found = demo.client.get(
        "/v1/monitors/findings",
        params={"state": "open", "monitor": "forward_wh_check_missing"},
        headers=demo.as_("ops"),
    ).json()
    assert found["count"] >= 3
    rc = demo.client.get("/v1/monitors/forward_wh_check_missing/root-causes", headers=demo.as_("ops")).json()
    top = {(a["attribute"], a["value"]) for a in rc["causes"][0]["attributes"]}
    assert ("forward_wh.firmware", "3.4.1") in top


def test_contract_health_has_every_outcome_and_refused_rows(demo: Api) -> None:
    h = demo.client.get("/v1/valuestream/contracts/marketing_attribution/health", headers=demo.as_("ops")).json()
    assert min(h["orders"]["on_time"], h["orders"]["late"], h["orders"]["missing"]) > 0
    assert h["deliveries"]["rejected"] > 0
    assert {r["rule"] for r in h["rejections_by_rule"]} == {"pattern"}
    assert h["fulfilment_rate"] > 0.7


def test_the_detector_fired_and_its_root_cause_names_the_campaign(demo: Api) -> None:
    detectors = demo.client.get("/v1/valuestream/detectors", headers=demo.as_("ops")).json()["detectors"]
    (headphones,) = [d for d in detectors if d["name"] == "headphone_returns"]
    assert headphones["firings"], "the demo's detector fired at load"
    rc = demo.client.get("/v1/valuestream/detectors/headphone_returns/root-cause", headers=demo.as_("ops")).json()
    top = rc["subgroups"][0]["conditions"]
    # Channel, creative and the order's channel are the same split in this shop: any of them names the campaign.
    assert {c["attribute"] for c in top} <= {"marketing.channel_id", "marketing.creative", "order.channel"}
    assert {c["value"] for c in top} <= {"douyin_live", "short_video", "douyin"}


def test_each_department_gets_exactly_one_task_with_evidence_per_firing(demo: Api) -> None:
    # The default detector_evidence playbook acts on the firing; a second playbook on the same
    # trigger would give every department a duplicate task.
    def firing_tasks(team: str) -> list[dict[str, object]]:
        tasks = demo.client.get("/v1/tasks", params={"team": team}, headers=demo.as_("ops")).json()["tasks"]
        return [t for t in tasks if t["evidence"].get("detector") == "headphone_returns"]

    deadline = time.monotonic() + 60
    while not all(firing_tasks(team) for team in ("marketing", "product", "cs")) and time.monotonic() < deadline:
        time.sleep(0.5)  # the in-process playbook runner follows the log in the background
    for team in ("marketing", "product", "cs"):
        (task,) = firing_tasks(team)
        assert task["owner"] and task["due"] and task["state"] in ("open", "in_progress")
    (marketing,) = firing_tasks("marketing")
    assert marketing["evidence"]["funnel"], "marketing's package carries the cohort's funnel"
    (product,) = firing_tasks("product")
    crashes = product["evidence"]["firmware"]["crash_reports"]
    assert crashes["orders_with_reports"] > 0 and crashes["signatures"][0]["signature"] == "pairing.ble_timeout"


def test_the_demo_experiment_has_both_arms_with_real_outcomes_and_health_counts_them(demo: Api) -> None:
    report = demo.client.get("/v1/policies/douyin_first_order/experiment", headers=demo.as_("ops")).json()
    assert report["versions"] == {"stable": [1], "candidate": [2]}
    assert report["orders"]["stable"] > 40 and report["orders"]["candidate"] > 40
    assert report["sample_ratio"]["mismatch"] is False
    on_time = report["metrics"]["on_time"]
    assert 0 < on_time["stable"] < 1 and on_time["ci_low"] <= on_time["difference"] <= on_time["ci_high"]
    health = demo.client.get("/v1/policies/douyin_first_order/health", headers=demo.as_("ops")).json()
    assert sum(v["invocations"] for v in health["versions"]) == sum(report["orders"].values())
