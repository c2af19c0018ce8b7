"""Mirrors ``crates/routecore-core/src/state/header.rs`` and ``extents.rs``: the layout of a
state file (``docs/state-format.md``), the header written for its sizes and checked when read
back, what every table of it shares (FNV-1a keys, linear probing, the numbers stored), and the
two pools (lease records, counter blocks) handed to their owners in extents.

The layout and the header are defined once in :mod:`routecore.state.format` (the NumPy views
read it too), the numbers' checks in :mod:`routecore.state.checks` (the Redis store shares
them); here are the hashing and probing of the file's tables and the pools' hand-out.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass

from routecore.errors import StateError
from routecore.state.checks import did_bytes, number_bytes
from routecore.state.format import (
    BLOCK,
    BLOCK_BRANCHES,
    BLOCK_EXTENT_ENDS,
    BRANCHES,
    CURSOR,
    CURSORS_PER_ROW,
    DAYS,
    DEST,
    HEADER_LEN,
    LEASE,
    LEASE_EXTENT_ENDS,
    LEASES,
    MAGIC,
    MASK32,
    MASK64,
    MAX_COUNTER_BLOCKS,
    MAX_DESTINATIONS,
    MAX_LEASES,
    MAX_MEMORY,
    MAX_NUMBERS,
    MEM,
    OFF_BLOCKS_HANDED,
    OFF_CLAIMS,
    OFF_FILE_ID,
    OFF_FIXED_TAIL,
    OFF_GENERATION,
    OFF_LEASES_HANDED,
    ROW,
    ROW_BLOCKS,
    ROW_EXTENTS,
    SLOT_EXTENTS,
    SLOT_LEASE,
    SLOT_RECORDS,
    STATE_BRANCHES,
    UNWRITTEN_GRACE,
    VERSION,
    Sizes,
    block_extent,
    blocks_offset,
    check_header,
    check_sizes,
    cursors_offset,
    default_sizes,
    file_length,
    fixed_bytes,
    header_bytes,
    lease_extent,
    leases_offset,
    memory_offset,
    rows_offset,
)

__all__ = [
    "BLOCK",
    "BLOCK_BRANCHES",
    "BLOCK_POOL",
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
    "LEASE_POOL",
    "MAGIC",
    "MASK32",
    "MASK64",
    "MAX_COUNTER_BLOCKS",
    "MAX_DESTINATIONS",
    "MAX_LEASES",
    "MAX_MEMORY",
    "MAX_NUMBERS",
    "MEM",
    "OFF_BLOCKS_HANDED",
    "OFF_CLAIMS",
    "OFF_FILE_ID",
    "OFF_FIXED_TAIL",
    "OFF_GENERATION",
    "OFF_LEASES_HANDED",
    "ROW",
    "STATE_BRANCHES",
    "UNWRITTEN_GRACE",
    "VERSION",
    "Pool",
    "Sizes",
    "blocks_offset",
    "check_header",
    "check_sizes",
    "cursors_offset",
    "default_sizes",
    "did_bytes",
    "file_length",
    "fixed_bytes",
    "fnv1a64",
    "hand",
    "handed_out",
    "header_bytes",
    "held",
    "item_off",
    "leases_offset",
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


@dataclass(frozen=True)
class Pool:
    """One pool's shape: its extents, where an owner keeps what it holds, and how a full pool
    is named (the pool, its items, the ``create`` argument that gives more)."""

    ends: tuple[int, ...]  # items an owner holds once extent e is handed: 1, 2, 4, ...
    extent: Callable[[int], tuple[int, int]]  # item -> (its extent, the extent's first item)
    inline: int | None  # offset in an owner of its item 0 when it keeps extent 0 itself
    item: int  # bytes of an item
    held: int  # offset in an owner of its u32 count of items held
    starts: int  # offset in an owner of the u32 starts of its pooled extents, the first first
    handed: int  # header offset of the pool's u32 count of items handed out
    name: str
    items: str
    argument: str

    @property
    def first(self) -> int:
        """The first extent that comes from the pool."""
        return 0 if self.inline is None else 1


# Lease records: 1 (the slot's own, at 112), then 1, 2, 4, 8, 16, 32, 36 from the pool (100 at
# most); the count held at 76, the starts of extents 1-7 at 80.
LEASE_POOL = Pool(
    LEASE_EXTENT_ENDS, lease_extent, SLOT_LEASE, LEASE, SLOT_RECORDS, SLOT_EXTENTS,
    OFF_LEASES_HANDED, "lease", "lease records", "leases",
)  # fmt: skip
# Counter blocks of 8 branches: extents of 1, 1, 2, 4, 8, 16 (32, every branch), all from the
# pool; the count held at 88 of a counter row, the starts at 96.
BLOCK_POOL = Pool(
    BLOCK_EXTENT_ENDS, block_extent, None, BLOCK, ROW_BLOCKS, ROW_EXTENTS, OFF_BLOCKS_HANDED,
    "counter", "counter blocks", "counter_blocks",
)  # fmt: skip


def held(mm: mmap.mmap, pool: Pool, owner: int) -> int:
    """Items the owner at ``owner`` (a slot's or a row's offset) holds now."""
    return int(_U32.unpack_from(mm, owner + pool.held)[0])


def handed_out(mm: mmap.mmap, pool: Pool) -> int:
    """Items handed out from the pool so far (the header's count)."""
    return int(_U32.unpack_from(mm, pool.handed)[0])


def item_off(mm: mmap.mmap, pool: Pool, owner: int, i: int, base: int, size: int) -> int:
    """File offset of the owner's item ``i`` (``base`` is where the pool begins, ``size`` its
    items); -1 when the owner does not hold it (or the file says something impossible: an
    index beyond the pool)."""
    if not 0 <= i < held(mm, pool, owner):
        return -1
    e, first = pool.extent(i)
    if e == 0 and pool.inline is not None:
        return owner + pool.inline
    start = int(_U32.unpack_from(mm, owner + pool.starts + 4 * (e - pool.first))[0])
    index = start + i - first
    return base + index * pool.item if index < size else -1


def hand(mm: mmap.mmap, pool: Pool, owner: int, need: int, size: int, path: str) -> None:
    """Hand the owner its next extents, in order, until it holds at least ``need`` items (the
    caller holds the lock): each the next items of the pool (an owner's own extent 0 takes
    none). All or nothing: a pool without room for every extent needed is a StateError and
    nothing is changed.

    Written in the spec's order, per extent: its start, the header's count, the owner's count.
    """
    have = held(mm, pool, owner)
    extents, total, wanted = [], have, 0
    for e in range(sum(1 for end in pool.ends if end <= have), len(pool.ends)):
        if total >= need:
            break
        extents.append(e)
        total += _extent_size(pool, e)
        wanted += _extent_size(pool, e) if e >= pool.first else 0
    handed = handed_out(mm, pool)
    if handed + wanted > size:
        raise StateError(
            f"{path}: the {pool.name} pool is full ({size} {pool.items} handed out):"
            f" create the state file with more {pool.argument}"
        )
    for e in extents:
        if e >= pool.first:
            _U32.pack_into(mm, owner + pool.starts + 4 * (e - pool.first), handed)
            handed += _extent_size(pool, e)
            _U32.pack_into(mm, pool.handed, handed)
        have += _extent_size(pool, e)
        _U32.pack_into(mm, owner + pool.held, have)  # release order: the count last


def _extent_size(pool: Pool, e: int) -> int:
    return pool.ends[e] - ((1 << e) >> 1)
