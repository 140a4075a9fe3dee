"""A document as a PDF, with fpdf2's built-in Helvetica (no font files to ship).

The built-in fonts cover Latin-1: French and Portuguese accents (é, ç, ã, õ)
print as they are; the few typographic signs outside it are replaced by their
plain equivalents, and any other character by "?" rather than failing.
"""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

_PLAIN = str.maketrans({"–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "€": "EUR"})
_TITLES = {
    "terms": {"fr": "Conditions de vente", "pt": "Condições de venda", "en": "Terms of sale"},
    "eu_invoice": {"fr": "Facture", "pt": "Fatura", "en": "Invoice"},
    "nfe": {"fr": "Données NF-e", "pt": "Dados da NF-e", "en": "NF-e data"},
    "commercial_invoice": {"fr": "Facture commerciale", "pt": "Fatura comercial", "en": "Commercial invoice"},
}


def _text(value: Any) -> str:
    return str(value).translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def render_pdf(doc: dict[str, Any]) -> bytes:
    """The PDF of a terms or invoice document built by `build_document`."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    lang = doc.get("language", "en")
    title = _TITLES["terms" if doc["kind"] == "terms" else doc["document"]].get(lang, "Document")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"{title} - {doc.get('number', doc['oid'])}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for role in ("seller", "buyer"):
        p = doc[role]
        ids = ", ".join(f"{k}: {p[k]}" for k in ("vat_id", "tax_id", "state", "state_registration") if p.get(k))
        pdf.multi_cell(
            0, 5, _text(f"{role.upper()}: {p['name']} ({p['country']}) {ids}"), new_x="LMARGIN", new_y="NEXT"
        )
    if doc["kind"] == "invoice":
        _invoice(pdf, doc)
    else:
        pdf.multi_cell(
            0,
            5,
            _text(f"Incoterm: {doc.get('incoterm') or '-'}; payment: {doc.get('payment_days') or '-'} days"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    for clause in doc["clauses"]:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, _text(clause["id"].replace("_", " ").upper()), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, _text(clause["text"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "I", 7)
    policy = doc["policy"]
    pdf.cell(
        0, 4, _text(f"Fields decided by policy {policy['name']} v{policy['version']}"), new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())


def _invoice(pdf: FPDF, doc: dict[str, Any]) -> None:
    pdf.multi_cell(
        0,
        5,
        _text(f"Date: {doc['issue_date']}  Currency: {doc['currency']}  Operation: {doc['operation_nature']}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    nfe = doc["document"] == "nfe"
    head = ["SKU", "Description", "Qty", "Unit", "Amount"] + (
        ["NCM", "CFOP", "ICMS base", "ICMS %", "ICMS"] if nfe else ["VAT"]
    )
    pdf.set_font("Helvetica", "B", 8)
    with pdf.table(text_align="LEFT") as table:
        table.row([_text(h) for h in head])
        for r in doc["lines"]:
            cells = [r["sku"], r["description"], r["qty"], r["unit_price"], r["amount"]]
            if nfe:
                cells += [r["ncm"], r["cfop"], r["icms"]["base"], r["icms"]["rate"], r["icms"]["value"]]
            else:
                cells += [r["vat"]]
            table.row([_text(c) for c in cells])
    pdf.set_font("Helvetica", size=9)
    t = doc["totals"]
    summary = f"Goods: {t['goods']}  VAT: {t['vat']}  Total: {t['total']}"
    if nfe:
        summary += f"  ICMS base: {t['icms_base']}  ICMS: {t['icms_value']}"
    pdf.multi_cell(0, 5, _text(summary), new_x="LMARGIN", new_y="NEXT")
    if doc["tax"]["mention"]:
        pdf.set_font("Helvetica", "B", 9)
        pdf.multi_cell(0, 5, _text(doc["tax"]["mention"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
