"""Mirrors ``crates/routecore-core/src/state/counters.rs``: counters per 400 number, calls per
IVR branch (B11, branches 0..255) per day, in a ring of day blocks.
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
    BRANCHES,
    DAYS,
    MASK32,
    ROW,
    _probe,
    did_bytes,
    fnv1a64,
)
from routecore.rules import DEFAULT_TZ
from routecore.state.checks import check_branch, local_day

if TYPE_CHECKING:
    from routecore.py.state import State

_ROW_NUMBER = struct.Struct("<B15s")  # at 8
_COUNTS = struct.Struct(f"<{BRANCHES}I")


def _find_row(self: State, mm: mmap.mmap, raw: bytes, h: int) -> tuple[int, bool]:
    """(offset of the counter row of ``raw`` or of the empty row that would take it, found)."""
    i, found = _probe(mm, self._rows_off, ROW, self._n, raw, h)
    return (self._rows_off + i * ROW if i >= 0 else -1), found


def count_branch(self: State, did: str, branch: int, at: float, *, tz: str = DEFAULT_TZ) -> None:
    """Count one call of ``did`` to ``branch`` (0..255) on the local day of ``at``.

    A count for a day older than the one its day block holds now is dropped (that day is
    no longer kept).
    """
    raw = did_bytes(did)
    b = check_branch(branch)
    day = local_day(at, tz)
    h = fnv1a64(raw)
    with self._locked() as mm:
        off, found = _find_row(self, mm, raw, h)
        if not found:
            if off < 0:
                raise StateError(
                    f"{self._path}: the counter table is full ({self._n} rows): cannot add {did}"
                )
            _ROW_NUMBER.pack_into(mm, off + 8, len(raw), raw)
            _U64.pack_into(mm, off, h | 1)  # the key last
        block = day % DAYS
        stamp_off = off + 24 + 8 * block
        stamp = _I32.unpack_from(mm, stamp_off)[0]
        counts = off + 24 + 8 * DAYS + 4 * BRANCHES * block
        if stamp != day:
            if stamp > day:
                return
            _I32.pack_into(mm, stamp_off, day)
            mm[counts : counts + 4 * BRANCHES] = bytes(4 * BRANCHES)
        at_b = counts + 4 * b
        _U32.pack_into(mm, at_b, (_U32.unpack_from(mm, at_b)[0] + 1) & MASK32)


def branch_counts(
    self: State, did: str, at: float, *, tz: str = DEFAULT_TZ
) -> npt.NDArray[np.uint32]:
    """The counts of ``did``'s branches on the local day of ``at`` (zeros if none)."""
    raw = did_bytes(did)
    day = local_day(at, tz)
    mm = self._map()
    off, found = _find_row(self, mm, raw, fnv1a64(raw))
    out = np.zeros(BRANCHES, dtype=np.uint32)
    if found:
        block = day % DAYS
        if _I32.unpack_from(mm, off + 24 + 8 * block)[0] == day:
            out[:] = _COUNTS.unpack_from(mm, off + 24 + 8 * DAYS + 4 * BRANCHES * block)
    return out
