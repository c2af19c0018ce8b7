"""A month's calls of one number as billable minutes and charges, from the call records (P1, P3).

Only connected calls are charged: ``answer`` set, on their connected time ``talk_seconds``
(started minutes rounded up, :func:`routecore.billing.rules.billable_minutes`). ``inbound``
calls (a caller dialled the 400 number) may be paid by the gift credit; ``outbound`` calls (B3,
an agent calling a customer) are charged at the same per-minute rate, always to the balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from routecore.billing.rules import billable_minutes

__all__ = ["Usage", "usage"]


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
        if kind not in counts or row.get("answer") is None:
            continue
        seconds = row.get("talk_seconds") or 0
        counts[kind][0] += 1
        counts[kind][1] += billable_minutes(int(seconds))
    return Usage(
        inbound_calls=counts["inbound"][0],
        inbound_minutes=counts["inbound"][1],
        outbound_calls=counts["outbound"][0],
        outbound_minutes=counts["outbound"][1],
    )
