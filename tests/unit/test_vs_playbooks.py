"""Value-stream playbooks: detectors on a schedule, at-risk customers acted on, generators through the facts desk."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orderloom.bootstrap import Services, build_services
from orderloom.cli import main
from orderloom.core.clock import ManualClock
from orderloom.core.errors import ValidationFailed
from orderloom.core.settings import Settings
from orderloom.playbook import PlaybookRunner, document_problems, install_default_playbooks, list_tasks
from orderloom.policy import load_example
from orderloom.store import iter_log
from orderloom.valuestream import generator, generator_b2b
from orderloom.valuestream.detectors import FIRED, stream_of
from orderloom.valuestream.evidence_answers import satisfies
from orderloom.valuestream.health_scoring import AT_RISK, train_model
from orderloom.valuestream.runtime import ValueStream
from orderloom.valuestream.schedule import DetectorScheduler, Tick
from tests.unit.test_detector_rig import END, publish, services, shop


def tick(scheduler: DetectorScheduler, moment: datetime) -> Tick:
    """One tick at `moment`, with the services' (manual) clock moved there: nothing may be recorded in the future."""
    clock = scheduler.svc.clock
    assert isinstance(clock, ManualClock)
    clock._now = moment
    return scheduler.tick(moment)


def firings(svc: Services, name: str = "headphone_returns") -> list[str]:
    return [e.id for e in svc.store.read_stream(stream_of(name)) if e.type == FIRED]


@pytest.fixture
def planted() -> Services:
    """A fresh planted shop (1,500 orders) with the shipped detector published; each test changes its own."""
    return shop(plant=True, orders=1500)


def test_the_scheduler_fires_a_detector_once_per_period_and_again_in_the_next(planted: Services) -> None:
    scheduler = DetectorScheduler(planted, score_health=False)
    first = tick(scheduler, END)
    assert first.evaluated == ["headphone_returns"] and first.fired == ["headphone_returns"]
    before = planted.store.last_position()
    later = tick(scheduler, END + timedelta(hours=6))
    assert later.evaluated == [] and later.fired == [] and planted.store.last_position() == before
    tomorrow = tick(scheduler, END + timedelta(days=1))
    assert tomorrow.fired == ["headphone_returns"] and len(firings(planted)) == 2


def test_a_new_version_fires_again_in_the_period_only_when_it_watches_another_cohort(planted: Services) -> None:
    scheduler = DetectorScheduler(planted, score_health=False)
    assert tick(scheduler, END).fired == ["headphone_returns"]
    v = load_example("headphone_returns")
    # Same cohort, same window, another threshold: the firing of this period stands.
    publish(
        planted,
        replace(v, document={**v.document, "compare": {**v.document["compare"], "ratio_above": 1.8}}, digest=""),
    )
    assert tick(scheduler, END + timedelta(minutes=30)).evaluated == []
    # Against every order instead of headphones: another comparison, so another firing.
    publish(planted, replace(v, document={**v.document, "compare": {"against": "all", "ratio_above": 2.0}}, digest=""))
    again = tick(scheduler, END + timedelta(hours=1))
    assert again.fired == ["headphone_returns"] and len(set(firings(planted))) == 2


def test_a_quiet_detector_is_evaluated_on_every_tick_and_records_nothing(planted: Services) -> None:
    v = load_example("headphone_returns")
    publish(planted, replace(v, name="premium_quiet", document={**v.document, "min_cohort": 100_000}, digest=""))
    scheduler = DetectorScheduler(planted, score_health=False)
    tick(scheduler, END)
    for hours in (1, 2):
        done = tick(scheduler, END + timedelta(hours=hours))
        assert done.evaluated == ["premium_quiet"] and done.fired == []
    assert firings(planted, "premium_quiet") == []


def test_the_scheduler_runs_until_stopped_and_its_firing_reaches_every_department(planted: Services) -> None:
    install_default_playbooks(planted)
    scheduler = DetectorScheduler(planted, interval_s=0.05, score_health=False)

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if firings(planted):
                break
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(run_briefly())
    assert len(firings(planted)) == 1
    PlaybookRunner(planted).drain()
    tasks = list_tasks(planted.views, END)
    assert sorted(t["team"] for t in tasks) == ["cs", "marketing", "product"]
    evidence = {t["team"]: t["evidence"] for t in tasks}
    assert evidence["marketing"]["funnel"]["rows"] and evidence["product"]["firmware"]["firmware"]
    assert evidence["cs"]["answer_pack"]["answers"][0]["reason"] == "pairing_difficulty"


@cache
def at_risk_world() -> tuple[Services, tuple[generator_b2b.Account, ...]]:
    """B2B accounts with the shipped playbooks installed, a model trained, one scheduler tick and the runner drained."""
    svc = services()
    install_default_playbooks(svc)
    accounts = tuple(generator_b2b.generate_accounts(generator_b2b.B2BPlan(accounts=700, seed=13), END))
    generator_b2b.write_accounts(svc.intake, list(accounts))
    train_model(svc, END)
    DetectorScheduler(svc).tick(END)  # no detectors: it only scores customer health
    PlaybookRunner(svc).drain()
    return svc, accounts


