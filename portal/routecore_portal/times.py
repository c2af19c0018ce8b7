"""Times in a number's zone, and days as the portal's filters take them."""

from __future__ import annotations

import time as time_module
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception:  # a zone removed from tzdata since the number was made
        return ZoneInfo("Asia/Shanghai")


def local(at: float | None, tz: str) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def today(tz: str) -> date:
    return datetime.now(zone(tz)).date()


def day_start(day: date, tz: str) -> float:
    return datetime.combine(day, time(), zone(tz)).timestamp()


def day_range(first: date, last: date, tz: str) -> tuple[float, float]:
    """``[first 00:00, last+1 00:00)`` in the zone, as seconds."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` day, None for empty; ValueError for anything else."""
    if not text:
        return None
    return date.fromisoformat(text.strip())


class LocalClock:
    """``local()`` for many instants of one zone, fast: the zone's offset is looked up once for
    each half hour of time (no zone changes its offset more often), the text made by
    ``time.gmtime``."""

    def __init__(self, tz: str) -> None:
        self._zone = zone(tz)
        self._offsets: dict[int, float] = {}

    def __call__(self, at: float | None) -> str:
        if at is None:
            return ""
        hour = int(at // 1800)  # half hours: the finest step any zone's offset takes
        offset = self._offsets.get(hour)
        if offset is None:
            delta = datetime.fromtimestamp(at, self._zone).utcoffset()
            offset = self._offsets[hour] = delta.total_seconds() if delta else 0.0
        return time_module.strftime("%Y-%m-%d %H:%M:%S", time_module.gmtime(at + offset))
