"""Times in a number's zone, and days as the portal's filters take them."""

from __future__ import annotations

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
