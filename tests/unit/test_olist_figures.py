"""Figures of the Olist report: distance bands, zip centroids, percentiles, a model that never sees the future."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from orderloom.olist import figures, risk
from orderloom.olist.geo import band_of, centroids
from orderloom.olist.ledger import OrderRecord, SellerPart

T0 = datetime(2017, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("km", "band"),
    [
        (0.0, "lt100"),
        (99.999, "lt100"),
        (100.0, "100_500"),
        (499.99, "100_500"),
        (500.0, "500_1000"),
        (1000.0, "1000_2000"),
        (1999.99, "1000_2000"),
        (2000.0, "ge2000"),
        (4200.0, "ge2000"),
    ],
)
def test_a_distance_falls_in_the_band_whose_lower_edge_it_reaches(km: float, band: str) -> None:
    found = band_of(km)
    assert found is not None and found.key == band


@pytest.mark.parametrize("km", [None, math.nan, -1.0])
def test_an_unknown_distance_has_no_band(km: float | None) -> None:
    assert band_of(km) is None


def test_a_zip_prefix_centroid_ignores_points_outside_brazil() -> None:
    points = [("01012", -23.5, -46.6), ("01012", -23.7, -46.8), ("01012", 40.7, -74.0)]
    assert centroids(points) == {"01012": (-23.6, -46.7)}


def test_percentiles_interpolate_linearly_like_duckdb() -> None:
    assert figures.percentile([10, 20, 30, 40, 100], 90) == pytest.approx(76.0)
    assert figures.percentile([], 50) is None


def record(n: int, *, seller: str, late: bool, km_point: tuple[float, float] = (-23.0, -46.0)) -> OrderRecord:
    """A delivered order placed on day `n`, delivered 5 days later, promised in 4 (late) or 6 days."""
    placed = T0 + timedelta(days=n)
    return OrderRecord(
        oid=f"OLIST-{n:04d}",
        purchased=placed,
        approved=placed + timedelta(hours=1),
        carrier=placed + timedelta(days=2),
        delivered=placed + timedelta(days=5),
        promised=placed + timedelta(days=4 if late else 6),
        status="delivered",
        customer_state="SP",
        customer_point=(-23.5, -46.6),
        sellers=[SellerPart(seller, "SP", km_point, 1, 50.0, 10.0, 500.0, placed + timedelta(days=2))],
    )


def test_lead_times_are_measured_per_stage_on_delivered_orders() -> None:
    lt = figures.lead_times([record(i, seller="s", late=False) for i in range(10)])
    assert lt["purchase_approval"]["p50_h"] == pytest.approx(1.0)
    assert lt["carrier_customer"]["p50_d"] == pytest.approx(3.0)
    assert lt["total"]["orders"] == 10


def test_the_late_rate_counts_orders_delivered_after_the_promise_per_band() -> None:
    rows = [record(i, seller="s", late=i % 4 == 0) for i in range(8)]
    late = figures.late_rates(rows)
    assert late["late_rate_pct"] == pytest.approx(25.0)
    assert sum(b["orders"] for b in late["bands"]) == 8


def test_a_sellers_past_late_rate_uses_only_orders_delivered_before_this_one_was_placed() -> None:
    rows = [record(i, seller="s", late=False) for i in range(20)]
    before = risk.dataset(rows).numeric[:, risk.NUMERIC.index("seller_past_late_rate")]
    # Order 19 turning late is known 5 days after its placement: no earlier order's feature may change.
    rows[19] = record(19, seller="s", late=True)
    after = risk.dataset(rows).numeric[:, risk.NUMERIC.index("seller_past_late_rate")]
    assert np.array_equal(before, after)
    rows[10] = record(10, seller="s", late=True)
    changed = risk.dataset(rows).numeric[:, risk.NUMERIC.index("seller_past_late_rate")]
    assert np.array_equal(changed[:16], before[:16])
    assert (changed[16:] > before[16:]).all()  # orders placed after day 15 know order 10 was late


def test_the_fast_auc_equals_scikit_learns_including_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) + 0.3 * y, 1)
    assert risk.rank_auc(y, p) == pytest.approx(roc_auc_score(y, p))


def test_the_model_is_not_scored_when_the_test_period_has_no_late_order() -> None:
    rows = [record(i, seller="s", late=i < 10) for i in range(100)]
    assert "skipped" in risk.evaluate(risk.dataset(rows))
