"""Calendar months of billing: ``YYYY-MM`` in Asia/Shanghai local time.

A statement covers one local month: the calls whose ``start`` falls in ``[first instant of the
month, first instant of the next)`` in Asia/Shanghai (the brief's operator is in China).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from routecore.errors import BillingError
from routecore.rules import DEFAULT_TZ

__all__ = ["BILLING_TZ", "Month"]

BILLING_TZ: Final = DEFAULT_TZ
"""The zone of billing months: China's, :data:`routecore.rules.DEFAULT_TZ`."""
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month (``year`` 1900-2999, ``month`` 1-12)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1900 <= self.year <= 2999 and 1 <= self.month <= 12):
            raise BillingError(f"not a month: {self.year:04d}-{self.month:02d} (years 1900-2999)")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2026-11"`` as a Month; BillingError naming the text otherwise."""
        m = _MONTH.fullmatch(text.strip())
        if m is None or not (1900 <= int(m.group(1)) <= 2999 and 1 <= int(m.group(2)) <= 12):
            raise BillingError(f"not a month: {text!r} (YYYY-MM, 2026-11; years 1900-2999)")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def index(self) -> int:
        """Months since January of year 0 (for differences)."""
        return self.year * 12 + self.month - 1

    def plus(self, months: int) -> Month:
        """The month ``months`` after this one (negative: before)."""
        year, month = divmod(self.index + months, 12)
        return Month(year, month + 1)

    def minus(self, other: Month) -> int:
        """How many months this one is after ``other``."""
        return self.index - other.index

    def bounds(self, tz: str = BILLING_TZ) -> tuple[float, float]:
        """The month as unix seconds ``[since, until)`` in zone ``tz``."""
        zone = ZoneInfo(tz)
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        nxt = self.plus(1)
        end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
        return start.timestamp(), end.timestamp()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
