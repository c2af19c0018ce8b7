"""China's public holidays and make-up working days, shared by both backends (B7).

The dates come from the ``chinesecalendar`` package (import name ``chinese_calendar``), which
knows the State Council's schedule for the years it ships (2004 to 2026 in version 1.11).
"""

from __future__ import annotations

from datetime import date
from functools import cache

__all__ = ["china_calendar"]


@cache
def _china_calendar() -> tuple[tuple[date, str], ...]:
    import chinese_calendar  # type: ignore[import-untyped]

    days = [(d, "holiday") for d in chinese_calendar.holidays]
    days += [(d, "workday") for d in chinese_calendar.workdays]
    return tuple(sorted(days))


def china_calendar() -> list[tuple[date, str]]:
    """Every date ``chinese_calendar`` knows, sorted, as ``(date, "holiday" | "workday")``.

    A holiday is a day off of a public holiday period (weekend days inside the period
    included); a workday is a make-up working day on a weekend (调休上班). Read once, cached.
    """
    return list(_china_calendar())
