"""Connectors: inbound webhooks, mapping specs, bulk import, outbound webhooks and reconciliation."""

from orderloom.connectors.registry import Connectors, NotConfigured
from orderloom.connectors.spec import MappingError, MappingSpec, load_spec, parse_spec
from orderloom.connectors.transform import apply_spec

__all__ = ["Connectors", "MappingError", "MappingSpec", "NotConfigured", "apply_spec", "load_spec", "parse_spec"]
