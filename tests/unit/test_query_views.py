"""Department views over the query tables: repurchase per channel, rush orders and days to cash per customer,
value-stream health; and the value-stream map."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

import pytest

from orderloom.core.errors import Forbidden, NotFound
from orderloom.status.orders import place_order
from orderloom.valuestream.runtime import ValueStream
from tests.unit._support import NOW, T0, Rig, order_body, raw_event, rig

DAY = 24 * 60
# Minutes from T0 to the rig's "now".
NOW_MIN = (NOW - T0).total_seconds() / 60


@dataclass(frozen=True)
class Planned:
    oid: str
    customer: str
    channel: str
    day: int  # days before now
    rush: bool | None = None
    paid_after_h: float | None = None
    attribution: str | None = None

    @property
    def minutes(self) -> float:
        return NOW_MIN - self.day * DAY


PLAN = (
    Planned("OL-V-1", "C-1", "douyin", 60, rush=True, paid_after_h=2, attribution="live_x"),
    Planned("OL-V-2", "C-1", "tmall", 50, rush=False, paid_after_h=30),
    Planned("OL-V-3", "C-2", "douyin", 45, paid_after_h=1),
    Planned("OL-V-4", "C-2", "douyin", 5, rush=True),
    Planned("OL-V-5", "C-3", "douyin", 35, paid_after_h=5),
)


def repurchase_expectation(window: int = 30) -> dict[str, tuple[int, int, int]]:
    """Per channel: (orders, observed, repurchased), computed straight from the plan."""
    out: dict[str, tuple[int, int, int]] = {}
    for p in PLAN:
        observed = p.day >= window
        later = [q.day for q in PLAN if q.customer == p.customer and q.day < p.day]
        again = observed and bool(later) and p.day - max(later) <= window
        o, s, a = out.get(p.channel, (0, 0, 0))
        out[p.channel] = (o + 1, s + observed, a + again)
    return out


@pytest.fixture(scope="module")
def world() -> tuple[Rig, ValueStream]:
    r = rig()
    vs = ValueStream(r.store, r.dictionary, r.intake, r.clock)
    for p in PLAN:
        body = order_body(p.oid, customer=p.customer, minutes=p.minutes)
        body["channel"] = p.channel
        assert place_order(r.intake, body, source="t", actor=None).created
        if p.paid_after_h is not None:
            r.record(
                raw_event(
                    r.dictionary,
                    "payment.captured",
                    oid=p.oid,
                    eid=f"pay-{p.oid}",
                    minutes=p.minutes + p.paid_after_h * 60,
                )
            )
        if p.rush is not None:
            assert (
                vs.desk.record("supply_chain", [{"oid": p.oid, "rush_order": p.rush}], actor="t")[0].status
                == "accepted"
            )
        if p.attribution is not None:
            vs.desk.record("marketing", [{"oid": p.oid, "channel_id": p.attribution, "campaign": "c"}], actor="t")
    runs = [("Raaaaaaaaaaaaaaaaaaaa", "done"), ("Rbbbbbbbbbbbbbbbbbbbb", "failed"), ("Rcccccccccccccccccccc", None)]
    for n, (run, outcome) in enumerate(runs):
        started = {"run": run, "playbook": "coldchain_stall", "version": 1, "trigger": {"id": f"t{n}", "type": "x"}}
        events = [raw_event(r.dictionary, "playbook.run_started", oid="OL-V-4", eid=f"rs-{n}", minutes=NOW_MIN - 60)]
        events[0]["data"] = started
        if outcome is not None:
            finished = raw_event(
                r.dictionary, "playbook.run_finished", oid="OL-V-4", eid=f"rf-{n}", minutes=NOW_MIN - 30
            )
            finished["data"] = {"run": run, "playbook": "coldchain_stall", "version": 1, "outcome": outcome}
            events.append(finished)
        assert all(x.status == "accepted" for x in r.intake.record(events, allow_internal=True))
    return r, vs


def test_repurchase_rate_per_channel_counts_orders_with_a_full_window(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    answer = vs.department_view("repurchase_by_channel", "ops", days=30)
    got = {c["channel"]: (c["orders"], c["observed"], c["repurchased"]) for c in answer["channels"]}
    assert got == repurchase_expectation(30)
    douyin = next(c for c in answer["channels"] if c["channel"] == "douyin")
    assert douyin["repurchase_rate"] == round(douyin["repurchased"] / douyin["observed"], 4)


def test_repurchase_can_use_the_marketing_attribution_channel(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    answer = vs.department_view("repurchase_by_channel", "ops", channel="attribution")
    channels = {c["channel"]: c["orders"] for c in answer["channels"]}
    assert channels["live_x"] == 1
    assert channels["douyin"] == sum(1 for p in PLAN if p.channel == "douyin" and p.attribution is None)


def test_rush_order_frequency_per_customer_comes_from_the_supply_chain_facts(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    answer = vs.department_view("rush_orders_by_customer", "ops", days=90)
    got = {c["customer_id"]: (c["orders"], c["flagged"], c["rush_orders"]) for c in answer["customers"]}
    for customer in {p.customer for p in PLAN}:
        mine = [p for p in PLAN if p.customer == customer]
        assert got[customer] == (len(mine), sum(p.rush is not None for p in mine), sum(bool(p.rush) for p in mine))
    assert answer["overall"]["rush_orders"] == sum(bool(p.rush) for p in PLAN)
    assert answer["customers"][0]["rush_orders"] == max(v[2] for v in got.values())


def test_days_to_cash_per_customer_runs_from_placement_to_payment(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    answer = vs.department_view("days_to_cash_by_customer", "finance", days=90)
    rows = {c["customer_id"]: c for c in answer["customers"]}
    for customer in {p.customer for p in PLAN}:
        mine = [p for p in PLAN if p.customer == customer]
        paid = [p.paid_after_h / 24 for p in mine if p.paid_after_h is not None]
        assert rows[customer]["paid"] == len(paid)
        assert rows[customer]["unpaid"] == len(mine) - len(paid)
        assert rows[customer]["avg_days_to_cash"] == pytest.approx(mean(paid), abs=0.001)


def test_value_stream_health_has_contract_fulfilment_and_playbook_success(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    answer = vs.department_view("value_stream_health", "cs", days=90)
    rush = next(c for c in answer["contracts"] if c["contract"] == "supply_chain_rush")
    assert rush["due"] == len(PLAN)
    assert rush["on_time"] == 0  # every flag was delivered when the test ran, long after its 30 minutes
    (pb,) = answer["playbooks"]
    assert (pb["started"], pb["done"], pb["failed"], pb["running"]) == (3, 1, 1, 1)
    assert answer["playbook_trigger_success_rate"] == 0.5


def test_a_role_outside_a_views_audience_is_refused(world: tuple[Rig, ValueStream]) -> None:
    _, vs = world
    with pytest.raises(Forbidden):
        vs.department_view("rush_orders_by_customer", "finance")
    with pytest.raises(NotFound):
        vs.department_view("horoscope", "admin")


def test_the_map_places_each_department_at_its_stages_in_lifecycle_order(world: tuple[Rig, ValueStream]) -> None:
    r, vs = world
    m = vs.map()
    stages = [s["stage"] for s in m["stages"]]
    assert stages == [s for s in r.dictionary.stages if s != "system"]
    touching = {s["stage"]: {d["department"] for d in s["departments"]} for s in m["stages"]}
    assert "supply_chain" in touching["placement"] and "sales" in touching["placement"]
    assert "marketing" in touching["payment"] and "finance" in touching["payment"]
    assert "product" in touching["warehouse"] and "customer_service" in touching["after_sales"]
    marketing = next(d for d in m["departments"] if d["department"] == "marketing")
    fields = {f["name"] for f in marketing["contracts"][0]["objects"][0]["fields"]}
    assert {"channel_id", "campaign", "creative", "interest_tags"} <= fields
