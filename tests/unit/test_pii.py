"""Personal data is sealed per customer; forgetting the customer erases it without breaking any chain."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from orderloom.bootstrap import Services, build_services
from orderloom.core.clock import ManualClock
from orderloom.core.pii import ERASED, PREFIX, seal, unseal
from orderloom.core.settings import Settings
from orderloom.dictionary import load_dictionary
from orderloom.status.orders import place_order
from orderloom.status.verify import verify_stream
from orderloom.store.memory import MemoryEventStore
from tests.unit._support import CUSTOMER, NOW, order_body, raw_event, rig

PATHS = ("recipient.name", "recipient.phone", "destination.address")
DATA = {
    "recipient": {"name": "王晓明", "phone": "13800138000"},
    "destination": {"city": "南京市", "address": "中山北路 200 号"},
    "total": 1350.6,
}


def key() -> bytes:
    return os.urandom(64)


# ------------------------------------------------------------------ seal and unseal


def test_sealed_personal_fields_unseal_to_the_original() -> None:
    k = key()
    sealed = seal(DATA, PATHS, k, CUSTOMER)
    assert unseal(sealed, PATHS, k, CUSTOMER) == DATA


def test_sealing_hides_each_personal_field_and_nothing_else() -> None:
    sealed = seal(DATA, PATHS, key(), CUSTOMER)
    for outer, inner in (("recipient", "name"), ("recipient", "phone"), ("destination", "address")):
        assert sealed[outer][inner].startswith(PREFIX)
        assert DATA[outer][inner] not in sealed[outer][inner]
    assert sealed["destination"]["city"] == "南京市"
    assert sealed["total"] == 1350.6


def test_sealing_leaves_the_input_untouched() -> None:
    before = copy.deepcopy(DATA)
    seal(DATA, PATHS, key(), CUSTOMER)
    assert before == DATA


def test_sealing_is_deterministic() -> None:
    k = key()
    assert seal(DATA, PATHS, k, CUSTOMER) == seal(DATA, PATHS, k, CUSTOMER)


def test_sealing_twice_does_not_seal_again() -> None:
    k = key()
    once = seal(DATA, PATHS, k, CUSTOMER)
    assert seal(once, PATHS, k, CUSTOMER) == once


def test_equal_values_in_different_fields_seal_differently() -> None:
    k = key()
    data = {"recipient": {"name": "same", "phone": "same"}}
    sealed = seal(data, ("recipient.name", "recipient.phone"), k, CUSTOMER)
    assert sealed["recipient"]["name"] != sealed["recipient"]["phone"]


def test_another_customers_key_cannot_read_it() -> None:
    sealed = seal(DATA, PATHS, key(), CUSTOMER)
    other = unseal(sealed, PATHS, key(), "C-OTHER")
    assert other["recipient"] == {"name": ERASED, "phone": ERASED}
    assert other["destination"]["address"] == ERASED


def test_the_right_key_under_another_customer_id_cannot_read_it() -> None:
    k = key()
    sealed = seal(DATA, PATHS, k, CUSTOMER)
    assert unseal(sealed, PATHS, k, "C-OTHER")["recipient"]["name"] == ERASED


def test_without_a_key_every_sealed_field_reads_as_erased() -> None:
    sealed = seal(DATA, PATHS, key(), CUSTOMER)
    gone = unseal(sealed, PATHS, None, CUSTOMER)
    assert gone["recipient"] == {"name": ERASED, "phone": ERASED}
    assert gone["destination"] == {"city": "南京市", "address": ERASED}


def test_a_mangled_sealed_value_reads_as_erased() -> None:
    k = key()
    sealed = seal(DATA, PATHS, k, CUSTOMER)
    sealed["recipient"]["name"] = PREFIX + "not-base64!!"
    assert unseal(sealed, PATHS, k, CUSTOMER)["recipient"]["name"] == ERASED


def test_missing_or_non_text_personal_fields_are_left_alone() -> None:
    k = key()
    data = {"recipient": {"phone": 13800138000}, "total": 1}
    assert seal(data, PATHS, k, CUSTOMER) == data
    assert unseal(data, PATHS, None, CUSTOMER) == data


def test_plain_text_that_was_never_sealed_is_not_erased() -> None:
    assert unseal(DATA, PATHS, None, CUSTOMER) == DATA


# ------------------------------------------------------------------ through the whole service


@pytest.fixture
def services() -> Services:
    return build_services(Settings(db_url="memory://"), clock=ManualClock(NOW))


def placed(services: Services, oid: str = "OL-PII-1") -> str:
    result = place_order(services.intake, order_body(oid), source="shop", actor="customer:" + CUSTOMER)
    assert result.created
    return result.oid


def test_the_services_on_memory_use_the_memory_store(services: Services) -> None:
    assert isinstance(services.store, MemoryEventStore)


def test_personal_data_is_stored_sealed_and_read_back_in_clear(services: Services) -> None:
    oid = placed(services)
    stored = services.store.read_stream(oid)[0]
    assert stored.data["recipient"]["name"].startswith(PREFIX)
    assert "王晓明" not in stored.as_event().body().decode()
    step = services.reader.chain(oid, "cs")["steps"][0]
    assert step["data"]["recipient"] == {"name": "王晓明", "phone": "13800138000"}


def test_placing_the_same_order_again_is_a_harmless_duplicate(services: Services) -> None:
    oid = placed(services)
    again = place_order(services.intake, order_body(oid), source="shop", actor="customer:" + CUSTOMER)
    assert again.oid == oid
    assert again.created is False
    assert len(services.store.read_stream(oid)) == 1


def test_forgetting_the_customer_erases_personal_data_but_the_chain_still_verifies(services: Services) -> None:
    oid = placed(services)
    services.intake.record([raw_event(services.dictionary, "customer.picked_up", oid=oid, minutes=60)])
    before = services.store.read_stream(oid)
    assert verify_stream(oid, before).ok
    assert services.store.forget_customer(CUSTOMER) is True

    after = services.store.read_stream(oid)
    assert after == before  # nothing stored was rewritten
    verdict = verify_stream(oid, after)
    assert verdict.ok and verdict.checked == 2
    assert services.reader.verify(oid).ok

    steps = services.reader.chain(oid, "cs")["steps"]
    assert steps[0]["data"]["recipient"] == {"name": ERASED, "phone": ERASED}
    assert steps[0]["data"]["destination"]["address"] == ERASED
    assert steps[0]["data"]["destination"]["city"] == "南京市"  # not personal, still readable
    assert steps[1]["data"]["picked_up_by"] == ERASED
    assert steps[1]["data"]["pickup_point"] == "鼓楼区湖南路凤凰社区团购自提点"


def test_forgetting_a_customer_twice_reports_there_was_nothing_left(services: Services) -> None:
    placed(services)
    assert services.store.forget_customer(CUSTOMER) is True
    assert services.store.forget_customer(CUSTOMER) is False


def test_forgetting_one_customer_leaves_another_readable(services: Services) -> None:
    mine = placed(services, "OL-PII-MINE")
    theirs = place_order(
        services.intake, order_body("OL-PII-THEIRS", customer="C-OTHER"), source="shop", actor=None
    ).oid
    services.store.forget_customer(CUSTOMER)
    assert services.reader.chain(mine, "ops")["steps"][0]["data"]["recipient"]["name"] == ERASED
    assert services.reader.chain(theirs, "ops")["steps"][0]["data"]["recipient"]["name"] == "王晓明"


# ------------------------------------------------------------------ personal fields renamed by an upcast

CONTACTED_V1 = """\
dictionary: acme_v1
types:
  acme.contacted:
    version: 1
    label: {zh: 已联系, en: Contacted}
    stage: after_sales
    leg: customer
    data:
      type: object
      required: [contact]
      additionalProperties: false
      properties:
        contact: {type: string}
    pii: [contact]
    visibility: {}
    example: {data: {contact: "13900001111"}}
