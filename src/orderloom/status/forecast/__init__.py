"""Sorting-centre backlog forecast: hourly series folded from events, a model 6 hours ahead, alerts as events."""

from orderloom.status.forecast.alerts import ALERT, CLEARED, Scored, score_hour, score_hours, stream_of
from orderloom.status.forecast.evaluate import Evaluation, evaluate, train
from orderloom.status.forecast.model import BacklogModel, load, save
from orderloom.status.forecast.scenario import SCENARIO_YAML, Setup, load_setup
from orderloom.status.forecast.series import Series, SeriesFold, fold_events

__all__ = [
    "ALERT",
    "CLEARED",
    "SCENARIO_YAML",
    "BacklogModel",
    "Evaluation",
    "Scored",
    "Series",
    "SeriesFold",
    "Setup",
    "evaluate",
    "fold_events",
    "load",
    "load_setup",
    "save",
    "score_hour",
    "score_hours",
    "stream_of",
    "train",
]
