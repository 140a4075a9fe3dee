"""The health model: a scikit-learn logistic regression trained on the earlier customers, tested on the later ones.

Training is by time, like the model would be used: the earliest 70% of the
decided customers (by payment) train it, the latest 30% are held out and give
its AUC. The baseline is the single feature that separates the training
customers best, fitted the same way; a score is worth having only if it beats
that. The fitted model is reduced to plain numbers (fill values, means, scales,
category weights, coefficients), so a score can be computed, explained
feature by feature and reproduced from the log without scikit-learn.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.policy.model import canonical_json
from orderloom.valuestream.health import FEATURES, Kind, Row

TRAIN_SHARE = 0.7
MIN_DECIDED = 50
MISSING = "(missing)"


@dataclass(frozen=True, slots=True)
class Model:
    """A trained health model as plain numbers, with how well it did on the held-out customers."""

    features: tuple[tuple[str, Kind], ...]
    params: dict[str, Any]
    trained_on: int
    held_out: int
    churn_rate: float
    auc: float | None
    baseline_feature: str
    baseline_auc: float | None
    trained_until: str

    @property
    def digest(self) -> str:
        """SHA-256 of the features and parameters: the model's identity."""
        body = {"features": [list(f) for f in self.features], "params": self.params}
        return hashlib.sha256(canonical_json(body)).hexdigest()

    def as_data(self) -> dict[str, Any]:
        """The data of a `health.model_trained` event."""
        return {
            "digest": self.digest,
            "features": [{"name": n, "kind": k} for n, k in self.features],
            "params": self.params,
            "trained_on": self.trained_on,
            "held_out": self.held_out,
            "churn_rate": round(self.churn_rate, 4),
            "auc": _round(self.auc),
            "baseline": {"feature": self.baseline_feature, "auc": _round(self.baseline_auc)},
            "trained_until": self.trained_until,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Model:
        """The model a `health.model_trained` event holds."""
        kinds: dict[str, Kind] = {"number": "number", "category": "category"}
        return cls(
            features=tuple((f["name"], kinds[f["kind"]]) for f in data["features"]),
            params=dict(data["params"]),
            trained_on=int(data["trained_on"]),
            held_out=int(data["held_out"]),
            churn_rate=float(data.get("churn_rate", 0.0)),
            auc=data.get("auc"),
            baseline_feature=str(data["baseline"]["feature"]),
            baseline_auc=data["baseline"].get("auc"),
            trained_until=str(data["trained_until"]),
        )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _pipeline(features: Sequence[tuple[str, Kind]]) -> Pipeline:
    numbers = [i for i, (_, k) in enumerate(features) if k == "number"]
    categories = [i for i, (_, k) in enumerate(features) if k == "category"]
    parts: list[tuple[str, Any, list[int]]] = []
    if numbers:
        scale = Pipeline([("fill", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        parts.append(("num", scale, numbers))
    if categories:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categories))
    return Pipeline([("prepare", ColumnTransformer(parts)), ("model", LogisticRegression(C=1.0, max_iter=2000))])


def _frame(rows: Sequence[Row], features: Sequence[tuple[str, Kind]]) -> np.ndarray[Any, Any]:
    """The rows as a matrix: numbers as floats (NaN when unknown), categories as text (MISSING when unknown)."""
    table = np.empty((len(rows), len(features)), dtype=object)
    for i, r in enumerate(rows):
        for j, (name, kind) in enumerate(features):
            value = r.features.get(name)
            if kind == "number":
                table[i, j] = np.nan if value is None else float(value)
            else:
                table[i, j] = MISSING if value is None else str(value)
    return table


def _fit(rows: Sequence[Row], features: Sequence[tuple[str, Kind]]) -> Pipeline:
    pipe = _pipeline(features)
    pipe.fit(_frame(rows, features), np.array([bool(r.churned) for r in rows]))
    return pipe


def _auc(pipe: Pipeline, rows: Sequence[Row], features: Sequence[tuple[str, Kind]]) -> float | None:
    y = np.array([bool(r.churned) for r in rows])
    if len(set(y.tolist())) < 2:
        return None  # AUC needs both churned and renewed customers
    return float(roc_auc_score(y, pipe.predict_proba(_frame(rows, features))[:, 1]))


def split(decided: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """(earlier 70% to train on, later 30% held out), by payment time."""
    ordered = sorted(decided, key=lambda r: (r.paid_at, r.oid))
    cut = int(len(ordered) * TRAIN_SHARE)
    return ordered[:cut], ordered[cut:]


def train(all_rows: Sequence[Row], features: Sequence[tuple[str, Kind]] = FEATURES) -> Model:
    """Train on the earlier decided customers, measure on the later ones, against the best single feature."""
    decided = [r for r in all_rows if r.churned is not None]
    if len(decided) < MIN_DECIDED:
        raise ValidationFailed(
            [
                Problem(
                    "customers",
                    "enough_outcomes",
                    f"only {len(decided)} B2B customers have a renewal outcome; at least {MIN_DECIDED} are needed",
                )
            ]
        )
    train_rows, held = split(decided)
    if len({bool(r.churned) for r in train_rows}) < 2:
        raise ValidationFailed(
            [Problem("customers", "both_outcomes", "the training customers all renewed or all churned")]
        )
    pipe = _fit(train_rows, features)
    best, best_auc = _baseline(train_rows, features)
    base_pipe = _fit(train_rows, [best])
    return Model(
        features=tuple(features),
        params=_params(pipe, features),
        trained_on=len(train_rows),
        held_out=len(held),
        churn_rate=sum(bool(r.churned) for r in decided) / len(decided),
        auc=_auc(pipe, held, features) if held else None,
        baseline_feature=best[0],
        baseline_auc=_auc(base_pipe, held, [best]) if held else best_auc,
        trained_until=format_time(train_rows[-1].paid_at),
    )


def _baseline(rows: Sequence[Row], features: Sequence[tuple[str, Kind]]) -> tuple[tuple[str, Kind], float]:
    """The single feature whose own model separates the training customers best (training AUC)."""
    scored = []
    for f in features:
        auc = _auc(_fit(rows, [f]), rows, [f])
        scored.append((auc if auc is not None else 0.5, f))
    auc, best = max(scored, key=lambda s: s[0])
    return best, auc


def _params(pipe: Pipeline, features: Sequence[tuple[str, Kind]]) -> dict[str, Any]:
    prepare: ColumnTransformer = pipe.named_steps["prepare"]
    coef = pipe.named_steps["model"].coef_[0]
    at = 0
    numbers: dict[str, dict[str, float]] = {}
    categories: dict[str, dict[str, float]] = {}
    for name, transformer, columns in prepare.transformers_:
        if name == "num":
            fill = transformer.named_steps["fill"].statistics_
            scale = transformer.named_steps["scale"]
            for i, index in enumerate(columns):
                numbers[features[index][0]] = {
                    "fill": float(fill[i]),
                    "mean": float(scale.mean_[i]),
                    "scale": float(scale.scale_[i]),
                    "coef": float(coef[at]),
                }
                at += 1
        elif name == "cat":
            for index, levels in zip(columns, transformer.categories_, strict=True):
                weights = categories[features[index][0]] = {}
                for level in levels:
                    weights[str(level)] = float(coef[at])
                    at += 1
    return {"numbers": numbers, "categories": categories, "intercept": float(pipe.named_steps["model"].intercept_[0])}


def contributions(model: Model, features: Mapping[str, Any]) -> dict[str, float]:
    """Each feature's push on the churn log-odds (positive: riskier)."""
    out: dict[str, float] = {}
    for name, spec in model.params["numbers"].items():
        value = features.get(name)
        x = spec["fill"] if value is None else float(value)
        out[name] = spec["coef"] * (x - spec["mean"]) / (spec["scale"] or 1.0)
    for name, weights in model.params["categories"].items():
        value = features.get(name)
        # An unseen category weighs nothing, as the one-hot encoder ignores it.
        out[name] = weights.get(MISSING if value is None else str(value), 0.0)
    return out


def churn_probability(model: Model, features: Mapping[str, Any]) -> float:
    """The model's probability that this customer churns."""
    z = model.params["intercept"] + sum(contributions(model, features).values())
    return 1 / (1 + math.exp(-z))
