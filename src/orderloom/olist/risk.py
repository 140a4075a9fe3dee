"""The late-delivery risk model: features known at purchase or approval, a time split, AUC against distance alone.

Orders are sorted by purchase time; the first 80% train, the last 20% test.
A seller's past late rate counts only orders delivered before this order was
placed, so nothing from the future leaks in. Two candidate models (gradient
boosting, and a logistic regression on the same features) are compared on the
last quarter of the training period only; the winner is refitted on the whole
training period and scored once on the test period.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's own dependency

from orderloom.olist.ledger import OrderRecord
from orderloom.olist.localtime import zone

TRAIN_SHARE = 0.8
INNER_SHARE = 0.75
PRIOR_WEIGHT = 5.0  # a seller with no history counts as this many orders at the overall past late rate
TOP_CATEGORIES = 30
BOOTSTRAP = 1000
DAY = 86400.0

NUMERIC = (
    "log_distance_km",
    "same_state",
    "seller_past_orders",
    "seller_past_late_rate",
    "log_price",
    "log_freight",
    "freight_share",
    "items",
    "sellers",
    "log_weight_kg",
    "promised_days",
    "approval_hours",
    "ship_by_days",
    "month",
    "weekday",
    "hour",
    "boleto",
    "voucher",
)
CATEGORICAL = ("category", "customer_state", "seller_state")


@dataclass(slots=True)
class Dataset:
    """Rows in purchase order: numeric features, categorical features (text), the label and distance."""

    oids: list[str]
    purchased: list[str]
    numeric: np.ndarray
    categorical: list[tuple[str, ...]]
    late: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.oids)


def _log1p(value: float | None) -> float:
    return math.nan if value is None else math.log1p(max(value, 0.0))


def dataset(records: Sequence[OrderRecord]) -> Dataset:
    """Features and labels of the delivered orders, each computed from what was known at its purchase."""
    rows = sorted((r for r in records if r.measured and r.purchased), key=lambda r: (r.purchased, r.oid))
    outcomes = sorted(
        (r.delivered, r.seller.seller if r.seller else "", bool(r.late)) for r in rows if r.delivered is not None
    )
    seen_n: Counter[str] = Counter()
    seen_late: Counter[str] = Counter()
    total_n = total_late = 0
    k = 0
    numeric: list[list[float]] = []
    categorical: list[tuple[str, ...]] = []
    for r in rows:
        assert r.purchased is not None and r.promised is not None
        while k < len(outcomes) and outcomes[k][0] < r.purchased:
            _, seller, was_late = outcomes[k]
            seen_n[seller] += 1
            seen_late[seller] += was_late
            total_n += 1
            total_late += was_late
            k += 1
        prior = (total_late + 1.0) / (total_n + 12.0)  # about 8% late before anything is known
        s = r.seller
        sid = s.seller if s else ""
        past_rate = (seen_late[sid] + PRIOR_WEIGHT * prior) / (seen_n[sid] + PRIOR_WEIGHT)
        price = sum(p.price for p in r.sellers)
        freight = sum(p.freight for p in r.sellers)
        weights = [p.weight_g for p in r.sellers]
        weight = None if not weights or any(w is None for w in weights) else sum(w or 0.0 for w in weights)
        local = r.purchased.astimezone(zone())
        ship_by = min((p.ship_by for p in r.sellers if p.ship_by), default=None)
        numeric.append(
            [
                _log1p(r.distance_km),
                float(bool(s and s.state and s.state == r.customer_state)),
                math.log1p(seen_n[sid]),
                past_rate,
                _log1p(price),
                _log1p(freight),
                freight / (price + freight) if price + freight > 0 else math.nan,
                float(sum(p.items for p in r.sellers)),
                float(len(r.sellers)),
                _log1p(None if weight is None else weight / 1000.0),
                (r.promised - r.purchased).total_seconds() / DAY,
                math.nan if r.approved is None else (r.approved - r.purchased).total_seconds() / 3600.0,
                math.nan if ship_by is None else (ship_by - r.purchased).total_seconds() / DAY,
                float(local.month),
                float(local.weekday()),
                float(local.hour),
                float("bank_transfer" in r.methods),
                float(any("voucher" in m for m in r.methods)),
            ]
        )
        categorical.append(
            (r.categories[0] if r.categories else "", r.customer_state or "", (s.state if s else None) or "")
        )
    return Dataset(
        oids=[r.oid for r in rows],
        purchased=[r.purchased.isoformat() if r.purchased else "" for r in rows],
        numeric=np.asarray(numeric, dtype=float).reshape(len(rows), len(NUMERIC)),
        categorical=categorical,
        late=np.asarray([bool(r.late) for r in rows], dtype=int),
        distance=np.asarray([_log1p(r.distance_km) for r in rows], dtype=float),
    )


def _codes(train: list[tuple[str, ...]], rows: list[tuple[str, ...]]) -> np.ndarray:
    """Categorical text as integer codes by training frequency; rare or unseen values share the last code."""
    out = np.zeros((len(rows), len(CATEGORICAL)), dtype=float)
    for j in range(len(CATEGORICAL)):
        common = [v for v, _ in Counter(t[j] for t in train).most_common(TOP_CATEGORIES) if v]
        index = {v: i for i, v in enumerate(common)}
        out[:, j] = [index.get(t[j], len(common)) for t in rows]
    return out


class _Boosted:
    """Gradient boosting over numeric features plus coded categoricals."""

    def __init__(self) -> None:
        self.model = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            categorical_features=[False] * len(NUMERIC) + [True] * len(CATEGORICAL),
            random_state=0,
        )
        self.train_cats: list[tuple[str, ...]] = []

    def fit(self, data: Dataset, idx: np.ndarray) -> _Boosted:
        self.train_cats = [data.categorical[i] for i in idx]
        x = np.hstack([data.numeric[idx], _codes(self.train_cats, self.train_cats)])
        self.model.fit(x, data.late[idx])
        return self

    def score(self, data: Dataset, idx: np.ndarray) -> np.ndarray:
        x = np.hstack([data.numeric[idx], _codes(self.train_cats, [data.categorical[i] for i in idx])])
        return np.asarray(self.model.predict_proba(x)[:, 1])


class _Logistic:
    """A regularised logistic regression: imputed, scaled numerics and one-hot categoricals."""

    def __init__(self) -> None:
        n = len(NUMERIC)
        prep = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(range(n))),
                (
                    "cat",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                    list(range(n, n + len(CATEGORICAL))),
                ),
            ]
        )
        self.model = Pipeline([("prep", prep), ("lr", LogisticRegression(C=0.3, max_iter=2000))])

    def _x(self, data: Dataset, idx: np.ndarray) -> np.ndarray:
        cats = np.asarray([data.categorical[i] for i in idx], dtype=object).reshape(len(idx), len(CATEGORICAL))
        return np.hstack([data.numeric[idx].astype(object), cats])

    def fit(self, data: Dataset, idx: np.ndarray) -> _Logistic:
        self.model.fit(self._x(data, idx), data.late[idx])
        return self

    def score(self, data: Dataset, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._x(data, idx))[:, 1])


def _distance_only(data: Dataset, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    model = make_pipeline(SimpleImputer(strategy="median"), LogisticRegression())
    model.fit(data.distance[train].reshape(-1, 1), data.late[train])
    return np.asarray(model.predict_proba(data.distance[test].reshape(-1, 1))[:, 1])


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < int(y.sum()) < len(y) else None


CANDIDATES: dict[str, type[_Boosted] | type[_Logistic]] = {"gradient_boosting": _Boosted, "logistic": _Logistic}


def evaluate(data: Dataset, *, seed: int = 0) -> dict[str, Any]:
    """Train on the first 80% by purchase time, test on the last 20%; AUCs, their difference and its 95% CI."""
    # One thread: the data is small, and OpenMP workers spinning on a busy shared machine made fits 5-10x slower.
    with threadpool_limits(limits=1):
        return _evaluate(data, seed)


def _evaluate(data: Dataset, seed: int) -> dict[str, Any]:
    n = len(data)
    cut = int(n * TRAIN_SHARE)
    train, test = np.arange(cut), np.arange(cut, n)
    if n < 50 or _auc(data.late[test], np.zeros(len(test))) is None or data.late[train].sum() == 0:
        return {"orders": n, "skipped": "too few orders, or no late order in the training or test period"}
    inner = int(cut * INNER_SHARE)
    fit_idx, val_idx = np.arange(inner), np.arange(inner, cut)
    inner_auc: dict[str, float | None] = {}
    for name, kind in CANDIDATES.items():
        inner_auc[name] = _auc(data.late[val_idx], kind().fit(data, fit_idx).score(data, val_idx))
    chosen = max(inner_auc, key=lambda k: inner_auc[k] or 0.0)
    test_scores = {name: kind().fit(data, train).score(data, test) for name, kind in CANDIDATES.items()}
    y = data.late[test]
    base = _distance_only(data, train, test)
    model = test_scores[chosen]
    low, high = _bootstrap(y, model, base, seed)
    auc_model, auc_base = _auc(y, model), _auc(y, base)
    return {
        "orders": n,
        "train": len(train),
        "test": len(test),
        "train_late_rate_pct": round(100.0 * float(data.late[train].mean()), 2),
        "test_late_rate_pct": round(100.0 * float(y.mean()), 2),
        "test_from": data.purchased[cut][:10],
        "model": chosen,
        "inner_validation_auc": {k: _r(v) for k, v in inner_auc.items()},
        "test_auc": {k: _r(_auc(y, s)) for k, s in test_scores.items()},
        "auc_model": _r(auc_model),
        "auc_distance_only": _r(auc_base),
        "auc_gain": _r(None if auc_model is None or auc_base is None else auc_model - auc_base),
        "auc_gain_ci95": [_r(low), _r(high)],
        "features": [*NUMERIC, *CATEGORICAL],
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def rank_auc(y: np.ndarray, p: np.ndarray) -> float:
    """AUC as the Mann-Whitney statistic on average ranks (ties count half), as roc_auc_score but much faster."""
    ranks = rankdata(p)
    pos = y == 1
    n1 = int(pos.sum())
    n0 = len(y) - n1
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int) -> tuple[float | None, float | None]:
    """95% interval of AUC(a) - AUC(b) over test orders resampled with replacement (paired)."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(rank_auc(y[i], a[i]) - rank_auc(y[i], b[i]))
    if not diffs:
        return None, None
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))
