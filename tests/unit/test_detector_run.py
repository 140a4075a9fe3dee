"""Running detectors over the woven log: the planted problem fires once per period with its evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orderloom.bootstrap import Services
from orderloom.playbook import PlaybookRunner
from orderloom.policy import load_example
from orderloom.policy.log import PolicyLog
from orderloom.store import iter_log
from orderloom.valuestream.detectors import FIRED, list_detectors, run_detectors, stream_of
from orderloom.valuestream.generator import Generated
from tests.unit.test_detector_rig import END, planted_shop, publish, quiet_shop, services, shop, shop_orders, woven

_SECRET = "customer_service.sentiment"  # learned from calls after delivery, so absent from some orders


def rate(orders: tuple[Generated, ...]) -> float:
    delivered = [o for o in orders if o.delivered_at is not None and o.delivered_at > END - timedelta(days=60)]
    return sum(o.returned for o in delivered) / len(delivered)


@pytest.fixture
def planted() -> tuple[Services, dict[str, Any]]:
    """The planted shop after one detector run at END, shared by this session's tests."""
    return planted_shop()


def firings(svc: Services) -> list[Any]:
    return [e for e in svc.store.read_stream(stream_of("headphone_returns")) if e.type == FIRED]


def test_the_woven_table_joins_each_order_with_every_departments_facts(planted: tuple[Services, Any]) -> None:
    table = woven(planted[0])
    for g in shop_orders(True)[:200]:
        order = table.orders[g.oid]
        attrs = table.attributes(order)
        expected = {k: v for k, v in g.attributes.items() if k != _SECRET}
        if g.delivered_at is not None:  # product facts come with the shipment
            assert {k: attrs.get(k) for k in expected} == expected
        assert order.customer == g.customer and order.return_minutes == g.return_minutes


def test_what_was_known_at_a_moment_leaves_out_what_came_later(planted: tuple[Services, Any]) -> None:
    table = woven(planted[0])
    g = next(o for o in shop_orders(True) if o.delivered_at is not None and o.call_at is not None)
    order = table.orders[g.oid]
    assert table.attributes(order)[_SECRET] == g.attributes[_SECRET]
    at_delivery = table.attributes(order, at=g.delivered_at)
    assert _SECRET not in at_delivery and at_delivery["product.category"] == g.product.category


def test_the_planted_return_problem_fires_with_its_evidence_on_the_detectors_stream(
    planted: tuple[Services, Any],
) -> None:
    svc, result = planted
    assert result["fires"] and result["status"] == "fired"
    d = firings(svc)[0].data
    premium = tuple(o for o in shop_orders(True) if o.product.sku == "HP-PRO-X")
    headphones = tuple(o for o in shop_orders(True) if o.product.category == "headphones")
    assert abs(d["cohort"]["rate"] - rate(premium)) < 0.005
    assert abs(d["comparison"]["rate"] - rate(headphones)) < 0.005
    assert d["ratio"] > d["threshold"] == 2.0 and d["cohort"]["size"] >= 100
    assert d["window"]["to"].startswith("2026-05-01") and d["window"]["from"].startswith("2026-03-02")
    assert "short_video" in d["causes"][0]["text"] and any("30 minutes" in s for s in d["summary"])


def test_running_again_in_the_same_period_appends_nothing_and_the_next_period_fires_again(
    planted: tuple[Services, Any],
) -> None:
    svc, first = planted
    before = svc.store.last_position()
    [again] = run_detectors(svc, END + timedelta(hours=5))
    assert again["status"] == "already_fired" and again["event_id"] == first["event_id"]
    assert svc.store.last_position() == before
    svc.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    [tomorrow] = run_detectors(svc, END + timedelta(days=1))
    assert tomorrow["status"] == "fired" and tomorrow["event_id"] != first["event_id"]
    assert len(firings(svc)) == 2


def test_the_shipped_playbook_gives_each_department_its_task_when_the_detector_fires(
    planted: tuple[Services, Any],
) -> None:
    svc, _ = planted
    PlaybookRunner(svc).drain()
    teams = [e.data["team"] for e in iter_log(svc.store) if e.type == "task.created"]
    assert sorted(set(teams)) == ["cs", "marketing", "product"] and len(teams) == 3 * len(firings(svc))
    evidence = {e.data["team"]: e.data["evidence"] for e in iter_log(svc.store) if e.type == "task.created"}
    assert set(evidence["marketing"]["funnel"]) >= {"stages", "cohort", "rows"}
    assert evidence["product"]["firmware"]["crash_reports"]["signatures"][0]["signature"] == "pairing.ble_timeout"
    assert evidence["cs"]["answer_pack"]["answers"][0]["reason"] == "pairing_difficulty"
    listed = list_detectors(svc)
    assert [d["name"] for d in listed] == ["headphone_returns"] and len(listed[0]["firings"]) == len(firings(svc))


def test_without_a_planted_cause_the_detector_stays_quiet_and_says_why() -> None:
    svc = quiet_shop()
    [result] = run_detectors(svc, END)
    assert result["cohort"]["size"] >= 100 and not result["fires"] and "not above 2×" in result["why_not"]
    assert not [e for e in iter_log(svc.store) if e.type == FIRED]


def test_a_saved_but_unpublished_detector_is_not_run() -> None:
    svc = services()
    PolicyLog(svc.intake).save(load_example("headphone_returns"), actor="key:test")
    assert run_detectors(svc, END) == [] and list_detectors(svc) == []


def test_a_cohort_too_small_to_judge_does_not_fire() -> None:
    svc = shop(plant=True, orders=400)
    [result] = run_detectors(svc, END)
    assert not result["fires"] and "fewer than the 100 needed" in result["why_not"]
    v = load_example("headphone_returns")
    publish(svc, replace(v, document={**v.document, "min_cohort": 10}, digest=""))
    [result] = run_detectors(svc, END)
    assert result["version"] == 2 and (result["fires"] or "not above" in result["why_not"])
