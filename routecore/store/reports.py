"""The reports of the call store, as rows and as CSV, ``routecore report`` (B5, B8, B11, B12,
B15).

=============  ======================================================================
``calls``      every call record (B11/B12 context, billing): one row a call
``branches``   B11: calls per menu branch (``menu.key``) and extension
``surveys``    B12: ratings per answering agent
``recordings`` B8: the recordings still kept
``voicemail``  B5: the voicemail messages still kept
=============  ======================================================================

Each report covers one 400 number (or all) and the calls *started* in a date range; dates are
days in a time zone (China's by default), ``until`` included.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import IO

from routecore.errors import StoreError
from routecore.rules import DEFAULT_TZ
from routecore.store.calls import CallStore, Rows, zone

__all__ = ["REPORTS", "csv_cell", "day_range", "iso_time", "report_rows", "write_csv"]

Query = Callable[[CallStore, str | None, float | None, float | None], Rows]

REPORTS: dict[str, Query] = {
    "calls": CallStore.calls,
    "branches": CallStore.branch_stats,
    "surveys": CallStore.survey_results,
    "recordings": CallStore.recordings,
    "voicemail": CallStore.voicemails,
}
TIME_COLUMNS = ("start", "answer", "end")


def day_range(
    since: date | None, until: date | None, tz: str = DEFAULT_TZ
) -> tuple[float | None, float | None]:
    """Unix seconds ``[start of since, end of until)`` in ``tz`` (None: open ended, as is an
    end after the last day a date can hold, 9999-12-31); StoreError for an unknown zone."""
    if since is not None and until is not None and until < since:
        raise StoreError(f"the range ends ({until}) before it starts ({since})")
    where = zone(tz)
    lo = _midnight(since, where) if since is not None else None
    hi = None
    if until is not None and until < date.max:
        hi = _midnight(until + timedelta(days=1), where)
    return lo, hi


def _midnight(day: date, where: tzinfo) -> float | None:
    try:
        return datetime.combine(day, time(), where).timestamp()
    except (OverflowError, ValueError, OSError):  # pragma: no cover - depends on the platform
        return None


def iso_time(value: float, where: tzinfo) -> str:
    """``value`` (unix seconds) as ISO text in zone ``where``, or as the number itself when no
    date can hold it (a record from a broken clock never stops a report)."""
    try:
        return datetime.fromtimestamp(value, where).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return repr(value)


def report_rows(
    store: CallStore,
    name: str,
    did: str | None = None,
    since: float | None = None,
    until: float | None = None,
    *,
    tz: str = DEFAULT_TZ,
) -> Rows:
    """The rows of report ``name``; times become ISO text in ``tz`` (lists stay lists: JSON
    arrays in ``--json``, JSON text in a CSV cell)."""
    query = REPORTS.get(name)
    if query is None:
        raise StoreError(f"unknown report {name!r} (known: {', '.join(REPORTS)})")
    where = zone(tz)
    rows = query(store, did, since, until)
    for row in rows:
        for key, value in row.items():
            if key in TIME_COLUMNS or key.endswith("_purged"):
                if value is not None:
                    row[key] = iso_time(value, where)
    return rows


def write_csv(rows: Rows, out: IO[str], columns: Sequence[str] | None = None) -> int:
    """Write ``rows`` as CSV with a header line (``columns``: the report's own by default),
    also when there are no rows; returns the number of data rows written."""
    if columns is None:
        columns = rows.columns
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return len(rows)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A list is its JSON text; a text cell a spreadsheet would run as a formula (a caller ID
    such as ``=HYPERLINK(…)`` or ``+86 …``) gets a leading ``'``, so it is shown as text,
    never evaluated."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
