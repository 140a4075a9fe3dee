"""Industry packs: manifests load, their policies are clean and golden-tested, installing is idempotent and
never overrides a person's edit; the engine pieces they rely on (emitted events, counted windows, paused
intake, tax-id checks) behave."""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from orderloom.core.envelope import format_time
from orderloom.core.errors import ValidationFailed
from orderloom.packs import get_pack, installed_packs, list_packs
from orderloom.packs.install import check_pack, install_pack
from orderloom.packs.trade.taxids import br_tax_id_problem, cnpj_problem, cpf_problem, vat_problem
from orderloom.playbook import document_problems
from orderloom.policy import GoldenCase, lint, run_golden
from orderloom.policy.log import PolicyLog
from orderloom.status.intake import Intake
from orderloom.status.orders import place_order
from orderloom.status.pauses import REFRESH_S, IntakePauses, pause_stream
from tests.unit.test_playbook_rig import NOW, order_body, services


@pytest.mark.parametrize("name", ["manufacturing", "coldchain", "crossborder"])
def test_each_shipped_pack_loads_and_its_policies_are_clean_and_pass_their_golden_tests(name: str) -> None:
    pack = get_pack(name)
    assert check_pack(pack), "a pack brings at least one event type"
    for version in pack.policy_versions():
        assert lint(version) == [], version.name
        results = run_golden(version)
        assert results and all(r.passed for r in results), [(r.case, r.problems) for r in results if not r.passed]


def test_the_catalog_lists_the_three_packs_and_names_them_when_asked_for_another() -> None:
    assert [p.name for p in list_packs()] == ["coldchain", "crossborder", "manufacturing"]
    with pytest.raises(Exception, match="coldchain, crossborder, manufacturing"):
        get_pack("../etc")


def test_installing_twice_writes_once_and_a_persons_own_version_is_kept() -> None:
    svc = services()
    first = install_pack(svc, "crossborder", actor="key:admin")
    assert first["changed"] and first["policies"] == [
        {"name": "crossborder_terms", "version": 1, "action": "published"}
    ]
    head = svc.store.last_position()
    again = install_pack(svc, "crossborder", actor="key:admin")
    assert not again["changed"] and svc.store.last_position() == head
    assert list(installed_packs(svc.store)) == ["crossborder"]

    log = PolicyLog(svc.intake)
    mine = log.state("crossborder_terms").versions[1]
    document = copy.deepcopy(mine.document)
    document["nodes"][1]["name"] = "Our terms"
    edited = replace(mine, document=document, note="our own VAT wording", digest="")
    saved = log.save(edited, actor="key:strategy")
    log.publish("crossborder_terms", saved.version, actor="key:strategy")
    kept = install_pack(svc, "crossborder", actor="key:admin")
    assert kept["policies"][0] == {"name": "crossborder_terms", "version": 2, "action": "kept_local_edit"}
    assert log.state("crossborder_terms").stable == 2


def test_a_paused_channel_refuses_new_orders_until_it_is_resumed() -> None:
    svc = services()
    pauses = IntakePauses(svc.store)
    svc.intake.guards.append(pauses.problem)
    stream = pause_stream("store:GZ-TH-ST")

    def command(cid: str, name: str) -> None:
        raw = {
            "id": cid,
            "type": "command.issued",
            "source": "t",
            "oid": stream,
            "time": format_time(NOW),
            "data": {
                "command_id": cid,
                "command": name,
                "target": stream,
                "args": {"reason_text": "fridge FR-07 reads 11.5 °C"},
            },
        }
        assert svc.intake.record([raw], allow_internal=True)[0].status == "accepted"

    store_order = {**order_body("OL-P-1"), "channel": "store:GZ-TH-ST"}
    assert place_order(svc.intake, store_order, source="t", actor=None).created
    command("c1", "pause_intake")
    with pytest.raises(Exception, match=r"paused since .*FR-07 reads 11\.5"):
        place_order(svc.intake, {**store_order, "oid": "OL-P-2"}, source="t", actor=None)
    assert place_order(svc.intake, {**order_body("OL-P-3"), "channel": "douyin"}, source="t", actor=None).created
    command("c2", "resume_intake")
    assert place_order(svc.intake, {**store_order, "oid": "OL-P-4"}, source="t", actor=None).created


