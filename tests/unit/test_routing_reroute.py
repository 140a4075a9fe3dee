"""Batch re-routing finds the exact min-cost assignment, respects capacities and keeps plans stable."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.core.errors import ValidationFailed
from orderloom.routing import Move, reroute
from orderloom.routing.reroute import Arc


def brute_force(
    current: dict[str, str | None], arcs: list[Arc], capacity: dict[str, int], penalty: int
) -> tuple[int, int]:
    """(orders left unplaced, cost) of the best assignment, by trying them all."""
    options: dict[str, list[tuple[str | None, int]]] = {oid: [(None, 0)] for oid in current}
    for oid, nid, cost in arcs:
        options[oid].append((nid, cost + (0 if current[oid] == nid else penalty)))
    best = (len(current) + 1, 0)
    for combo in itertools.product(*options.values()):
        used = [nid for nid, _ in combo if nid is not None]
        if any(used.count(n) > capacity.get(n, 0) for n in set(used)):
            continue
        best = min(best, (sum(nid is None for nid, _ in combo), sum(c for _, c in combo)))
    return best


def random_instance(seed: int) -> tuple[dict[str, str | None], list[Arc], dict[str, int]]:
    rng = random.Random(seed)
    nodes = [f"N{j}" for j in range(3)]
    capacity = {n: rng.randint(0, 2) for n in nodes}
    current: dict[str, str | None] = {f"O{i}": rng.choice([*nodes, None]) for i in range(5)}
    arcs = [(oid, n, rng.randint(0, 20)) for oid in current for n in nodes if rng.random() < 0.7]
    return current, arcs, capacity


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("penalty", [0, 7])
def test_the_assignment_matches_brute_force_on_small_instances(seed: int, penalty: int) -> None:
    current, arcs, capacity = random_instance(seed)
    result = reroute(current, arcs, capacity, move_penalty=penalty)
    assert (len(result.unplaced), result.total_cost) == brute_force(current, arcs, capacity, penalty)


def test_when_a_node_goes_down_every_order_on_it_moves_and_the_others_stay() -> None:
    current: dict[str, str | None] = {"O1": "SH", "O2": "SH", "O3": "CD"}
    arcs = [(o, n, 10) for o in current for n in ("SH", "CD", "WH")]
    # Shanghai is down: its arcs disappear and it has no capacity left.
    result = reroute(current, [a for a in arcs if a[1] != "SH"], {"SH": 0, "CD": 2, "WH": 5}, move_penalty=5)
    assert {m.oid for m in result.moves} == {"O1", "O2"}
    assert all(m.from_node == "SH" and m.to_node != "SH" for m in result.moves)
    assert result.assignment["O3"] == "CD"
    assert result.total_cost == 3 * 10 + 2 * 5


def test_with_a_move_penalty_nothing_moves_when_nothing_changed() -> None:
    current, arcs, capacity = random_instance(3)
    first = reroute(current, arcs, capacity, move_penalty=1)
    settled: dict[str, str | None] = {oid: first.assignment.get(oid) for oid in current}
    again = reroute(settled, arcs, capacity, move_penalty=1)
    assert again.moves == ()
    assert again.assignment == first.assignment


def test_a_move_must_save_more_than_the_penalty() -> None:
    current: dict[str, str | None] = {"O1": "SH"}
    arcs = [("O1", "SH", 30), ("O1", "CD", 25)]
    assert reroute(current, arcs, {"SH": 1, "CD": 1}, move_penalty=10).moves == ()
    assert reroute(current, arcs, {"SH": 1, "CD": 1}, move_penalty=4).moves == (Move("O1", "SH", "CD"),)


def test_orders_that_cannot_be_placed_are_reported_with_a_reason_instead_of_failing() -> None:
    current: dict[str, str | None] = {"O1": None, "O2": None, "O3": None}
    arcs = [("O1", "SH", 1), ("O2", "SH", 2)]
    result = reroute(current, arcs, {"SH": 1})
    assert result.assignment == {"O1": "SH"}
    assert result.unplaced == {"O2": "all 1 candidate nodes are full", "O3": "no feasible node for this order"}
    assert result.total_cost == 1


def test_an_arc_for_an_unknown_order_or_a_negative_capacity_is_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        reroute({"O1": None}, [("O9", "SH", 1)], {"SH": -1})
    assert {p.field for p in exc.value.problems} == {"arcs", "capacity.SH"}


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n_orders=st.integers(0, 12),
    n_nodes=st.integers(1, 4),
    penalty=st.integers(0, 20),
)
def test_rerouting_never_exceeds_a_capacity_or_uses_an_arc_that_does_not_exist(
    data: st.DataObject, n_orders: int, n_nodes: int, penalty: int
) -> None:
    nodes = [f"N{j}" for j in range(n_nodes)]
    capacity = {n: data.draw(st.integers(0, 4)) for n in nodes}
    current: dict[str, str | None] = {f"O{i}": data.draw(st.sampled_from([*nodes, None])) for i in range(n_orders)}
    pairs = data.draw(st.sets(st.tuples(st.sampled_from(list(current) or ["-"]), st.sampled_from(nodes))))
    arcs = [(o, n, data.draw(st.integers(-5, 50))) for o, n in sorted(pairs) if o in current]
    result = reroute(current, arcs, capacity, move_penalty=penalty)
    allowed = {(o, n) for o, n, _ in arcs}
    assert all((o, n) in allowed for o, n in result.assignment.items())
    assert all(list(result.assignment.values()).count(n) <= capacity[n] for n in nodes)
    assert set(result.assignment) | set(result.unplaced) == set(current)
    assert not set(result.assignment) & set(result.unplaced)
    if n_orders <= 5:  # small enough to check optimality too, negative costs included
        assert (len(result.unplaced), result.total_cost) == brute_force(current, arcs, capacity, penalty)
