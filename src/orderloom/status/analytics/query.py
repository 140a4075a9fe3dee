"""A dwell question (grouping, percentile, filters, time zone), checked once for the API and the CLI alike."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from orderloom.core.envelope import parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary

DEFAULT_TZ = "Asia/Shanghai"
BY = ("hour", "day")
METRICS = ("p50", "p90", "p99")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class DwellQuery:
    """Which steps to aggregate and how; `start`/`end` are naive UTC, `end` exclusive."""

    by: str = "hour"
    metric: str = "p90"
    stage: str | None = None
    node: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    tz: str = DEFAULT_TZ

    def describe(self) -> dict[str, str | None]:
        """The query as the answer echoes it."""
        return {
            "by": self.by,
            "metric": self.metric,
            "stage": self.stage,
            "node": self.node,
            "from": _utc_text(self.start),
            "to": _utc_text(self.end),
            "tz": self.tz,
        }


def _utc_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def check_tz(name: str, problems: list[Problem]) -> zoneinfo.ZoneInfo | None:
    """The IANA time zone called `name`, or None with a problem naming `tz`."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem("tz", "time_zone", f"tz {name!r} is not a time zone name; use one like Asia/Shanghai or UTC")
        )
        return None


def _moment(name: str, text: str, zone: zoneinfo.ZoneInfo | None, problems: list[Problem]) -> datetime | None:
    """RFC 3339 text, or a date meaning that day in the query's time zone ('to' takes the whole day)."""
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text) + (timedelta(days=1) if name == "to" else timedelta())
            moment = datetime.combine(day, time(), tzinfo=zone or UTC)
        else:
            moment = parse_time(text)
    except ValueError:
        problems.append(
            Problem(name, "date_time", f"{name} must be a date (2026-05-01) or a time like 2026-05-01T08:00:00+08:00")
        )
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_dwell_query(
    dictionary: Dictionary,
    *,
    by: str | None = None,
    metric: str | None = None,
    stage: str | None = None,
    node: str | None = None,
    start: str | None = None,
    end: str | None = None,
    tz: str | None = None,
) -> DwellQuery:
    """Check every parameter and report all problems at once, each naming its parameter."""
    problems: list[Problem] = []
    by = by or "hour"
    if by not in BY:
        problems.append(Problem("by", "enum", f"by must be hour or day, not {by!r}"))
    metric = metric or "p90"
    if metric not in METRICS:
        problems.append(Problem("metric", "enum", f"metric must be one of {', '.join(METRICS)}, not {metric!r}"))
    stages = [s for s in dictionary.stages if s != "system"]
    if stage is not None and stage not in stages:
        problems.append(
            Problem("stage", "enum", f"stage {stage!r} is not in the event dictionary; use one of {', '.join(stages)}")
        )
    if node is not None and not 1 <= len(node) <= 64:
        problems.append(Problem("node", "length", "node must be a node id of 1 to 64 characters"))
    tz = tz or DEFAULT_TZ
    zone = check_tz(tz, problems)
    begin = _moment("from", start, zone, problems) if start else None
    finish = _moment("to", end, zone, problems) if end else None
    if begin is not None and finish is not None and finish <= begin:
        problems.append(Problem("to", "after_from", "to must be later than from"))
    if problems:
        raise ValidationFailed(problems)
    return DwellQuery(by=by, metric=metric, stage=stage, node=node, start=begin, end=finish, tz=tz)
