"""Atomic order status: intake, the chain projection, role views, verification."""