"""

CONTACTED_V2 = """\
dictionary: acme_v2
types:
  acme.contacted:
    version: 2
    label: {zh: 已联系, en: Contacted}
    stage: after_sales
    leg: customer
    data:
      type: object
      required: [phone]
      additionalProperties: false
      properties:
        phone: {type: string}
    pii: [phone]
    visibility: {}
    upcast:
      - {from: 1, rename: {contact: phone}}
    example: {data: {phone: "13900001111"}}
"""


def test_a_personal_field_sent_under_its_old_name_is_still_sealed(tmp_path: Path) -> None:
    (tmp_path / "a_v1.yaml").write_text(CONTACTED_V1, "utf-8")
    (tmp_path / "b_v2.yaml").write_text(CONTACTED_V2, "utf-8")
    d = load_dictionary(extra=[tmp_path / "a_v1.yaml", tmp_path / "b_v2.yaml"])
    r = rig(d)
    oid = r.place("OL-RENAMED")
    r.record(
        {
            "id": "contact-1",
            "type": "acme.contacted",
            "source": "t",
            "oid": oid,
            "time": "2026-05-01T09:00:00+08:00",
            "schemaver": 1,
            "data": {"contact": "13900001111"},
        }
    )
    assert r.reader.chain(oid, "ops")["steps"][-1]["data"] == {"phone": "13900001111"}
    stored = r.store.read_stream(oid)[-1]
    assert "13900001111" not in stored.as_event().body().decode()


class FirstLookupMisses:
    """A store seen from a process that has not yet seen a customer's key."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def customer_keys(self, customers: list[str], create: bool) -> dict[str, bytes]:
        self.calls += 1
        return {} if self.calls == 1 else self.store.customer_keys(customers, create)


def test_a_writer_that_lost_the_race_for_a_new_customers_key_seals_with_the_winners_key() -> None:
    from orderloom.status.intake import Intake

    svc = build_services(Settings(db_url="memory://"))
    place_order(svc.intake, order_body("OL-RACE-1", customer="C-RACE"), source="t", actor=None)
    assert isinstance(svc.store, MemoryEventStore)
    winner = svc.store.customer_keys(["C-RACE"], create=False)["C-RACE"]
    stale = FirstLookupMisses(svc.store)
    other = Intake(stale, svc.dictionary, svc.clock, svc.directory)  # type: ignore[arg-type]
    placed = place_order(other, order_body("OL-RACE-2", customer="C-RACE"), source="t", actor=None)
    assert placed.created and stale.calls == 2  # the conflict was noticed and the winner's key fetched
    assert svc.store.customer_keys(["C-RACE"], create=False)["C-RACE"] == winner
    name = order_body("OL-RACE-2")["recipient"]["name"]
    assert svc.reader.chain("OL-RACE-2", "ops")["steps"][0]["data"]["recipient"]["name"] == name
