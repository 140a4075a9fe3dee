"""Olist's timestamps: wall-clock time in São Paulo, without an offset, turned into RFC 3339 with the right one."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

ZONE = "America/Sao_Paulo"


@cache
def zone() -> ZoneInfo:
    """São Paulo's zone (read from tzdata on first use, never at import)."""
    return ZoneInfo(ZONE)


def local_time(text: str) -> datetime:
    """An Olist timestamp ("2017-07-09 21:57:05") as an aware São Paulo time.

    Brazil kept daylight saving time until 2019, so the offset is -02:00 in the
    southern summer and -03:00 otherwise. At the end of DST an hour repeats; the
    first (DST) reading is taken (fold=0). A time inside the hour skipped when DST
    starts does not exist; it is read with the offset in force just before.
    """
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time like 2017-07-09 21:57:05") from None
    if naive.tzinfo is not None:
        raise ValueError(f"{text!r} carries an offset; Olist times are São Paulo wall-clock times without one")
    return naive.replace(tzinfo=zone())


def rfc3339(text: str) -> str:
    """An Olist timestamp as RFC 3339 text with São Paulo's offset of that day, e.g. 2017-07-09T21:57:05-03:00."""
    return local_time(text).isoformat(timespec="seconds")
