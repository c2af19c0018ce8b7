"""Mirrors ``crates/routecore-core/src/state/cursors.rs``: round-robin cursors, one counter per
(400 number, group) in an open-addressing table of ``16 × N`` entries, never removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routecore.py.state.header import _U64, CURSOR, CURSORS_PER_ROW, MASK64, did_bytes, fnv1a64
from routecore.state.checks import check_group

if TYPE_CHECKING:
    from routecore.py.state import State


def next_cursor(self: State, did: str, group: str) -> int | None:
    """The round-robin cursor of ``group`` on ``did``: its value now, and 1 more after.

    Successive calls, from any process, return 0, 1, 2, ... A cursor is looked for in 16
    entries from ``h mod C``; a missing one is inserted there. None when those 16 entries
    all hold other cursors: the caller then rotates by a seed of its own.
    """
    raw = did_bytes(did)
    h = fnv1a64(raw + b"\0" + check_group(group).encode("utf-8", "surrogatepass"))
    key = h | 1
    count = CURSORS_PER_ROW * self._n
    with self._locked() as mm:
        for j in range(CURSORS_PER_ROW):
            off = self._cursors_off + ((h + j) % count) * CURSOR
            k = _U64.unpack_from(mm, off)[0]
            if k == 0:
                _U64.pack_into(mm, off, key)  # a CAS 0 -> key
                k = key
            if k == key:
                value = _U64.unpack_from(mm, off + 8)[0]
                _U64.pack_into(mm, off + 8, (value + 1) & MASK64)  # a fetch-add
                return int(value)
    return None
