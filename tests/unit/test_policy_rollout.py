"""Gray release buckets are sticky: raising the percentage never moves a unit back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.core.errors import ValidationFailed
from orderloom.policy import Rollout, bucket


def test_a_bucket_is_stable_and_within_range() -> None:
    assert bucket("O-1", "seed") == bucket("O-1", "seed")
    assert 0 <= bucket("O-1", "seed") < 10_000


def test_different_seeds_bucket_units_independently() -> None:
    units = [f"U-{i}" for i in range(200)]
    assert [bucket(u, "a") for u in units] != [bucket(u, "b") for u in units]


@settings(max_examples=200, deadline=None)
@given(
    unit=st.text(min_size=1, max_size=40),
    seed=st.text(min_size=1, max_size=20),
    a=st.floats(0, 100),
    b=st.floats(0, 100),
)
def test_raising_the_percentage_never_moves_a_unit_out_of_the_candidate(
    unit: str, seed: str, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    rollout = Rollout("p", stable=1, candidate=2, percent=low, seed=seed)
    if rollout.choose(unit) == 2:
        assert rollout.with_percent(high).choose(unit) == 2


@pytest.mark.parametrize("percent", [0, 5, 30, 50, 100])
def test_about_percent_of_units_land_in_the_candidate(percent: int) -> None:
    rollout = Rollout("p", stable=1, candidate=2, percent=percent, seed="r-2026-05")
    share = sum(rollout.choose(f"order-{i}") == 2 for i in range(10_000)) / 100
    assert abs(share - percent) <= 2


def test_a_percentage_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        Rollout("p", stable=1, candidate=2, percent=101, seed="s")
