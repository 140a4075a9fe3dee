"""The backlog model: a fluid projection corrected by gradient-boosted trees, `horizon` hours ahead.

The projection (start from the backlog, add the usual arrivals times the
announced promotions, remove the announced capacity hour by hour) already
knows the queue arithmetic; the trees learn what it gets wrong (repairs that
overrun, promotions that draw less than announced, busy days) from the other
features, so they predict the projection's error, not the backlog itself.
Shallow, regularised trees: 28 days hold only a few hundred alert node-hours.
The settings were chosen by F1 on a validation week at the end of the training
period (docs/forecast.md), never on the held-out period.

An alert is a predicted backlog (in hours of capacity) above the threshold. The model also says which
features drove one prediction: each feature in turn is set to its typical
(training median) value, and the drop in the prediction is that feature's effect.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor

from orderloom.core.errors import ConfigError
from orderloom.status.forecast.features import BASE, NAMES

KIND = "fluid+hgb"
FEATURES_VERSION = 2
_BASE = NAMES.index(BASE)


@dataclass(frozen=True, slots=True)
class BacklogModel:
    """A fitted model with what it predicts and how to judge an alert."""

    version: str
    horizon: int
    threshold_hours: float
    features: tuple[str, ...]
    estimator: Any
    typical: np.ndarray  # the training median of each feature (NaN-aware)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted backlog hours at t + horizon for each feature row (never below zero)."""
        if not len(x):
            return np.zeros(0)
        base = np.nan_to_num(x[:, _BASE], nan=0.0)
        out: np.ndarray = np.maximum(0.0, base + np.asarray(self.estimator.predict(x), dtype=float))
        return out

    def alerts(self, x: np.ndarray) -> np.ndarray:
        """Whether each row's predicted backlog is over the threshold."""
        return self.predict(x) > self.threshold_hours

    def drivers(self, row: np.ndarray, top: int = 5) -> list[dict[str, Any]]:
        """The features that raised this row's prediction most, with the hours of backlog each one adds."""
        base = float(self.predict(row[None, :])[0])
        probes = np.repeat(row[None, :], len(self.features), axis=0)
        probes[np.arange(len(self.features)), np.arange(len(self.features))] = self.typical
        effects = base - self.predict(probes)
        order = np.argsort(-effects)[:top]
        return [
            {
                "feature": self.features[j],
                "value": None if np.isnan(row[j]) else round(float(row[j]), 3),
                "effect_hours": round(float(effects[j]), 3),
            }
            for j in order
            if effects[j] > 0.005
        ]


def fit(x: np.ndarray, y: np.ndarray, *, horizon: int, threshold_hours: float, trained_on: str) -> BacklogModel:
    """Fit the model on feature rows and their backlog hours `horizon` hours later."""
    if len(x) < 50:
        raise ConfigError(f"the forecast needs at least 50 training rows (node-hours), got {len(x)}")
    estimator = HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, max_depth=3, min_samples_leaf=40, l2_regularization=1.0, random_state=0
    )
    estimator.fit(x, y - np.nan_to_num(x[:, _BASE], nan=0.0))
    typical = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0) if len(x) else np.zeros(len(NAMES))
    digest = hashlib.sha256(
        f"{trained_on}|{len(x)}|{float(np.nansum(y)):.6f}|{','.join(NAMES)}|{sklearn.__version__}".encode()
    ).hexdigest()[:12]
    return BacklogModel(
        version=f"{KIND}-{horizon}h-v{FEATURES_VERSION}:{digest}",
        horizon=horizon,
        threshold_hours=threshold_hours,
        features=NAMES,
        estimator=estimator,
        typical=np.asarray(typical, dtype=float),
    )


def save(model: BacklogModel, path: Path) -> None:
    """Write the model to a file (a Python pickle: load only files you made)."""
    path.write_bytes(pickle.dumps(model))


def load(path: Path) -> BacklogModel:
    """Read a model written by `save`; ConfigError if the file is not one or was made for other features."""
    try:
        # Only files the operator made with `forecast train` are meant to be read here.
        model = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ConfigError(
            f"model file {path} cannot be read ({exc}); make one with `orderloom forecast train`"
        ) from exc
    if not isinstance(model, BacklogModel) or model.features != NAMES:
        raise ConfigError(f"model file {path} was made by another version; train it again with `forecast train`")
    return model
