"""Order terms and invoices for cross-border B2B orders, with their fields decided by policy.

The `crossborder_terms` decision table (shipped by the crossborder pack) says,
per destination, which document, language, tax regime and rates apply, which
clauses the terms carry and which fields must be present. This module only
gathers the inputs from the order's own events, checks the fields the table
requires (tax ids down to their check digits) and lays the document out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.packs.trade.taxids import BR_SOUTH_SOUTHEAST, BR_STATES, EU, br_tax_id_problem, digits, vat_problem
from orderloom.store.port import EventStore

KINDS = ("terms", "invoice")
POLICY = "crossborder_terms"
DETAILS = "trade.details_recorded"
PLACED = "order.placed"

Decide = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
"""decision input -> (policy version, result)."""


def build_document(store: EventStore, decide: Decide, oid: str, kind: str, *, today: str) -> dict[str, Any]:
    """The `kind` document of order `oid` as JSON; ValidationFailed naming each missing or wrong field."""
    if kind not in KINDS:
        raise NotFound(f"there is no document kind {kind!r}; ask for one of {', '.join(KINDS)}")
    events = store.read_stream(oid)
    placed = next((e for e in events if e.type == PLACED), None)
    if placed is None:
        raise NotFound(f"no order {oid} exists")
    recorded = sorted((e for e in events if e.type == DETAILS), key=lambda e: (e.time, e.seq))
    if not recorded:
        raise ValidationFailed(
            [
                Problem(
                    "trade.details_recorded",
                    "required",
                    f"order {oid} has no trade details yet; send a trade.details_recorded event with the seller, "
                    "the buyer (tax ids, country) and each line's customs code first",
                )
            ]
        )
    details = recorded[-1].data
    seller, buyer = details["seller"], details["buyer"]
    version, decided = decide(_decision_input(details))
    _check_outputs(decided, version)
    problems = _required(decided["required_fields"], details)
    if problems:
        raise ValidationFailed(problems)
    policy = {"name": POLICY, "version": version, "rule_inputs": _decision_input(details)}
    parties = {"seller": _party(seller), "buyer": _party(buyer)}
    if kind == "terms":
        return {
            "kind": "terms",
            "oid": oid,
            "language": decided["language"],
            **parties,
            "incoterm": details.get("incoterm"),
            "payment_days": details.get("payment_days"),
            "clauses": _clauses(decided),
            "policy": policy,
        }
    lines, totals = _lines(placed.data, details, decided)
    doc: dict[str, Any] = {
        "kind": "invoice",
        "document": decided["document"],
        "number": f"INV-{oid}",
        "issue_date": today,
        "oid": oid,
        "language": decided["language"],
        "currency": placed.data["currency"],
        **parties,
        "lines": lines,
        "totals": totals,
        "tax": {
            "regime": decided["tax_regime"],
            "vat_rate": decided["vat_rate"],
            "mention": decided["vat_mention"] or None,
        },
        "operation_nature": decided["operation_nature"],
        "clauses": _clauses(decided),
        "policy": policy,
    }
    if decided["document"] == "nfe":
        doc["nfe"] = _nfe(seller, buyer, decided, lines, totals)
    return doc


def _decision_input(details: dict[str, Any]) -> dict[str, Any]:
    seller, buyer = details["seller"], details["buyer"]
    business = buyer.get("business")
    if business is None:
        business = bool(buyer.get("vat_id")) or len(digits(buyer.get("tax_id", ""))) == 14
    operation, flow = "none", "none"
    if buyer["country"] == "BR":
        operation = "intrastate" if seller.get("state") == buyer.get("state") else "interstate"
        if operation == "interstate":
            to_lower_rate = buyer.get("state") not in BR_SOUTH_SOUTHEAST or buyer.get("state") == "ES"
            flow = (
                "south_southeast_to_north_northeast_midwest_es"
                if seller.get("state") in BR_SOUTH_SOUTHEAST and to_lower_rate
                else "other"
            )
    return {
        "destination": buyer["country"],
        "b2b": bool(business),
        "intra_eu": seller["country"] in EU and buyer["country"] in EU and seller["country"] != buyer["country"],
        "br_operation": operation,
        "imported_goods": bool(details.get("imported_goods", False)),
        "br_flow": flow,
    }


OUTPUTS = (
    "document",
    "language",
    "tax_regime",
    "vat_rate",
    "gdpr_clause",
    "vat_mention",
    "cfop",
    "icms_rate",
    "operation_nature",
    "required_fields",
)
KNOWN_FIELDS = {f"{who}.{attr}" for who in ("buyer", "seller") for attr in ("vat_id", "tax_id", "state")} | {
    "lines.ncm"
}


def _check_outputs(decided: dict[str, Any], version: int) -> None:
    """A table edited into answering too little (or asking for fields nobody sends) is named, not a crash."""
    where = f"policy {POLICY} v{version}"
    problems = [
        Problem(
            where, "output_missing", f"{where} gives no {k!r}; every rule must fill it (roll back or fix the table)"
        )
        for k in OUTPUTS
        if k not in decided
    ]
    required = decided.get("required_fields", [])
    if not isinstance(required, list):
        problems.append(Problem(where, "output_type", f"{where} must give required_fields as a list"))
    else:
        problems += [
            Problem(where, "unknown_field", f"{where} requires {f!r}; documents know {', '.join(sorted(KNOWN_FIELDS))}")
            for f in required
            if f not in KNOWN_FIELDS
        ]
    if problems:
        raise ValidationFailed(problems)


def _required(fields: list[str], details: dict[str, Any]) -> list[Problem]:
    """Every required field that is missing or wrong, named as the sender wrote it."""
    problems = []
    for name in fields:
        if name == "lines.ncm":
            for i, line in enumerate(details["lines"]):
                ncm = digits(str(line.get("ncm", "")))
                if not re.fullmatch(r"\d{8}", ncm):
                    problems.append(
                        Problem(
                            f"lines[{i}].ncm",
                            "required" if not line.get("ncm") else "format",
                            f"line {line['sku']} needs its NCM code (8 digits, e.g. 0403.20.00) for an NF-e",
                        )
                    )
            continue
        who, _, attr = name.partition(".")
        party = details[who]
        value = party.get(attr)
        if not value:
            problems.append(Problem(name, "required", f"{name} is required for a {party['country']} document"))
            continue
        reason = None
        if attr == "vat_id":
            reason = vat_problem(value, party["country"])
        elif attr == "tax_id":
            reason = br_tax_id_problem(value) if party["country"] == "BR" else None
        elif attr == "state" and value not in BR_STATES:
            reason = f"{value!r} is not a Brazilian state (UF) such as SP or RJ"
        if reason:
            rule = "check_digits" if "check digits" in reason or "key" in reason else "format"
            problems.append(Problem(name, rule, reason))
    return problems


def _party(p: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "country", "vat_id", "tax_id", "state", "state_registration", "address", "city")
    return {k: p[k] for k in keys if p.get(k)}


def _clauses(decided: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    if decided["gdpr_clause"]:
        out.append({"id": "gdpr", "text": decided["gdpr_clause"]})
    if decided["vat_mention"]:
        out.append({"id": "reverse_charge", "text": decided["vat_mention"]})
    return out


def _lines(
    placed: dict[str, Any], details: dict[str, Any], decided: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    by_sku = {line["sku"]: line for line in details["lines"]}
    vat_rate = float(decided["vat_rate"]) / 100
    icms_rate = float(decided["icms_rate"]) / 100
    lines = []
    for line in placed["lines"]:
        extra = by_sku.get(line["sku"], {})
        amount = round(line["qty"] * line["unit_price"], 2)
        row: dict[str, Any] = {
            "sku": line["sku"],
            "description": extra.get("description") or line.get("name") or line["sku"],
            "qty": line["qty"],
            "unit_price": line["unit_price"],
            "amount": amount,
            "vat": round(amount * vat_rate, 2),
        }
        if decided["document"] == "nfe":
            # The ICMS base here is the goods' value; freight, insurance and IPI are the ERP fiscal engine's to add.
            row.update(
                ncm=digits(str(extra.get("ncm", ""))),
                cfop=decided["cfop"],
                icms={"base": amount, "rate": decided["icms_rate"], "value": round(amount * icms_rate, 2)},
            )
        lines.append(row)
    goods = round(sum(r["amount"] for r in lines), 2)
    vat = round(sum(r["vat"] for r in lines), 2)
    totals: dict[str, Any] = {"goods": goods, "vat": vat, "total": round(goods + vat, 2)}
    if decided["document"] == "nfe":
        totals["icms_base"] = goods
        totals["icms_value"] = round(sum(r["icms"]["value"] for r in lines), 2)
    return lines, totals


def _nfe(
    seller: dict[str, Any],
    buyer: dict[str, Any],
    decided: dict[str, Any],
    lines: list[dict[str, Any]],
    totals: dict[str, Any],
) -> dict[str, Any]:
    """The NF-e groups (emitente, destinatário, itens, ICMS totals) as the ERP's fiscal module expects them."""

    def ident(p: dict[str, Any]) -> dict[str, str]:
        d = digits(p["tax_id"])
        return {"cnpj": d} if len(d) == 14 else {"cpf": d}

    return {
        "natOp": decided["operation_nature"],
        "emit": {
            **ident(seller),
            "xNome": seller["name"],
            "UF": seller["state"],
            "IE": seller.get("state_registration"),
        },
        "dest": {**ident(buyer), "xNome": buyer["name"], "UF": buyer["state"], "IE": buyer.get("state_registration")},
        "det": [
            {
                "nItem": i + 1,
                "cProd": r["sku"],
                "xProd": r["description"],
                "NCM": r["ncm"],
                "CFOP": r["cfop"],
                "qCom": r["qty"],
                "vUnCom": r["unit_price"],
                "vProd": r["amount"],
                "ICMS": {"vBC": r["icms"]["base"], "pICMS": r["icms"]["rate"], "vICMS": r["icms"]["value"]},
            }
            for i, r in enumerate(lines)
        ],
        "total": {"vBC": totals["icms_base"], "vICMS": totals["icms_value"], "vProd": totals["goods"]},
    }
