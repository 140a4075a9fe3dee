"""Typical step durations over all orders, looked up per step for the status lens."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# grouping(to_type, node) in `sql.typical_query`: which columns were rolled up.
PAIR_NODE, PAIR, FROM_NODE, FROM = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Typical:
    """How long a step usually takes: p50 and p90 over `count` closed steps; `basis` says which ones."""

    count: int
    p50_s: float
    p90_s: float
    basis: str  # "node": the same step at the same node; "all": the same step anywhere

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50_s": self.p50_s, "p90_s": self.p90_s, "basis": self.basis}


@dataclass(slots=True)
class TypicalBook:
    """Typical durations by step (from type -> to type), with and without the node, and what usually follows."""

    min_node_count: int = 20
    pairs: dict[tuple[str, str], Typical] = field(default_factory=dict)
    pair_nodes: dict[tuple[str, str, str], Typical] = field(default_factory=dict)
    after: dict[str, Typical] = field(default_factory=dict)
    after_nodes: dict[tuple[str, str], Typical] = field(default_factory=dict)
    next_counts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]], min_node_count: int = 20) -> TypicalBook:
        """Build from `typical_query` rows: (from_type, to_type, node, level, count, [p50, p90])."""
        book = cls(min_node_count=min_node_count)
        following: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for from_type, to_type, node, level, n, q in rows:
            p50, p90 = float(q[0]), float(q[1])
            if level == PAIR_NODE and node is not None:
                book.pair_nodes[(from_type, to_type, node)] = Typical(int(n), p50, p90, "node")
            elif level == PAIR:
                book.pairs[(from_type, to_type)] = Typical(int(n), p50, p90, "all")
                following[from_type].append((to_type, int(n)))
            elif level == FROM_NODE and node is not None:
                book.after_nodes[(from_type, node)] = Typical(int(n), p50, p90, "node")
            elif level == FROM:
                book.after[from_type] = Typical(int(n), p50, p90, "all")
        book.next_counts = {k: sorted(v, key=lambda x: (-x[1], x[0])) for k, v in following.items()}
        return book

    def step(self, from_type: str, to_type: str, node: str | None) -> Typical | None:
        """The typical duration of this step: at this node when it has enough data there, else anywhere."""
        if node is not None:
            at_node = self.pair_nodes.get((from_type, to_type, node))
            if at_node is not None and at_node.count >= self.min_node_count:
                return at_node
        return self.pairs.get((from_type, to_type))

    def waiting(self, from_type: str, node: str | None) -> Typical | None:
        """How long orders usually wait after `from_type` until their next event (at this node if enough data)."""
        if node is not None:
            at_node = self.after_nodes.get((from_type, node))
            if at_node is not None and at_node.count >= self.min_node_count:
                return at_node
        return self.after.get(from_type)

    def next_types(self, from_type: str, limit: int = 3) -> list[tuple[str, float]]:
        """The types that usually follow `from_type`, with their share of the steps that left it."""
        counts = self.next_counts.get(from_type, [])
        total = sum(n for _, n in counts)
        return [(t, n / total) for t, n in counts[:limit]] if total else []
