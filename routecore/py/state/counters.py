"""Mirrors ``crates/routecore-core/src/state/counters.rs``: counters per 400 number, calls per
IVR branch (B11, branches 0..255) per day, in a ring of day blocks. A number's counts lie in
blocks of 8 branches handed to its row from the file's pool as its branches are counted.
"""

from __future__ import annotations

import mmap
import struct
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from routecore.errors import StateError
from routecore.py.state.header import (
    _I32,
    _U32,
    _U64,
    BLOCK_BRANCHES,
    BLOCK_POOL,
    BRANCHES,
    DAYS,
    MASK32,
    ROW,
    _probe,
    did_bytes,
    fnv1a64,
    hand,
    held,
    item_off,
)
from routecore.rules import DEFAULT_TZ
from routecore.state.checks import check_branch, local_day
from routecore.state.format import ROW_DAYS

if TYPE_CHECKING:
    from routecore.py.state import State

_ROW_NUMBER = struct.Struct("<B15s")  # at 8
_BLOCK_COUNTS = struct.Struct(f"<{BLOCK_BRANCHES}I")  # one block's counts of one day block
_MOST_BLOCKS = BRANCHES // BLOCK_BRANCHES  # 32: a row counting every branch


def _find_row(self: State, mm: mmap.mmap, raw: bytes, h: int) -> tuple[int, bool]:
    """(offset of the counter row of ``raw`` or of the empty row that would take it, found)."""
    i, found = _probe(mm, self._rows_off, ROW, self._n, raw, h)
    return (self._rows_off + i * ROW if i >= 0 else -1), found


def _row_for(self: State, mm: mmap.mmap, raw: bytes, did: str) -> int:
    """Offset of the counter row of ``raw``, inserted (with no block) if missing; the caller
    holds the lock."""
    h = fnv1a64(raw)
    off, found = _find_row(self, mm, raw, h)
    if not found:
        if off < 0:
            raise StateError(
                f"{self._path}: the counter table is full ({self._n} rows): cannot add {did}"
            )
        _ROW_NUMBER.pack_into(mm, off + 8, len(raw), raw)
        _U64.pack_into(mm, off, h | 1)  # the key last
    return off


def _counts_off(self: State, mm: mmap.mmap, off: int, q: int, k: int) -> int:
    """Where the counts of block ``q`` of the row at ``off`` lie on day block ``k``; -1 when
    the row does not hold that block."""
    block = item_off(mm, BLOCK_POOL, off, q, self._blocks_off, self._p)
    return block + 4 * BLOCK_BRANCHES * k if block >= 0 else -1


def _held_blocks(mm: mmap.mmap, off: int) -> int:
    return min(held(mm, BLOCK_POOL, off), _MOST_BLOCKS)


def count_branch(self: State, did: str, branch: int, at: float, *, tz: str = DEFAULT_TZ) -> None:
    """Count one call of ``did`` to ``branch`` (0..255) on the local day of ``at``.

    The row is handed the block of ``branch`` first if it holds none yet (a full counter pool
    is a StateError; the row stays inserted). A count for a day older than the one its day
    block holds now is dropped (that day is no longer kept).
    """
    raw = did_bytes(did)
    b = check_branch(branch)
    day = local_day(at, tz)
    q, within = divmod(b, BLOCK_BRANCHES)
    with self._locked() as mm:
        off = _row_for(self, mm, raw, did)
        if held(mm, BLOCK_POOL, off) <= q:
            hand(mm, BLOCK_POOL, off, q + 1, self._p, self._path)
        k = day % DAYS
        stamp_off = off + ROW_DAYS + 8 * k
        stamp = _I32.unpack_from(mm, stamp_off)[0]
        if stamp != day:
            if stamp > day:
                return
            _I32.pack_into(mm, stamp_off, day)
            for held_q in range(_held_blocks(mm, off)):
                counts = _counts_off(self, mm, off, held_q, k)
                if counts >= 0:
                    mm[counts : counts + 4 * BLOCK_BRANCHES] = bytes(4 * BLOCK_BRANCHES)
        counts = _counts_off(self, mm, off, q, k)
        if counts >= 0:
            at_b = counts + 4 * within
            _U32.pack_into(mm, at_b, (_U32.unpack_from(mm, at_b)[0] + 1) & MASK32)


def branch_counts(
    self: State, did: str, at: float, *, tz: str = DEFAULT_TZ
) -> npt.NDArray[np.uint32]:
    """The counts of ``did``'s 256 branches on the local day of ``at``, gathered from the
    blocks its row holds (zeros if none: the day is not kept, or the number never counted)."""
    raw = did_bytes(did)
    day = local_day(at, tz)
    mm = self._map()
    off, found = _find_row(self, mm, raw, fnv1a64(raw))
    out = np.zeros(BRANCHES, dtype=np.uint32)
    if found:
        k = day % DAYS
        if _I32.unpack_from(mm, off + ROW_DAYS + 8 * k)[0] == day:
            for q in range(_held_blocks(mm, off)):
                counts = _counts_off(self, mm, off, q, k)
                if counts < 0:
                    break
                start = q * BLOCK_BRANCHES
                out[start : start + BLOCK_BRANCHES] = _BLOCK_COUNTS.unpack_from(mm, counts)
    return out
