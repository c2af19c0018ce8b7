"""Mirrors ``crates/routecore-core/src/state/header.rs``: the layout of a state file
(``docs/state-format.md``), the header written for its sizes and checked when read back, and
what every table of it shares (FNV-1a keys, linear probing, the numbers stored).

The layout and the header are defined once in :mod:`routecore.state.format` (the NumPy views
read it too), the numbers' checks in :mod:`routecore.state.checks` (the Redis store shares
them); here are the hashing and probing of the file's tables.
"""

from __future__ import annotations

import mmap
import struct

from routecore.state.checks import did_bytes, number_bytes
from routecore.state.format import (
    BRANCHES,
    CURSOR,
    CURSORS_PER_ROW,
    DAYS,
    DEST,
    HEADER_LEN,
    LEASE,
    LEASES,
    MAGIC,
    MASK32,
    MASK64,
    MAX_DESTINATIONS,
    MAX_MEMORY,
    MAX_NUMBERS,
    MEM,
    OFF_CLAIMS,
    OFF_FILE_ID,
    OFF_FIXED_TAIL,
    OFF_GENERATION,
    ROW,
    STATE_BRANCHES,
    UNWRITTEN_GRACE,
    VERSION,
    check_header,
    check_sizes,
    cursors_offset,
    file_length,
    fixed_bytes,
    header_bytes,
    memory_offset,
    rows_offset,
)

__all__ = [
    "BRANCHES",
    "CURSOR",
    "CURSORS_PER_ROW",
    "DAYS",
    "DEST",
    "FNV_OFFSET",
    "FNV_PRIME",
    "HEADER_LEN",
    "LEASE",
    "LEASES",
    "MAGIC",
    "MASK32",
    "MASK64",
    "MAX_DESTINATIONS",
    "MAX_MEMORY",
    "MAX_NUMBERS",
    "MEM",
    "OFF_CLAIMS",
    "OFF_FILE_ID",
    "OFF_FIXED_TAIL",
    "OFF_GENERATION",
    "ROW",
    "STATE_BRANCHES",
    "UNWRITTEN_GRACE",
    "VERSION",
    "check_header",
    "check_sizes",
    "cursors_offset",
    "did_bytes",
    "file_length",
    "fixed_bytes",
    "fnv1a64",
    "header_bytes",
    "memory_offset",
    "number_bytes",
    "rows_offset",
]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def _probe(
    mm: mmap.mmap, base: int, stride: int, count: int, raw: bytes, h: int
) -> tuple[int, bool]:
    """Linear probing from ``h mod count`` over records of ``stride`` bytes at ``base`` whose
    key is a u64 at 0 and whose name (length byte, bytes) at 8: (index of the record holding
    ``raw`` or of the first empty one, found); (-1, False) if the table is full. Records are
    never emptied, so an empty one ends a probe."""
    key = h | 1
    i = h % count
    n = len(raw)
    for _ in range(count):
        off = base + i * stride
        k = _U64.unpack_from(mm, off)[0]
        if k == 0:
            return i, False
        if k == key and mm[off + 8] == n and mm[off + 9 : off + 9 + n] == raw:
            return i, True
        i = i + 1 if i + 1 < count else 0
    return -1, False
