"""Builders for the detector, root-cause and health tests: services on a manual clock and generated worlds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from orderloom.api.keys import KeyRing
from orderloom.bootstrap import Services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.reading import OrderReader
from orderloom.store import iter_log, open_store
from orderloom.valuestream import generator, generator_b2b
from orderloom.valuestream.detectors import run_detectors
from orderloom.valuestream.detectors_table import Woven, weave
from orderloom.views.factory import open_view_store
from tests.unit._support import shipped

END = datetime(2026, 5, 1, tzinfo=UTC)
SHOP_ORDERS = 3000


def services(now: datetime = END) -> Services:
    """Fresh in-memory services on a manual clock, sharing the loaded shipped dictionary."""
    d = shipped()
    store = open_store("memory://")
    clock = ManualClock(now)
    directory = OrderDirectory(store)
    intake = Intake(store, d, clock, directory)
    return Services(
        settings=Settings(db_url="memory://"),
        store=store,
        dictionary=d,
        clock=clock,
        directory=directory,
        intake=intake,
        reader=OrderReader(store, d, directory),
        keys=KeyRing(intake),
        views=open_view_store("memory://"),
    )


def publish(svc: Services, version: PolicyVersion) -> int:
    """Save and publish a policy version; its number."""
    log = PolicyLog(svc.intake)
    saved = log.save(version, actor="key:test")
    log.publish(saved.name, saved.version, actor="key:test")
    return saved.version


@cache
def shop_orders(plant: bool, seed: int = 7, orders: int = SHOP_ORDERS) -> tuple[generator.Generated, ...]:
    """The generated shop's orders (pure, no store)."""
    return tuple(generator.generate(generator.Plan(orders=orders, seed=seed, plant=plant), END))


def shop(plant: bool = True, seed: int = 7, orders: int = SHOP_ORDERS) -> Services:
    """Services whose log holds the generated shop, with the shipped headphone detector published."""
    svc = services()
    generator.write(svc.intake, list(shop_orders(plant, seed, orders)))
    publish(svc, load_example("headphone_returns"))
    return svc


@cache
def planted_shop() -> tuple[Services, dict[str, Any]]:
    """One planted shop per test session, with the shipped playbook published, after one detector run at END.

    Tests that share it only add to it (later runs, playbook runs), never change what was generated.
    """
    svc = shop(plant=True)
    publish(svc, load_example("headphone_returns_playbook"))
    [result] = run_detectors(svc, END)
    return svc, result


@cache
def quiet_shop() -> Services:
    """One shop without a planted cause per test session (1,500 orders: enough premium headphones to judge)."""
    return shop(plant=False, orders=1500)


@cache
def accounts(seed: int = 11) -> tuple[generator_b2b.Account, ...]:
    """Generated B2B accounts (pure, no store)."""
    return tuple(generator_b2b.generate_accounts(generator_b2b.B2BPlan(seed=seed), END))


def b2b(seed: int = 11) -> Services:
    """Services whose log holds the generated B2B accounts."""
    svc = services()
    generator_b2b.write_accounts(svc.intake, list(accounts(seed)))
    return svc


def woven(svc: Services) -> Woven:
    """The woven table of the services' log."""
    return weave(iter_log(svc.store))


def test_the_generated_shop_reproduces_the_seed_case_rates() -> None:
    orders = [o for o in shop_orders(True) if o.delivered_at is not None]
    premium = [o for o in orders if o.product.sku == "HP-PRO-X"]
    headphones = [o for o in orders if o.product.category == "headphones"]
    premium_rate = sum(o.returned for o in premium) / len(premium)
    category_rate = sum(o.returned for o in headphones) / len(headphones)
    assert 0.22 < premium_rate < 0.32 and 0.09 < category_rate < 0.14
    quick = [o for o in premium if o.returned and o.return_minutes is not None and o.return_minutes <= 30]
    assert 0.6 < len(quick) / sum(o.returned for o in premium) < 0.85


def test_the_generated_world_is_the_same_for_the_same_seed_and_different_for_another() -> None:
    first = generator.generate(generator.Plan(orders=200, seed=3), END)
    again = generator.generate(generator.Plan(orders=200, seed=3), END)
    other = generator.generate(generator.Plan(orders=200, seed=4), END)
    assert [(g.oid, g.attributes, g.return_minutes) for g in first] == [
        (g.oid, g.attributes, g.return_minutes) for g in again
    ]
    assert [g.attributes for g in first] != [g.attributes for g in other]


def test_no_generated_event_lies_in_the_future() -> None:
    svc = services(END)
    written = generator.write(svc.intake, generator.generate(generator.Plan(orders=300, seed=5), END))
    written += generator_b2b.write_accounts(
        svc.intake, generator_b2b.generate_accounts(generator_b2b.B2BPlan(200), END)
    )
    times = [e.occurred_at for e in iter_log(svc.store)]
    assert written == len(times) and max(times) <= END and min(times) > END - timedelta(days=400)
