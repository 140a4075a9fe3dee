"""Detectors, root causes and customer health over HTTP on a real (SQLite) store, role by role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.policy import load_example
from orderloom.policy.log import PolicyLog
from orderloom.valuestream import generator, generator_b2b
from orderloom.valuestream.health_scoring import train_model
from tests.integration.conftest import Api
from tests.unit.test_detector_rig import END

ROOT = "/v1/valuestream"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API over a generated shop (seed 10: premium headphones come back over twice as often) and B2B accounts.

    Built once for the module (writing the world takes seconds); each test adds to it without undoing another's.
    """
    path = tmp_path_factory.mktemp("detector-api") / "vs.db"
    svc = build_services(Settings(db_url=f"sqlite:///{path}"), clock=ManualClock(END))
    generator.write(svc.intake, generator.generate(generator.Plan(orders=800, seed=10), END))
    generator_b2b.write_accounts(svc.intake, generator_b2b.generate_accounts(generator_b2b.B2BPlan(250), END))
    log = PolicyLog(svc.intake)
    shipped = load_example("headphone_returns")
    # A small shop (it keeps the test quick): judge cohorts from 50 orders instead of 100.
    saved = log.save(replace(shipped, document={**shipped.document, "min_cohort": 50}, digest=""), actor="key:test")
    log.publish(saved.name, saved.version, actor="key:test")
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    keys["consumer"] = svc.keys.create("consumer", "C-1")[0]
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys)
    svc.close()


@pytest.mark.slow
def test_ops_runs_the_detectors_and_everyone_who_may_reads_the_firing_and_its_cause(api: Api) -> None:
    c = api.client
    r = c.post(f"{ROOT}/detectors/run", headers=api.as_("ops"))
    assert r.status_code == 200, r.text
    body = r.json()
    # The API's detector schedule ticks once at start-up, so it may have recorded this period's firing first.
    assert body["detectors"][0]["status"] in ("fired", "already_fired") and body["detectors"][0]["ratio"] > 2
    again = c.post(f"{ROOT}/detectors/run", headers=api.as_("admin")).json()
    assert again["fired"] == 0 and again["detectors"][0]["status"] == "already_fired"  # one firing per day

    listed = c.get(f"{ROOT}/detectors", headers=api.as_("cs"))
    assert listed.status_code == 200
    [detector] = listed.json()["detectors"]
    assert detector["name"] == "headphone_returns" and len(detector["firings"]) == 1
    assert detector["firings"][0]["cohort"]["rate"] == body["detectors"][0]["cohort"]["rate"]

    cause = c.get(f"{ROOT}/detectors/headphone_returns/root-cause", headers=api.as_("ops"))
    assert cause.status_code == 200
    assert cause.json()["sentences"][0].startswith("Premium headphones come back too often")
    assert cause.json()["search"]["max_conditions"] == 3


def test_roles_that_may_not_run_or_read_detectors_are_refused(api: Api) -> None:
    c = api.client
    assert c.post(f"{ROOT}/detectors/run", headers=api.as_("cs")).status_code == 403
    assert c.get(f"{ROOT}/detectors", headers=api.as_("finance")).status_code == 403
    assert c.get(f"{ROOT}/detectors", headers=api.as_("consumer")).status_code == 403
    assert c.get(f"{ROOT}/detectors").status_code == 401
    assert c.get(f"{ROOT}/detectors/nobody_here/root-cause", headers=api.as_("ops")).status_code == 404
    assert c.get(f"{ROOT}/detectors/Bad-Name/root-cause", headers=api.as_("ops")).status_code == 422


@pytest.mark.slow
def test_customer_health_is_scored_by_ops_and_read_by_role(api: Api) -> None:
    c = api.client
    first = c.post(f"{ROOT}/customers/health/score", headers=api.as_("ops"))
    assert first.status_code == 404 and "orderloom health train" in first.json()["error"]["message"]
    train_model(api.services, END)
    scored = c.post(f"{ROOT}/customers/health/score", headers=api.as_("ops"))
    assert scored.status_code == 200, scored.text
    risky = scored.json()["at_risk"]
    assert scored.json()["new"] > 0 and risky and all(x["score"] < 40 for x in risky)
    customer = risky[0]["customer"]

    full = c.get(f"{ROOT}/customers/{customer}/health", headers=api.as_("cs")).json()
    assert full["current"]["at_risk"] and full["current"]["drivers"] and len(full["recorded"]) == 2
    limited = c.get(f"{ROOT}/customers/{customer}/health", headers=api.as_("finance")).json()
    assert set(limited["current"]) == {"customer", "oid", "score", "at_risk", "threshold"}
    assert c.get(f"{ROOT}/customers/{customer}/health", headers=api.as_("consumer")).status_code == 403
    assert c.get(f"{ROOT}/customers/C-NOBODY/health", headers=api.as_("ops")).status_code == 404
    assert c.post(f"{ROOT}/customers/health/score", headers=api.as_("cs")).status_code == 403
