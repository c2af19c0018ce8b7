"""Calls in progress across hosts: every adapter whose shared state is on Redis publishes its
journal rows and the ends of its calls to one Redis Stream, and a reader on any host rebuilds
the journal of every host from it: screen pop across hosts (V5).

On one host the call store's journal is enough (``CallStore.open_calls``); the stream carries
the same rows (:class:`~routecore.store.journal.OpenCall`, as their ``open_calls`` columns in
JSON) so a portal on another host sees a seat's phone ring within its poll. Each entry is one
field: ``row`` (a journal row as it was stored) or ``end`` (the call id whose record was
stored). The stream is capped at about :data:`MAXLEN` entries (``XADD MAXLEN ~``); a reader
that starts reads what the stream still holds, so calls that began before it are known too.
A call whose end never came (its adapter died) is forgotten once its row is older than
:data:`STALE_SECONDS` (a call in progress is journaled again at every keep-alive).

Publishing never fails a call: an error is logged (once a minute at most), the rows stay in
the call store as before, and Redis is not tried again for :data:`RETRY_AFTER` seconds (an
adapter's writer thread never waits on a Redis that is down at every batch).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from routecore.engine.dialer import KEEPALIVE_EVERY
from routecore.store.journal import OpenCall

__all__ = ["MAXLEN", "STALE_SECONDS", "CallEventReader", "CallEvents", "stream_key"]

log = logging.getLogger("routecore.store")

MAXLEN = 20_000
"""About how many entries the stream keeps (a few per call: its rows and its end)."""
STALE_SECONDS = 2 * KEEPALIVE_EVERY + 60
"""A row not journaled again for this long belongs to a call whose adapter died."""
COLUMNS = (
    "call_id",
    "channel",
    "protocol",
    "host",
    "pid",
    "pid_start",
    "record",
    "claimed",
    "answered_by",
    "answer",
    "updated",
)
RETRY_AFTER = 5.0
"""Seconds publishing rests after Redis refused or could not be reached."""
READ_MAX = 1000
"""Most entries one read takes."""


def stream_key(prefix: str) -> str:
    """The stream's key beside the state's keys (``rc:calls:events``)."""
    return f"{prefix}calls:events"


class CallEvents:
    """The publishing side, on an adapter: ``client`` gives a ``redis.Redis`` (the state's,
    asked for at each publish: a state that cannot connect raises there, and is logged),
    ``prefix`` the state's key prefix."""

    def __init__(self, client: Callable[[], Any], prefix: str) -> None:
        self._client = client
        self._key = stream_key(prefix)
        self._complained = -math.inf
        self._down_until = -math.inf

    def publish(self, rows: Iterable[OpenCall], ended: Iterable[str]) -> None:
        """Add journal rows, then the ends of calls, in one round trip (logged when Redis
        refuses or is unreachable, never raised)."""
        entries = [{"row": json.dumps(dict(zip(COLUMNS, r.row(), strict=True)))} for r in rows]
        entries += [{"end": call_id} for call_id in ended]
        if not entries or time.monotonic() < self._down_until:
            return
        try:
            pipe = self._client().pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(self._key, entry, maxlen=MAXLEN, approximate=True)
            pipe.execute()
        except Exception as e:  # redis.RedisError, OSError: the calls go on without it
            now = time.monotonic()
            self._down_until = now + RETRY_AFTER
            if now - self._complained >= 60.0:
                self._complained = now
                log.warning("calls in progress not published to %s: %s", self._key, e)


class CallEventReader:
    """The reading side, on a portal: the journal of every host, rebuilt from the stream."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._key = stream_key(prefix)
        self._last = "0"  # the first read takes what the stream still holds
        self._rows: dict[str, OpenCall] = {}

    def open_calls(self) -> list[OpenCall]:
        """The calls in progress now, oldest first (what arrived since the last read applied;
        an unreadable entry is logged and skipped). Raises what the client raises when Redis
        cannot be read: the caller keeps what it knew."""
        while True:
            found = self._client.xread({self._key: self._last}, count=READ_MAX)
            entries = found[0][1] if found else []
            for entry_id, fields in entries:
                self._last = _text(entry_id)
                self._apply(fields)
            if len(entries) < READ_MAX:
                break
        horizon = time.time() - STALE_SECONDS
        for call_id in [c for c, row in self._rows.items() if row.updated < horizon]:
            del self._rows[call_id]
        return sorted(self._rows.values(), key=lambda r: r.updated)

    def _apply(self, fields: dict[Any, Any]) -> None:
        values = {_text(k): _text(v) for k, v in fields.items()}
        if "end" in values:
            self._rows.pop(values["end"], None)
            return
        try:
            row = OpenCall.from_row(json.loads(values["row"]))
        except Exception as e:  # another program's entry, or a damaged one
            log.warning("%s: an unreadable entry skipped: %s", self._key, e)
            return
        self._rows[row.call_id] = row


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
