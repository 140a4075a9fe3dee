"""Orderloom: an order orchestration layer built on one atomic event log."""

__version__ = "0.1.0"
