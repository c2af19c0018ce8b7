"""Reading call records a page at a time, for people and services: filters, keyset pagination
newest first, a stream for exports in constant memory, calls per hour, a seat's missed calls
(B15, V5).

Every query names one number (``did``): the portal scopes each person to their numbers, and the
primary key ``(did, start, call_id)`` serves the number's range newest first without a sort.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from routecore.engine.record import OUTCOMES
from routecore.errors import StoreError
from routecore.store.db import Database

__all__ = [
    "COLUMNS",
    "OUTCOMES",
    "PAGE_MAX",
    "CallQuery",
    "page",
    "per_hour",
    "rang",
    "stream",
    "stream_raw",
]

PAGE_MAX = 500
"""The most records one page may hold."""


_COLUMNS = (
    'did, start, call_id, kind, caller, callee, caller_kind, caller_area, answer, "end",'
    " branches, tried, answered_by, talk_seconds, recorded, recording, voicemail, survey,"
    " outcome, recording_purged, voicemail_purged, caller_number, busy, answered_unlisted,"
    " recovered, transfers, talked_with"
)
LIST_COLUMNS = ("branches", "tried", "busy", "transfers", "talked_with")
"""The call record's columns that hold a list (JSON text in the store)."""


@dataclass(frozen=True)
class CallQuery:
    """Which calls of one number: started in ``[since, until)``; ``caller`` the digits the
    caller's number starts with (a whole number, or an area code such as ``010``); ``outcome``
    one of :data:`OUTCOMES`; ``branch`` a branch the call took (``menu.1``, ``extensions.801``).
    """

    did: str
    since: float = 0.0
    until: float = 2.0**62
    caller: str | None = None
    outcome: str | None = None
    branch: str | None = None

    def __post_init__(self) -> None:
        if not (self.did.isascii() and self.did.isdigit() and 3 <= len(self.did) <= 20):
            raise StoreError(f"not a 400 number: {self.did!r}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise StoreError(f"{name} must be a time in seconds, not {value!r}")
            if math.isnan(value):
                raise StoreError(f"{name} must be a time in seconds, not NaN")
        if self.caller is not None and not (
            self.caller.isascii() and self.caller.isdigit() and len(self.caller) <= 20
        ):
            raise StoreError(f"a caller filter is 1-20 digits, not {self.caller!r}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise StoreError(f"unknown outcome {self.outcome!r} (one of {', '.join(OUTCOMES)})")
        if self.branch is not None and not (0 < len(self.branch) <= 80):
            raise StoreError("a branch filter has 1-80 characters")

    def where(self, db: Database) -> tuple[str, dict[str, Any]]:
        """The SQL condition and its parameters (on ``db``)."""
        parts = ["did = :did", "start >= :since", "start < :until"]
        args: dict[str, Any] = {"did": self.did, "since": self.since, "until": self.until}
        if self.caller:  # a range of the (did, caller) index: digits sort as text
            parts.append("caller >= :caller AND caller < :caller_end")
            args["caller"] = self.caller
            args["caller_end"] = self.caller + ":"  # ':' sorts right after '9'
        if self.outcome is not None:
            parts.append("outcome = :outcome")
            args["outcome"] = self.outcome
        if self.branch is not None:
            items = db.each("calls.branches", "b")
            parts.append(f"EXISTS (SELECT 1 FROM {items} WHERE b.value = :branch)")
            args["branch"] = self.branch
        return " AND ".join(parts), args


def _decoded(row: Any) -> dict[str, Any]:
    out = dict(row)
    for name in LIST_COLUMNS:
        out[name] = json.loads(out[name])
    out["recorded"] = bool(out["recorded"])
    out["answered_unlisted"] = bool(out["answered_unlisted"])
    return out


def page(
    db: Database,
    query: CallQuery,
    after: tuple[float, str] | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
    """Up to ``limit`` calls newest first, older than ``after`` (the ``(start, call_id)`` of the
    last row of the page before); and the key of the next page (None: this was the last)."""
    if not 1 <= limit <= PAGE_MAX:
        raise StoreError(f"a page holds 1-{PAGE_MAX} records, not {limit}")
    where, args = query.where(db)
    if after is not None:
        where += " AND (start, call_id) < (:after_start, :after_id)"
        args["after_start"], args["after_id"] = after
    args["limit"] = limit + 1
    source = db.indexed("calls", "calls_caller") if _few_callers(db, query) else "calls"
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM {source} WHERE {where}"
        " ORDER BY start DESC, call_id DESC LIMIT :limit",
        args,
    ).fetchall()
    more = len(rows) > limit
    out = [_decoded(r) for r in rows[:limit]]
    return out, ((out[-1]["start"], out[-1]["call_id"]) if more else None)


def rang(
    db: Database,
    dids: list[str],
    phone: str | list[str],
    since: float,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The calls of ``dids`` since ``since`` that reached for ``phone`` (or any of a list:
    a seat's groups) and that nobody answered — rung, found busy or offline, ended in
    voicemail — newest first (a seat's missed calls)."""
    phones = [phone] if isinstance(phone, str) else list(phone)
    if not dids or not phones:
        return []
    marks = ", ".join("?" for _ in dids)
    wanted = ", ".join("?" for _ in phones)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM calls WHERE did IN ({marks}) AND start >= ?"
        f" AND answer IS NULL AND EXISTS (SELECT 1 FROM {db.each('calls.tried', 't')}"
        f" WHERE t.value IN ({wanted})) ORDER BY start DESC LIMIT ?",
        (*dids, since, *phones, limit),
    ).fetchall()
    return [_decoded(r) for r in rows]


RARE = 5000
"""A caller filter matching fewer calls than this reads them by the caller index (then sorts
them); one matching more walks the number's calls newest first, where matches are dense."""


def _few_callers(db: Database, query: CallQuery) -> bool:
    """Whether the caller filter matches few calls (counted on the index, at most RARE)."""
    if not query.caller:
        return False
    found = db.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {db.indexed('calls', 'calls_caller')}"
        " WHERE did = :did AND caller >= :caller AND caller < :caller_end LIMIT :rare) AS few",
        {"did": query.did, "caller": query.caller, "caller_end": query.caller + ":", "rare": RARE},
    ).fetchone()
    return int(found[0]) < RARE


def stream(db: Database, query: CallQuery, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every call of ``query`` oldest first, fetched ``batch`` rows at a time (an export holds
    one batch in memory, never the result)."""
    where, args = query.where(db)
    sql = f"SELECT {_COLUMNS} FROM calls WHERE {where} ORDER BY start, call_id"
    for rows in db.stream(sql, args, batch):
        for r in rows:
            yield _decoded(r)


COLUMNS = tuple(c.strip().strip('"') for c in _COLUMNS.split(","))
"""The columns a record has, in the order ``stream_raw`` gives them."""


def stream_raw(
    db: Database, query: CallQuery, columns: tuple[str, ...], batch: int = 2000
) -> Iterator[list[tuple[Any, ...]]]:
    """``columns`` (of :data:`COLUMNS`) of every call of ``query`` oldest first, ``batch`` rows
    at a time as tuples, undecoded (the lists stay the JSON text they are stored as): the fast
    path of exports."""
    unknown = set(columns) - set(COLUMNS)
    if unknown or not columns:
        raise StoreError(f"unknown columns {sorted(unknown)}")
    where, args = query.where(db)
    wanted = ", ".join(f'"{c}"' for c in columns)
    sql = f"SELECT {wanted} FROM calls WHERE {where} ORDER BY start, call_id"
    yield from db.stream(sql, args, batch, tuples=True)


def per_hour(db: Database, did: str, since: float) -> tuple[list[int], list[int]]:
    """Calls and answered calls of ``did`` in each of the 24 hours from ``since``."""
    calls, answered = [0] * 24, [0] * 24
    rows = db.execute(
        f"SELECT {db.hour('start - :since')} AS hour, COUNT(*) AS n,"
        " COUNT(answer) AS answered FROM calls"
        " WHERE did = :did AND start >= :since AND start < :until GROUP BY 1",
        {"did": did, "since": since, "until": since + 86400},
    )
    for hour, n, a in rows:
        if 0 <= hour < 24:
            calls[hour], answered[hour] = n, a or 0
    return calls, answered
