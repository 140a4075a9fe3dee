"""Cross-border trade documents: tax-id checks, terms and invoices decided by policy, JSON and PDF."""

from orderloom.packs.trade.documents import KINDS, build_document
from orderloom.packs.trade.pdf import render_pdf

__all__ = ["KINDS", "build_document", "render_pdf"]