def test_an_at_risk_customer_gets_training_and_their_account_manager_a_call_task() -> None:
    svc, _ = at_risk_world()
    risky = [e for e in iter_log(svc.store) if e.type == AT_RISK]
    assert risky
    notes = [e for e in iter_log(svc.store) if e.type == "notification.sent"]
    assert sorted(n.oid for n in notes) == sorted(e.oid for e in risky)
    assert all(n.data["channel"] == "email" and n.data["audience"] == "customer" for n in notes)
    tasks = {t["evidence"]["customer"]: t for t in list_tasks(svc.views, END, team="sales", limit=1000)}
    assert len(tasks) == len(risky)
    for e in risky:
        task = tasks[e.data["customer"]]
        assert task["owner"] == generator_b2b.account_manager(e.data["customer"])
        assert task["oid"] == e.data["oid"] and task["evidence"]["reasons"] == e.data["reasons"]
        assert task["evidence"]["score"] == e.data["score"] < 40 and task["priority"] == "high"


def test_the_value_stream_health_counts_at_risk_customers_as_findings() -> None:
    svc, _ = at_risk_world()
    risky = sum(1 for e in iter_log(svc.store) if e.type == AT_RISK)
    view = ValueStream.of(svc).department_view("value_stream_health", "ops")
    [source] = view["triggers"]["by_source"]
    assert source["type"] == AT_RISK and source["findings"] == source["succeeded"] == risky
    assert view["trigger_success_rate"] == 1.0 and view["triggers"]["tasks_created"] == risky


def test_generated_facts_go_through_the_contracts_and_rewriting_the_world_stores_nothing() -> None:
    svc = services()
    orders = generator.generate(generator.Plan(orders=150, seed=5), END)
    assert generator.write(svc.intake, orders) > 0
    facts = [e for e in iter_log(svc.store) if e.type == "fact.recorded"]
    objects = {(e.data["contract"], e.data["object"], e.data["version"]) for e in facts}
    assert ("product_firmware", "order_firmware", "1.1.0") in objects
    assert ("sales_customer_profile", "customer_profile", "1.1.0") in objects
    assert all(e.actor.endswith("-feed") and e.source == "orderloom/generator" for e in facts)
    calls = [e for e in facts if e.data["domain"] == "customer_service"]
    assert calls and all(e.data["due_at"] is not None for e in calls)  # complaint.opened came first: owed
    assert generator.write(svc.intake, orders) == 0


def test_a_generated_fact_that_breaks_its_contract_is_refused_naming_the_field() -> None:
    svc = services()
    [order] = [g for g in generator.generate(generator.Plan(orders=40, seed=5), END) if g.delivered_at][:1]
    order.attributes["product.firmware_version"] = "three"
    with pytest.raises(ValidationFailed) as refused:
        generator.write(svc.intake, [order])
    assert [(p.rule, p.message.split(":")[0]) for p in refused.value.problems] == [("pattern", "firmware_version")]
    assert not [e for e in iter_log(svc.store) if e.type == "fact.recorded" and e.data["domain"] == "product"]


def test_a_task_owner_is_a_template_checked_when_the_playbook_is_saved() -> None:
    shipped = load_example("detector_evidence").document
    broken = {**shipped, "steps": [{**shipped["steps"][0], "owner": "{{ params.owners. }}"}]}
    assert [(p.field, p.rule) for p in document_problems(broken)] == [("step marketing_funnel / owner", "template")]
    assert document_problems(shipped) == []


def test_the_call_list_matches_bands_and_numbers_as_the_root_cause_named_them() -> None:
    older = {"attribute": "sales.age_band", "op": ">=", "value": "35-44"}
    assert [satisfies(older, v) for v in ("25-34", "35-44", "55+", None)] == [False, True, True, False]
    younger = {"attribute": "sales.age_band", "op": "<=", "value": "25-34"}
    assert [satisfies(younger, v) for v in ("18-24", "25-34", "35-44")] == [True, True, False]
    assert satisfies({"attribute": "sales.prior_category_use", "op": "=", "value": "no"}, False)
    assert not satisfies({"attribute": "marketing.creative", "op": "=", "value": "short_video"}, "image")


def test_the_schedule_command_ticks_once_for_cron_and_refuses_a_zero_interval(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vs.db'}"
    svc = build_services(Settings(db_url=url))
    publish(svc, load_example("headphone_returns"))
    svc.close()
    env = {"ORDERLOOM_DB_URL": url}
    once = CliRunner().invoke(main, ["detectors", "schedule", "--once"], env=env)
    assert once.exit_code == 0, once.output
    tick = orjson.loads(once.stdout.splitlines()[-1])
    # An empty shop: the detector is due, evaluated, and too small to judge.
    assert (tick["evaluated"], tick["fired"], tick["scored"]) == (["headphone_returns"], [], 0)
    zero = CliRunner().invoke(main, ["detectors", "schedule", "--every", "0"], env=env)
    assert zero.exit_code == 2 and "--every" in zero.output


def test_a_complaint_detector_gets_its_packages_from_calls_rather_than_returns(planted: Services) -> None:
    v = load_example("headphone_returns")
    doc = {**v.document, "metric": {"kind": "complaint_rate", "within_days": 30}, "min_cohort": 50}
    publish(
        planted,
        replace(
            v, name="premium_complaints", document={**doc, "compare": {**doc["compare"], "ratio_above": 1.1}}, digest=""
        ),
    )
    tick(DetectorScheduler(planted, score_health=False), END)
    [fired] = [e for e in planted.store.read_stream(stream_of("premium_complaints")) if e.type == FIRED]
    ev = fired.data["evidence"]
    complained = fired.data["cohort"]["events"]
    assert ev["marketing"]["cohort"]["events"] == complained == ev["customer_service"]["events"]
    # Calls are answered by their topic; the generated calls are all about the device.
    assert [a["reason"] for a in ev["customer_service"]["answers"]] == ["device_issue"]
    assert ev["customer_service"]["answers"][0]["count"] == complained
    assert not ev["customer_service"]["answers"][0]["from_library"]  # no library entry: the fallback wording