def test_a_pause_written_by_another_worker_counts_here_within_the_refresh_time() -> None:
    svc = services()
    svc.intake.guards.append(IntakePauses(svc.store).problem)
    other = Intake(svc.store, svc.dictionary, svc.clock, svc.directory)  # another worker's intake
    stream = pause_stream("store:GZ-TH-ST")
    store_order = {**order_body("OL-W-1"), "channel": "store:GZ-TH-ST"}
    assert place_order(svc.intake, store_order, source="t", actor=None).created
    raw = {
        "id": "w1",
        "type": "command.issued",
        "source": "t",
        "oid": stream,
        "time": format_time(NOW),
        "data": {"command_id": "w1", "command": "pause_intake", "target": stream, "args": {"reason": "test"}},
    }
    assert other.record([raw], allow_internal=True)[0].status == "accepted"
    time.sleep(REFRESH_S + 0.05)
    with pytest.raises(ValidationFailed, match="paused since"):
        place_order(svc.intake, {**store_order, "oid": "OL-W-2"}, source="t", actor=None)


def test_an_emitted_event_may_not_impersonate_orderloom_and_a_window_must_be_a_duration() -> None:
    doc = copy.deepcopy(get_pack("coldchain").policy_versions()[1].document)
    doc["steps"][0]["within"] = "an hour"
    doc["steps"].append({"id": "fake", "type": "emit_event", "event": "task.created", "data": {}})
    found = {(p.field, p.rule) for p in document_problems(doc)}
    assert found == {("step recent / within", "format"), ("step fake / event", "reserved")}


def test_a_counted_window_ends_at_the_trigger_and_leaves_older_events_out() -> None:
    version = get_pack("coldchain").policy_versions()[1]
    case = copy.deepcopy(next(c for c in version.tests if c.name.startswith("surge with a warm")).as_dict())
    stamp = case["input"]["trigger"]["time"]
    old = format_time(NOW - timedelta(hours=2))
    case["input"]["facts"]["recent"]["events"] = [{"time": stamp, "data": {}}] * 4 + [{"time": old, "data": {}}] * 3
    case["expect"] = {"commands": [], "branches": {"surge": "else"}}
    [result] = run_golden(replace(version, tests=(GoldenCase.from_dict(case),), digest=""))
    assert result.passed, result.problems


@pytest.mark.parametrize(
    ("text", "ok"),
    [("11.222.333/0001-81", True), ("11222333000181", True), ("11.222.333/0001-80", False), ("11111111111111", False)],
)
def test_cnpj_check_digits(text: str, ok: bool) -> None:
    assert (cnpj_problem(text) is None) is ok


def test_cpf_check_digits_and_the_choice_between_cnpj_and_cpf() -> None:
    assert cpf_problem("529.982.247-25") is None
    assert "expected 25" in (cpf_problem("529.982.247-26") or "")
    assert br_tax_id_problem("529.982.247-25") is None
    assert "CNPJ (14 digits) or a CPF" in (br_tax_id_problem("1234") or "")


def test_vat_ids_french_key_and_shape_of_others() -> None:
    assert vat_problem("FR44732829320", "FR") is None
    assert "expected 44" in (vat_problem("FR45732829320", "FR") or "")
    assert vat_problem("DE136695976", "DE") is None
    assert vat_problem("DE13669597", "DE") is not None
    assert "starts with FR" in (vat_problem("DE136695976", "FR") or "")


def test_a_terms_table_edited_into_answering_too_little_is_named_not_a_crash() -> None:
    from types import SimpleNamespace

    from orderloom.packs.trade import build_document

    placed = SimpleNamespace(type="order.placed", data=order_body("OL-T-1"), time="t0", seq=1)
    parties = {"seller": {"name": "S", "country": "DE"}, "buyer": {"name": "B", "country": "FR"}}
    details = SimpleNamespace(
        type="trade.details_recorded", data={**parties, "lines": [{"sku": "X"}]}, time="t1", seq=2
    )
    store = SimpleNamespace(read_stream=lambda oid: [placed, details])
    answer = {"document": "eu_invoice", "required_fields": ["buyer.iban"]}
    with pytest.raises(ValidationFailed) as refused:
        build_document(store, lambda data: (3, answer), "OL-T-1", "invoice", today="2026-03-02")  # type: ignore[arg-type]
    rules = {(p.field, p.rule) for p in refused.value.problems}
    assert ("policy crossborder_terms v3", "output_missing") in rules
    assert ("policy crossborder_terms v3", "unknown_field") in rules
