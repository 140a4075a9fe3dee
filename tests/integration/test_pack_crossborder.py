"""The cross-border B2B pack end to end over HTTP: terms and invoice fields decided per destination by the
pack's decision table, checked (VAT ids, CNPJ/CPF check digits, NCM codes) and served as JSON or PDF."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from pypdf import PdfReader

from tests.integration.conftest import Api
from tests.integration.pack_rig import PackRig, event, order_body

SELLER_EU = {"name": "Orderloom Trading GmbH", "country": "DE", "business": True, "vat_id": "DE136695976"}
BUYER_FR = {"name": "Fromagerie Dupont SARL", "country": "FR", "business": True, "vat_id": "FR44732829320"}
SELLER_BR = {
    "name": "Orderloom Comércio Ltda",
    "country": "BR",
    "business": True,
    "tax_id": "11.222.333/0001-81",
    "state": "SP",
    "state_registration": "110.042.490.114",
}
BUYER_BR = {
    "name": "Laticínios São João Ltda",
    "country": "BR",
    "business": True,
    "tax_id": "45.723.174/0001-10",
    "state": "BA",
}
LINES = [{"sku": "YOG-500G", "name": "Yaourt", "qty": 100, "unit_price": 1.5}]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> PackRig:
    rig = PackRig(tmp_path_factory.mktemp("crossborder"))
    report = rig.install("crossborder")
    assert [(p["name"], p["action"]) for p in report["policies"]] == [("crossborder_terms", "published")]
    return rig


def order(api: Api, oid: str, currency: str, details: dict[str, Any]) -> None:
    body = order_body(oid, currency=currency, lines=LINES, total=150.0)
    assert api.client.post("/v1/orders", json=body, headers=api.as_("ops")).status_code == 201
    r = api.client.post(
        "/v1/events",
        json={"events": [event(f"{oid}-trade", "trade.details_recorded", oid, details)]},
        headers=api.as_("ops"),
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def pdf_text(api: Api, oid: str, kind: str) -> str:
    r = api.client.get(
        f"/v1/orders/{oid}/documents/{kind}", headers={**api.as_("finance"), "Accept": "application/pdf"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)


def test_a_french_business_customer_gets_the_gdpr_clause_and_the_reverse_charge_with_both_vat_ids(rig: PackRig) -> None:
    with rig.api() as api:
        order(
            api,
            "OL-XB-FR",
            "EUR",
            {
                "seller": SELLER_EU,
                "buyer": BUYER_FR,
                "incoterm": "DAP",
                "lines": [{"sku": "YOG-500G", "description": "Yaourt nature 500 g, fermenté à 42 °C"}],
            },
        )
        terms = api.client.get("/v1/orders/OL-XB-FR/documents/terms", headers=api.as_("cs")).json()
        assert terms["language"] == "fr" and [c["id"] for c in terms["clauses"]] == ["gdpr", "reverse_charge"]
        assert "2016/679" in terms["clauses"][0]["text"] and terms["policy"]["version"] == 1

        invoice = api.client.get("/v1/orders/OL-XB-FR/documents/invoice", headers=api.as_("finance")).json()
        assert (invoice["document"], invoice["tax"]["regime"], invoice["totals"]) == (
            "eu_invoice",
            "reverse_charge",
            {"goods": 150.0, "vat": 0.0, "total": 150.0},
        )
        assert invoice["tax"]["mention"].startswith("Autoliquidation")
        assert (invoice["seller"]["vat_id"], invoice["buyer"]["vat_id"]) == ("DE136695976", "FR44732829320")

        text = pdf_text(api, "OL-XB-FR", "invoice")
        for expected in ("Facture", "DE136695976", "FR44732829320", "Autoliquidation", "RGPD", "fermenté à 42 °C"):
            assert expected in text, expected


def test_a_brazilian_customer_gets_the_nfe_fields_with_cfop_ncm_and_icms(rig: PackRig) -> None:
    with rig.api() as api:
        order(
            api,
            "OL-XB-BR",
            "BRL",
            {
                "seller": SELLER_BR,
                "buyer": BUYER_BR,
                "lines": [{"sku": "YOG-500G", "description": "Iogurte natural 500 g", "ncm": "0403.20.00"}],
            },
        )
        invoice = api.client.get("/v1/orders/OL-XB-BR/documents/invoice", headers=api.as_("ops")).json()
        nfe = invoice["nfe"]
        # São Paulo to Bahia: interstate, from the south-east to the north-east: CFOP 6102 and 7% ICMS.
        assert (nfe["emit"]["cnpj"], nfe["emit"]["UF"], nfe["dest"]["cnpj"], nfe["dest"]["UF"]) == (
            "11222333000181",
            "SP",
            "45723174000110",
            "BA",
        )
        [item] = nfe["det"]
        assert (item["NCM"], item["CFOP"], item["ICMS"]) == (
            "04032000",
            "6102",
            {"vBC": 150.0, "pICMS": 7, "vICMS": 10.5},
        )
        assert nfe["total"] == {"vBC": 150.0, "vICMS": 10.5, "vProd": 150.0}

        text = pdf_text(api, "OL-XB-BR", "invoice")
        for expected in ("Dados da NF-e", "6102", "04032000", "45.723.174/0001-10", "Laticínios São João", "10.5"):
            assert expected in text, expected


def test_wrong_tax_ids_and_missing_customs_codes_are_refused_naming_the_field(rig: PackRig) -> None:
    with rig.api() as api:
        wrong = {**BUYER_BR, "tax_id": "45.723.174/0001-11"}
        order(api, "OL-XB-BAD", "BRL", {"seller": SELLER_BR, "buyer": wrong, "lines": [{"sku": "YOG-500G"}]})
        r = api.client.get("/v1/orders/OL-XB-BAD/documents/invoice", headers=api.as_("finance"))
        assert r.status_code == 422
        problems = {(p["field"], p["rule"]) for p in r.json()["error"]["problems"]}
        assert problems == {("buyer.tax_id", "check_digits"), ("lines[0].ncm", "required")}

        person = {**BUYER_BR, "tax_id": "529.982.247-25", "business": False}  # a CPF: a person buying
        order(
            api,
            "OL-XB-CPF",
            "BRL",
            {"seller": SELLER_BR, "buyer": person, "lines": [{"sku": "YOG-500G", "ncm": "04032000"}]},
        )
        ok = api.client.get("/v1/orders/OL-XB-CPF/documents/invoice", headers=api.as_("finance"))
        assert ok.status_code == 200 and ok.json()["nfe"]["dest"]["cpf"] == "52998224725"

        bad_vat = {**BUYER_FR, "vat_id": "FR45732829320"}
        order(api, "OL-XB-VAT", "EUR", {"seller": SELLER_EU, "buyer": bad_vat, "lines": [{"sku": "YOG-500G"}]})
        r = api.client.get("/v1/orders/OL-XB-VAT/documents/terms", headers=api.as_("finance"))
        assert r.status_code == 422 and r.json()["error"]["problems"][0]["field"] == "buyer.vat_id"

        assert api.client.get("/v1/orders/OL-XB-FR/documents/invoice", headers=api.as_("consumer")).status_code == 403
        assert api.client.get("/v1/orders/OL-XB-BAD/documents/receipt", headers=api.as_("ops")).status_code == 404
        assert api.client.get("/v1/orders/OL-NOPE/documents/invoice", headers=api.as_("ops")).status_code == 404
        body = order_body("OL-XB-NONE", currency="EUR", lines=LINES, total=150.0)
        api.client.post("/v1/orders", json=body, headers=api.as_("ops"))
        none = api.client.get("/v1/orders/OL-XB-NONE/documents/invoice", headers=api.as_("ops"))
        assert none.status_code == 422 and none.json()["error"]["problems"][0]["field"] == "trade.details_recorded"


def test_the_terms_table_is_an_ordinary_policy_edited_live_and_rolled_back(rig: PackRig) -> None:
    with rig.api() as api:
        admin = api.as_("admin")
        order(api, "OL-XB-V2", "EUR", {"seller": SELLER_EU, "buyer": BUYER_FR, "lines": [{"sku": "YOG-500G"}]})
        v1 = api.client.get("/v1/policies/crossborder_terms/versions/1", headers=admin).json()
        draft = {k: v1[k] for k in ("kind", "document", "input_schema", "tests")}
        rules = draft["document"]["nodes"][1]["content"]["rules"]
        rules[0]["out_mention"] = '"Autoliquidation (art. 283-2 du CGI)"'
        saved = api.client.post("/v1/policies/crossborder_terms/versions", json=draft, headers=admin)
        assert saved.status_code in (200, 201), saved.text
        published = api.client.post("/v1/policies/crossborder_terms/publish", json={"version": 2}, headers=admin)
        assert published.status_code == 200, published.text

        def mention() -> tuple[int, str]:
            doc = api.client.get("/v1/orders/OL-XB-V2/documents/invoice", headers=api.as_("finance")).json()
            return doc["policy"]["version"], doc["tax"]["mention"]

        deadline = time.monotonic() + 5  # served within a policy refresh, no restart
        while mention()[0] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mention() == (2, "Autoliquidation (art. 283-2 du CGI)")
        # Installing the pack again leaves the edit serving.
        report = api.client.post("/v1/packs/crossborder/install", headers=admin).json()
        assert report["policies"][0]["action"] == "kept_local_edit" and not report["changed"]

        rolled = api.client.post("/v1/policies/crossborder_terms/rollback", json={"version": 1}, headers=admin)
        assert rolled.status_code == 200, rolled.text
        deadline = time.monotonic() + 5
        while mention()[0] != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mention()[0] == 1 and mention()[1].startswith("Autoliquidation – TVA due par le preneur")
