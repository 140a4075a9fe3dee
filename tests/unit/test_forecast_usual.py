"""Four weeks of the same hour and a network-wide weekday factor: steadier than one week, and never reading ahead."""

from __future__ import annotations

import numpy as np

from orderloom.status.forecast.features import _usual
from orderloom.status.forecast.usual import usual, weekday_table

ORIGIN = 491_704  # 2026-02-03 16:00 UTC = Wednesday 00:00 Beijing time: index 0 starts a local day
PROFILE = np.array([0.4] * 7 + [1.0] * 11 + [1.7] * 4 + [0.8] * 2)
WEEKDAYS = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.15])  # Monday .. Sunday


def rates(days: int, level: float) -> np.ndarray:
    """Expected arrivals per hour: a daily profile times the weekday (day 0 is a Wednesday)."""
    h = np.arange(days * 24)
    out: np.ndarray = level * PROFILE[h % 24] * WEEKDAYS[(h // 24 + 2) % 7]
    return out


def network(days: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    truth = {"A": rates(days, 60.0), "B": rates(days, 120.0), "C": rates(days, 90.0)}
    return truth, {n: rng.poisson(r).astype(float) for n, r in truth.items()}


def test_four_weeks_and_a_pooled_weekday_estimate_the_rate_better_than_one_week() -> None:
    truth, seen = network(42, seed=1)
    table = weekday_table(seen, ORIGIN)
    target = np.arange(30 * 24, 42 * 24)
    err_4w = np.mean([np.abs(usual(seen[n], target, ORIGIN, *table) - truth[n][target]).mean() for n in seen])
    err_1w = np.mean([np.abs(_usual(seen[n], target) - truth[n][target]).mean() for n in seen])
    assert err_4w < 0.8 * err_1w
    # The weekday effect is found: Saturday's usual hours are above Tuesday's at the same hour of day.
    saturday, tuesday = 38 * 24 + 12, 34 * 24 + 12
    assert (
        usual(seen["B"], np.array([saturday]), ORIGIN, *table)[0]
        > usual(seen["B"], np.array([tuesday]), ORIGIN, *table)[0]
    )


def test_a_usual_hour_does_not_change_when_everything_from_a_day_before_it_is_removed() -> None:
    _, seen = network(40, seed=2)
    full = weekday_table(seen, ORIGIN)
    for i in (200, 500, 777, 903):
        cut = {n: v[: i + 1] for n, v in seen.items()}  # what is known at the end of index i
        early = weekday_table(cut, ORIGIN)
        target = np.arange(i + 1, i + 7)
        for n in seen:
            a = usual(seen[n], target, ORIGIN, *full)
            b = usual(cut[n], target, ORIGIN, *early)
            assert np.array_equal(a, b, equal_nan=True)


def test_hours_left_out_as_promotions_do_not_drag_the_usual_down() -> None:
    truth, seen = network(35, seed=3)
    blanked = {n: v.copy() for n, v in seen.items()}
    blanked["A"][20 * 24 : 22 * 24] = np.nan  # two days of a promotion, not usual hours
    table = weekday_table(blanked, ORIGIN)
    target = np.arange(30 * 24, 35 * 24)
    value = usual(blanked["A"], target, ORIGIN, *table)
    assert not np.isnan(value).any()
    assert abs(value.sum() / truth["A"][target].sum() - 1) < 0.05
