"""Mirrors ``crates/routecore-core/src/state/memory.rs``: call memory (V3), the destination
that last answered a caller on a 400 number today; entries are seqlocks.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from routecore.py.state.header import (
    _U64,
    MASK32,
    MASK64,
    MEM,
    UNWRITTEN_GRACE,
    did_bytes,
    fnv1a64,
    number_bytes,
)
from routecore.rules import DEFAULT_TZ
from routecore.state.checks import MAX_TIME as MAX_TIME  # the twin's name, kept
from routecore.state.checks import caller_bytes, local_day

if TYPE_CHECKING:
    from routecore.py.state import State

MEM_PROBES = 8
_MEM_BODY = struct.Struct("<QB15sB23sB23siIQ")  # at 8: key, did, caller, destination, day, 0, when


def _mem_probes(self: State, h: int) -> list[int]:
    m = self._m
    return [self._mem_off + ((h + j) % m) * MEM for j in range(min(MEM_PROBES, m))]


def remember(
    self: State, did: str, caller: str, destination: str, at: float, *, tz: str = DEFAULT_TZ
) -> None:
    """Remember that ``caller``'s call to ``did`` was answered by ``destination`` at ``at``.

    The memory answers ``recall`` until 24:00 of that day in ``tz``.
    """
    d, c, dest = did_bytes(did), caller_bytes(caller), number_bytes(destination)
    day = local_day(at, tz)
    when = max(int(at * 1000), 0)
    h = fnv1a64(d + b"\0" + c)
    key = h | 1
    with self._locked() as mm:
        now_s = int(time.time())
        same = free = oldest = -1
        oldest_when = 0
        for off in _mem_probes(self, h):
            seq = _U64.unpack_from(mm, off)[0]
            if seq & 1 and now_s - (seq >> 32) <= UNWRITTEN_GRACE:
                continue  # being written (or its writer died less than 10 s ago)
            k, dn, draw, cn, craw, _, _, eday, _, ewhen = _MEM_BODY.unpack_from(mm, off + 8)
            if k == key and draw[:dn] == d and craw[:cn] == c:
                same = off
                break
            if free < 0 and (k == 0 or eday < day):
                free = off
            if oldest < 0 or ewhen < oldest_when:
                oldest, oldest_when = off, ewhen
        target = same if same >= 0 else free if free >= 0 else oldest
        if target < 0:
            return  # every probed entry is being written: the memory is a hint, skip it
        seq = _U64.unpack_from(mm, target)[0]
        low = seq & MASK32
        low = (low + 1 if low % 2 == 0 else low + 2) & MASK32
        odd = ((now_s & MASK32) << 32) | low
        _U64.pack_into(mm, target, odd)
        _MEM_BODY.pack_into(
            mm, target + 8, key, len(d), d, len(c), c, len(dest), dest, day, 0, when
        )
        _U64.pack_into(mm, target, (odd + 1) & MASK64)


def recall(self: State, did: str, caller: str, at: float, *, tz: str = DEFAULT_TZ) -> str | None:
    """The destination remembered for (``did``, ``caller``) on the day of ``at``, or None."""
    d, c = did_bytes(did), caller_bytes(caller)
    day = local_day(at, tz)
    h = fnv1a64(d + b"\0" + c)
    key = h | 1
    mm = self._map()
    for off in _mem_probes(self, h):
        seq = _U64.unpack_from(mm, off)[0]
        if seq & 1:
            continue
        k, dn, draw, cn, craw, tn, traw, eday, _, _ = _MEM_BODY.unpack_from(mm, off + 8)
        if _U64.unpack_from(mm, off)[0] != seq:
            continue  # written meanwhile: a miss
        if k == key and draw[:dn] == d and craw[:cn] == c:
            if eday != day or not 3 <= tn <= 20:
                return None
            return bytes(traw[:tn]).decode("ascii", "replace")
    return None
