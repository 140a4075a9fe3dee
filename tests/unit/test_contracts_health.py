"""Contract health: owed orders delivered on time, late or missing, refused deliveries, and the daily trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from orderloom.core.clock import ManualClock
from orderloom.core.errors import Forbidden, ValidationFailed
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.orders import place_order
from orderloom.store.memory import MemoryEventStore
from orderloom.valuestream.catalog import shipped_files
from orderloom.valuestream.config import ValueStreamConfig
from orderloom.valuestream.runtime import ValueStream
from tests.unit._support import T0, order_body, raw_event, shipped

PAID_AFTER = timedelta(minutes=10)


@dataclass
class World:
    store: MemoryEventStore
    clock: ManualClock
    intake: Intake

    def until(self, minutes: float) -> None:
        """Move the clock to T0 + minutes."""
        self.clock.advance(T0 + timedelta(minutes=minutes) - self.clock.now())

    def valuestream(self, config: ValueStreamConfig | None = None) -> ValueStream:
        return ValueStream(self.store, shipped(), self.intake, self.clock, config, extension_dir=None)


@pytest.fixture
def world() -> World:
    """Four paid orders: marketing attribution on time (1), late (2), never (3), not due yet (4); 5 is unpaid."""
    clock = ManualClock(T0)
    store = MemoryEventStore()
    w = World(store, clock, Intake(store, shipped(), clock, OrderDirectory(store)))
    vs = w.valuestream()
    for n, customer in ((1, "C-1"), (2, "C-1"), (3, "C-3"), (5, "C-5")):
        place_order(w.intake, order_body(f"OL-H-{n}", customer=customer), source="t", actor=None)
    w.until(10)
    for n in (1, 2, 3):
        w.intake.record([raw_event(shipped(), "payment.captured", oid=f"OL-H-{n}", eid=f"pay-{n}", minutes=10)])
    w.until(60)
    vs.desk.record("marketing", [{"oid": "OL-H-1", "channel_id": "douyin_live", "campaign": "a"}], actor="t")
    vs.desk.record("sales", [{"customer_id": "C-1", "segment": "vip", "lifetime_value": 1}], actor="t")
    vs.desk.record("marketing", [{"oid": "OL-H-3", "channel_id": "BAD"}], actor="t")
    w.until(300)
    vs.desk.record("marketing", [{"oid": "OL-H-2", "channel_id": "wechat", "campaign": "a"}], actor="t")
    w.until(23 * 60)
    place_order(w.intake, order_body("OL-H-4", customer="C-4", minutes=23 * 60), source="t", actor=None)
    w.until(23 * 60 + 30)
    w.intake.record([raw_event(shipped(), "payment.captured", oid="OL-H-4", eid="pay-4", minutes=23 * 60 + 30)])
    w.until(25 * 60)  # OL-H-4's attribution is due at +25.5 h
    return w


def test_each_owed_order_is_on_time_late_missing_or_pending(world: World) -> None:
    h = world.valuestream().health("marketing_attribution", "ops")
    assert h["orders"] == {"owed": 4, "due": 3, "on_time": 1, "late": 1, "missing": 1, "pending": 1}
    assert h["fulfilment_rate"] == round(1 / 3, 4)
    assert h["median_late_s"] == (300 - 10 - 120) * 60  # arrived at +300 min, due at +130 min
    assert h["owed_fields"] == ["channel_id", "campaign"]


def test_refused_deliveries_are_counted_with_their_rules(world: World) -> None:
    h = world.valuestream().health("marketing_attribution", "ops")
    assert h["deliveries"]["rejected"] == 1
    assert {(x["field"], x["rule"]) for x in h["rejections_by_rule"]} == {
        ("channel_id", "pattern"),
        ("campaign", "required"),
    }


def test_the_trend_counts_each_day_in_the_asked_time_zone(world: World) -> None:
    h = world.valuestream().health("marketing_attribution", "ops", tz="Asia/Shanghai")
    day = T0.strftime("%Y-%m-%d")
    (first,) = [d for d in h["trend"] if d["day"] == day]
    assert (first["due"], first["on_time"], first["late"], first["missing"], first["rejected"]) == (3, 1, 1, 1, 1)
    # Due at 02:10 UTC on T0's day, which is still the evening before in Los Angeles.
    la = world.valuestream().health("marketing_attribution", "ops", tz="America/Los_Angeles")
    earlier = (T0 - timedelta(days=1)).strftime("%Y-%m-%d")
    assert [(d["day"], d["due"]) for d in la["trend"] if d["due"]] == [(earlier, 3)]


def test_a_customer_profile_counts_for_every_order_of_the_customer(world: World) -> None:
    h = world.valuestream().health("sales_customer_profile", "ops")
    # C-1's two orders are covered by one profile; C-3 and C-5 have none and are past due; C-4 is not due yet.
    assert h["orders"] == {"owed": 5, "due": 4, "on_time": 2, "late": 0, "missing": 2, "pending": 1}


def test_facts_that_no_longer_meet_a_stricter_contract_count_as_missing(world: World, tmp_path: Path) -> None:
    doc = yaml.safe_load(next(p for p in shipped_files() if p.stem == "marketing").read_text("utf-8"))
    doc["version"] = "1.1.0"
    next(f for f in doc["schema"][0]["properties"] if f["name"] == "creative")["required"] = True
    path = tmp_path / "marketing.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    h = world.valuestream(ValueStreamConfig(contract_paths=(str(path),))).health("marketing_attribution", "ops")
    assert h["version"] == "1.1.0"
    assert (h["orders"]["on_time"], h["orders"]["late"], h["orders"]["missing"]) == (0, 0, 3)
    assert h["deliveries"]["invalid_under_current_contract"] == 2


def test_only_orders_due_in_the_window_count(world: World) -> None:
    world.clock.advance(timedelta(days=40))
    h = world.valuestream().health("marketing_attribution", "ops", days=30)
    assert h["orders"]["owed"] == 0 and h["fulfilment_rate"] is None


def test_a_role_that_may_not_read_the_contract_gets_no_health(world: World) -> None:
    with pytest.raises(Forbidden):
        world.valuestream().health("marketing_attribution", "finance")


def test_an_unknown_time_zone_is_named(world: World) -> None:
    with pytest.raises(ValidationFailed) as caught:
        world.valuestream().health("marketing_attribution", "ops", tz="Mars/Olympus")
    assert caught.value.problems[0].field == "tz"
