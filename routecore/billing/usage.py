"""A month's calls of one number as billable minutes and charges, from the call records (P1, P3).

Only connected calls are charged: ``answer`` set, on their connected time ``talk_seconds``
(started minutes rounded up, :func:`routecore.billing.rules.billable_minutes`). ``inbound``
calls (a caller dialled the 400 number) may be paid by the gift credit; ``outbound`` calls (B3,
an agent calling a customer) are charged at the same per-minute rate, always to the balance;
so are ``internal`` ones (V5: a seat calling a seat's phone is an outbound leg all the same).

Each record is checked where it is read: ``talk_seconds`` must be a whole number of seconds
from 0 to :data:`MONTH_SECONDS_MAX` (a call cannot talk longer than the month it is billed in);
anything else (text, infinity, 10^15 seconds) stops the statement with a BillingError naming the
call — a bill is never computed from a record that cannot be true.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from routecore.billing.rules import billable_minutes
from routecore.errors import BillingError

__all__ = ["MONTH_SECONDS_MAX", "Usage", "talk_seconds", "usage"]

MONTH_SECONDS_MAX = 31 * 24 * 3600
"""The longest talk one month's record may bill."""


@dataclass(frozen=True)
class Usage:
    """Connected calls and their billable minutes, inbound and outbound."""

    inbound_calls: int = 0
    inbound_minutes: int = 0
    outbound_calls: int = 0
    outbound_minutes: int = 0


def usage(rows: Iterable[Mapping[str, Any]]) -> Usage:
    """The usage of call rows (``CallStore.calls()`` rows or dicts with ``kind``, ``answer``,
    ``talk_seconds``): unanswered calls count nowhere."""
    counts = {"inbound": [0, 0], "outbound": [0, 0]}
    for row in rows:
        kind = row.get("kind")
        kind = "outbound" if kind == "internal" else kind  # a seat's call to a seat's phone
        if kind not in counts or row.get("answer") is None:
            continue
        counts[kind][0] += 1
        counts[kind][1] += billable_minutes(talk_seconds(row))
    return Usage(
        inbound_calls=counts["inbound"][0],
        inbound_minutes=counts["inbound"][1],
        outbound_calls=counts["outbound"][0],
        outbound_minutes=counts["outbound"][1],
    )


def talk_seconds(row: Mapping[str, Any]) -> int:
    """The row's ``talk_seconds`` as billable whole seconds; BillingError when it cannot be."""
    value = row.get("talk_seconds")
    if value is None:
        return 0
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number != int(number):
        shown = repr(value)[:40]
        raise BillingError(
            f"call {row.get('call_id')!r}: talk_seconds {shown} is not a whole number of seconds;"
            " fix the record before billing"
        )
    if not 0 <= number <= MONTH_SECONDS_MAX:
        raise BillingError(
            f"call {row.get('call_id')!r}: talk_seconds {int(number)} is beyond a month"
            f" (0-{MONTH_SECONDS_MAX} s); fix the record before billing"
        )
    return int(number)
