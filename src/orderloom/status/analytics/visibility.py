"""What each role may see of the analytics, taken from the dictionary's role views."""

from __future__ import annotations

from orderloom.dictionary.model import Dictionary, EventType
from orderloom.status.analytics.port import Mask


def chain_types(dictionary: Dictionary) -> dict[str, EventType]:
    """The event types that belong in an order's chain: every type that is not internal."""
    return {tid: t for tid, t in dictionary.types.items() if not t.internal}


def role_mask(dictionary: Dictionary, role: str) -> Mask:
    """The chain types `role` sees and the types whose node fields it is granted."""
    types = chain_types(dictionary)
    views = {tid: t.view(role) for tid, t in types.items()}
    visible = frozenset(tid for tid, v in views.items() if v.visible)
    return Mask(
        types=visible,
        node=frozenset(tid for tid in visible if views[tid].grants("node")),
        from_node=frozenset(tid for tid in visible if views[tid].grants("from_node")),
        to_node=frozenset(tid for tid in visible if views[tid].grants("to_node")),
    )


def full_mask(dictionary: Dictionary) -> Mask:
    """Everything: the mask the stored steps are derived with."""
    every = frozenset(chain_types(dictionary))
    return Mask(types=every, node=every, from_node=every, to_node=every)
