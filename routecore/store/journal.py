"""The call journal: every call in progress has a row in the call store from its start, like a
write-ahead log, so a call whose adapter dies (``kill -9``, a crash, an OOM kill) never leaves
without a record and its agents are never handed to a second caller while they still talk.

An adapter journals a call when it starts, when a Dial rings its targets (the destinations it
holds), when an agent answers and when the Dial ends; adding the call's record removes the row in
the same transaction (:meth:`routecore.store.CallStore.add`). What is left belongs to a process
that died: :mod:`routecore.adapter.reconcile` adopts its claims, asks the PBX whether the call is
still up, and completes the record (:func:`completed`) when the PBX says it ended.
"""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass, field, fields
from typing import Any

from routecore.engine.record import CallRecord
from routecore.errors import StoreError

__all__ = ["OpenCall", "completed", "host_name", "owner_alive", "record_json"]

_RECORD_FIELDS = frozenset(f.name for f in fields(CallRecord))
CLAIMED_MAX = 100
"""Destinations one journal row may hold (a Dial rings at most this many at once)."""


def host_name() -> str:
    """This host's name as the journal records owners (a row of another host is never judged
    by this host's processes)."""
    return socket.gethostname()


@dataclass(frozen=True)
class OpenCall:
    """One call in progress as journaled: its PBX channel (the Asterisk ``Uniqueid``, the
    FreeSWITCH channel ``uuid``), the owner process (host, pid and the pid's start time), the
    record so far, the destinations the call holds now (``claimed``), the agent who answered
    and when, and the time of the row."""

    call_id: str
    channel: str
    protocol: str
    host: str
    pid: int
    pid_start: int | None
    record: CallRecord
    claimed: tuple[str, ...] = ()
    answered_by: str | None = None
    answer: float | None = None
    updated: float = 0.0
    text: str | None = field(default=None, compare=False, repr=False)
    """The record's JSON taken when the row was made (the record itself may change after)."""

    def row(self) -> tuple[Any, ...]:
        """The values of the ``open_calls`` columns, in order."""
        return (
            self.call_id,
            self.channel,
            self.protocol,
            self.host,
            self.pid,
            self.pid_start,
            self.text if self.text is not None else record_json(self.record),
            json.dumps(list(self.claimed), ensure_ascii=False),
            self.answered_by,
            self.answer,
            self.updated,
        )

    @classmethod
    def from_row(cls, row: Any) -> OpenCall:
        """The row as read back; StoreError when it cannot be (a row another program wrote)."""
        try:
            data = json.loads(row["record"])
            record = CallRecord(**{k: v for k, v in data.items() if k in _RECORD_FIELDS})
            claimed = tuple(str(c) for c in json.loads(row["claimed"]))[:CLAIMED_MAX]
            answer = row["answer"]
            if answer is not None and not math.isfinite(float(answer)):
                answer = None
            return cls(
                call_id=str(row["call_id"]),
                channel=str(row["channel"]),
                protocol=str(row["protocol"]),
                host=str(row["host"]),
                pid=int(row["pid"]),
                pid_start=None if row["pid_start"] is None else int(row["pid_start"]),
                record=record,
                claimed=claimed,
                answered_by=row["answered_by"],
                answer=None if answer is None else float(answer),
                updated=float(row["updated"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise StoreError(f"journal row {row['call_id']!r} is unreadable: {e}") from None


INSERT = (
    "INSERT INTO open_calls (call_id, channel, protocol, host, pid, pid_start,"
    " record, claimed, answered_by, answer, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (call_id) DO UPDATE SET channel = excluded.channel,"
    " protocol = excluded.protocol, host = excluded.host, pid = excluded.pid,"
    " pid_start = excluded.pid_start, record = excluded.record, claimed = excluded.claimed,"
    " answered_by = excluded.answered_by, answer = excluded.answer, updated = excluded.updated"
)


def record_json(record: CallRecord) -> str:
    """The record as the journal keeps it (its fields are numbers, text and lists of text)."""
    return json.dumps(vars(record), ensure_ascii=False)


def owner_alive(entry: OpenCall) -> bool:
    """Whether the process that journaled ``entry`` still runs (on this host: its pid is alive,
    not a zombie, and started when it did). A row of another host is taken as alive: only its
    own host can tell."""
    from routecore.state.process import pid_alive, process_start_time

    if entry.host != host_name():
        return True
    if entry.pid == os.getpid():
        return True
    if not pid_alive(entry.pid) or _zombie(entry.pid):
        return False
    return entry.pid_start is None or process_start_time(entry.pid) == entry.pid_start


def _zombie(pid: int) -> bool:
    """A process that has died but not been reaped (a killed process-per-call AGI stays one
    until Asterisk's Dial returns): dead for the journal."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return False
    rest = raw[raw.rfind(b")") + 1 :].split()
    return bool(rest) and rest[0] in (b"Z", b"X")


def completed(entry: OpenCall, end: float | None) -> CallRecord:
    """The record of a call whose adapter died, completed from its journal row: ``end`` is when
    the PBX reported the call's end (None: the PBX no longer had it; the call then ends at the
    last moment the journal knew of). A call an agent answered is ``answered`` with the talk up
    to that end; one nobody answered is ``cut``."""
    rec = entry.record
    known = max(entry.updated, rec.start, entry.answer or 0.0)
    rec.end = max(end, rec.start) if end is not None else known
    rec.recovered = "pbx" if end is not None else "journal"
    who = entry.answered_by or rec.answered_by
    if who is not None and rec.outcome in ("in_progress", "answered"):
        rec.answered_by = who
        answer = entry.answer if entry.answer is not None else rec.answer
        rec.answer = answer if answer is not None else rec.end
        rec.talk_seconds = max(rec.talk_seconds, int(max(0.0, rec.end - rec.answer)))
        rec.outcome = "answered"
    elif rec.outcome == "in_progress":
        rec.outcome = "cut"
    if who is not None and who not in rec.tried:
        rec.tried.append(who)
    return rec


def check_entry(entry: OpenCall) -> None:
    """StoreError for a row that must not be written (a time that is not a finite number, too
    many destinations)."""
    for name in ("updated", "answer"):
        value = getattr(entry, name)
        if value is not None and not (isinstance(value, float | int) and math.isfinite(value)):
            raise StoreError(f"journal of call {entry.call_id!r}: {name} {value!r} is not a time")
    if len(entry.claimed) > CLAIMED_MAX:
        raise StoreError(f"journal of call {entry.call_id!r}: more than {CLAIMED_MAX} claimed")
