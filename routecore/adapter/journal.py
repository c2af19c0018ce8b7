"""A call's journal row as its adapter writes it (``routecore.store.journal``): who owns the
call (this host, this process), its PBX channel, a copy of its record so far and the
destinations it holds."""

from __future__ import annotations

import os
import time
from typing import Any

from routecore.engine.record import CallRecord
from routecore.store.journal import OpenCall, host_name, record_json

__all__ = ["entry"]

_owner: tuple[str, int, int | None] | None = None


def _me() -> tuple[str, int, int | None]:
    """This process as an owner: (host, pid, pid start time); recomputed after a fork."""
    global _owner
    if _owner is None or _owner[1] != os.getpid():
        from routecore.state.process import own_start_time

        _owner = (host_name(), os.getpid(), own_start_time() or None)
    return _owner


def entry(
    driver: Any,
    record: CallRecord,
    claimed: tuple[str, ...],
    answer: tuple[str, float] | None,
) -> OpenCall:
    """The journal row of ``driver``'s call now (the record's JSON taken now: the writer thread
    stores the row while the call goes on)."""
    host, pid, start = _me()
    return OpenCall(
        call_id=record.call_id,
        channel=driver.channel or record.call_id,
        protocol=driver.protocol,
        host=host,
        pid=pid,
        pid_start=start,
        record=record,
        text=record_json(record),
        claimed=claimed,
        answered_by=None if answer is None else answer[0],
        answer=None if answer is None else answer[1],
        updated=time.time(),
    )
