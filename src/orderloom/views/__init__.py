"""Read models: the ViewStore port (documents plus checkpoints in one transaction), adapters and the factory."""

from orderloom.views.factory import open_view_store
from orderloom.views.port import Doc, ViewStore, ViewTx

__all__ = ["Doc", "ViewStore", "ViewTx", "open_view_store"]
