"""NumPy views over a state file's counters, for either backend, without stopping writers (B11).

Each function maps the file read-only on its own (``state.path``). The live views read the file
in place — writes made afterwards by any process show through, nothing is copied, and the view
keeps its mapping alive as long as the array lives: :func:`destination_counters`,
:func:`counter_days` and :func:`counter_blocks` (the pool of counter blocks as it lies). A 400
number's counts lie in blocks of 8 branches handed to its row as its branches are counted
(``docs/state-format.md``, layout version 3), so the counts by row and branch are gathered
into a copy: :func:`branch_counts`, through :func:`row_blocks` (which block of the pool each row
holds); :func:`counter_numbers` is a copy too. Works from any object with ``path``,
``destinations``, ``leases``, ``memory``, ``numbers`` and ``counter_blocks`` (the ``State`` of
either backend).
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Protocol

import numpy as np
import numpy.typing as npt

from routecore.errors import StateError
from routecore.state.format import (
    BLOCK,
    BLOCK_BRANCHES,
    BLOCK_EXTENT_ENDS,
    BRANCHES,
    DAYS,
    DEST,
    HEADER_LEN,
    ROW,
    ROW_BLOCKS,
    ROW_DAYS,
    ROW_EXTENTS,
    Sizes,
    block_extent,
    blocks_offset,
    check_header,
    rows_offset,
)

__all__ = [
    "branch_counts",
    "counter_blocks",
    "counter_days",
    "counter_numbers",
    "destination_counters",
    "row_blocks",
]

_MOST_BLOCKS = BRANCHES // BLOCK_BRANCHES  # 32: the blocks of a row counting every branch


class StateLike(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def destinations(self) -> int: ...
    @property
    def leases(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def numbers(self) -> int: ...
    @property
    def counter_blocks(self) -> int: ...


def _map(state: StateLike) -> tuple[mmap.mmap, Sizes]:
    """A read-only mapping of the state file and its sizes, checked against the object's."""
    path = os.fspath(state.path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            sizes = check_header(f.read(HEADER_LEN), size, path)
            mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    except OSError as e:
        raise StateError(f"{path}: cannot map the state file: {e.strerror}") from e
    asked = tuple(getattr(state, name, None) for name in Sizes._fields)
    if sizes != asked:  # another file, or an object without the sizes: not its state
        mm.close()
        raise StateError(f"{path}: the file's sizes differ from the state object's")
    return mm, sizes


def destination_counters(state: StateLike) -> npt.NDArray[np.uint64]:
    """uint64 (D, 4) per destination slot: offered, answered, not answered, talk seconds.

    Row ``i`` is slot ``i`` (empty slots read 0); a strided view into the mapped file.
    """
    mm, sizes = _map(state)
    return np.ndarray(
        (sizes.destinations, 4), dtype="<u8", buffer=mm, offset=HEADER_LEN + 40, strides=(DEST, 8)
    )


def counter_days(state: StateLike) -> npt.NDArray[np.int32]:
    """int32 (N, K): the day (days since 1970-01-01, local) each day block of each counter row
    counts; 0 unused. A live view into the mapped file."""
    mm, sizes = _map(state)
    return np.ndarray(
        (sizes.numbers, DAYS),
        dtype="<i4",
        buffer=mm,
        offset=rows_offset(sizes) + ROW_DAYS,
        strides=(ROW, 8),
    )


def counter_blocks(state: StateLike) -> npt.NDArray[np.uint32]:
    """uint32 (P, K, 8): the pool of counter blocks as it lies, a live view into the file.

    ``[i, k, j]`` is the count of branch ``8q + j`` on day block ``k`` of the row holding pool
    block ``i`` as its block ``q`` (:func:`row_blocks` says which); blocks not handed out read 0.
    """
    return _block_pool(*_map(state))


def _block_pool(mm: mmap.mmap, sizes: Sizes) -> npt.NDArray[np.uint32]:
    return np.ndarray(
        (sizes.counter_blocks, DAYS, BLOCK_BRANCHES),
        dtype="<u4",
        buffer=mm,
        offset=blocks_offset(sizes),
        strides=(BLOCK, 4 * BLOCK_BRANCHES, 4),
    )


def _row_blocks(mm: mmap.mmap, sizes: Sizes) -> npt.NDArray[np.int64]:
    """:func:`row_blocks` read from a mapping (the arrays over it are gone on return)."""
    base = rows_offset(sizes)
    n = sizes.numbers
    held = np.ndarray((n,), dtype="<u4", buffer=mm, offset=base + ROW_BLOCKS, strides=(ROW,))
    starts = np.ndarray(
        (n, len(BLOCK_EXTENT_ENDS)),
        dtype="<u4",
        buffer=mm,
        offset=base + ROW_EXTENTS,
        strides=(ROW, 4),
    ).astype(np.int64)
    out = np.full((n, _MOST_BLOCKS), -1, dtype=np.int64)
    for q in range(_MOST_BLOCKS):
        e, first = block_extent(q)
        index = starts[:, e] + (q - first)
        ok = (held > q) & (index < sizes.counter_blocks)
        out[ok, q] = index[ok]
    return out


def row_blocks(state: StateLike) -> npt.NDArray[np.int64]:
    """int64 (N, 32): the pool index (in :func:`counter_blocks`) of each counter row's block
    ``q`` (branches ``8q``..``8q + 7``); -1 where the row holds no such block. A copy."""
    mm, sizes = _map(state)
    try:
        return _row_blocks(mm, sizes)
    finally:
        mm.close()


def _branch_counts(mm: mmap.mmap, sizes: Sizes) -> npt.NDArray[np.uint32]:
    """:func:`branch_counts` read from a mapping (the arrays over it are gone on return)."""
    index = _row_blocks(mm, sizes)
    gathered = _block_pool(mm, sizes)[np.maximum(index, 0)]  # (N, 32, K, 8): a copy
    gathered[index < 0] = 0
    counts = gathered.transpose(0, 2, 1, 3).reshape(sizes.numbers, DAYS, BRANCHES)
    return counts.astype(np.uint32, copy=False)


def branch_counts(state: StateLike) -> npt.NDArray[np.uint32]:
    """uint32 (N, K, B): counter row, day block (``day % K``), branch — a **snapshot**.

    The counts are gathered from the blocks each row holds (:func:`row_blocks`) into a copy,
    zeros for the branches of blocks not handed out; later counts do not show through (call it
    again, or read :func:`counter_blocks`, which is live). It costs N · 8 KiB (8 MiB for 1,024
    numbers). A block counts the day in :func:`counter_days` for the same row and day block.
    """
    mm, sizes = _map(state)
    try:
        return _branch_counts(mm, sizes)
    finally:
        mm.close()


def counter_numbers(state: StateLike) -> list[str | None]:
    """The 400 number of each counter row (None for an empty row)."""
    mm, sizes = _map(state)
    try:
        base = rows_offset(sizes)
        out: list[str | None] = []
        for i in range(sizes.numbers):
            off = base + i * ROW
            key, size, digits = struct.unpack_from("<QB15s", mm, off)
            out.append(digits[: min(size, 15)].decode("ascii", "replace") if key else None)
        return out
    finally:
        mm.close()
