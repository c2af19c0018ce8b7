"""NumPy views over a state file's counters, for either backend, without stopping writers (B11).

Each view maps the file read-only on its own (``state.path``) and reads the counters in place:
writes made afterwards by any process show through, nothing is copied. A view keeps its mapping
alive as long as the array lives. Works from any object with ``path``, ``destinations``,
``memory`` and ``numbers`` (the ``State`` of either backend).
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
    BRANCHES,
    DAYS,
    DEST,
    HEADER_LEN,
    ROW,
    check_header,
    rows_offset,
)

__all__ = ["branch_counts", "counter_days", "counter_numbers", "destination_counters"]


class StateLike(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def destinations(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def numbers(self) -> int: ...


def _map(state: StateLike) -> tuple[mmap.mmap, int, int, int]:
    """A read-only mapping of the state file, checked against the object's sizes."""
    path = os.fspath(state.path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            d, m, n = check_header(f.read(HEADER_LEN), size, path)
            mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    except OSError as e:
        raise StateError(f"{path}: cannot map the state file: {e.strerror}") from e
    if (d, m, n) != (state.destinations, state.memory, state.numbers):
        mm.close()
        raise StateError(f"{path}: the file's sizes differ from the state object's")
    return mm, d, m, n


def destination_counters(state: StateLike) -> npt.NDArray[np.uint64]:
    """uint64 (D, 4) per destination slot: offered, answered, not answered, talk seconds.

    Row ``i`` is slot ``i`` (empty slots read 0); a strided view into the mapped file.
    """
    mm, d, _, _ = _map(state)
    return np.ndarray((d, 4), dtype="<u8", buffer=mm, offset=HEADER_LEN + 40, strides=(DEST, 8))


def branch_counts(state: StateLike) -> npt.NDArray[np.uint32]:
    """uint32 (N, K, B): counter row, day block (``day % K``), branch.

    A block counts the day in :func:`counter_days` for the same row and block.
    """
    mm, d, m, n = _map(state)
    return np.ndarray(
        (n, DAYS, BRANCHES),
        dtype="<u4",
        buffer=mm,
        offset=rows_offset(d, m) + 24 + 8 * DAYS,
        strides=(ROW, 4 * BRANCHES, 4),
    )


def counter_days(state: StateLike) -> npt.NDArray[np.int32]:
    """int32 (N, K): the day (days since 1970-01-01, local) each block counts; 0 unused."""
    mm, d, m, n = _map(state)
    return np.ndarray(
        (n, DAYS), dtype="<i4", buffer=mm, offset=rows_offset(d, m) + 24, strides=(ROW, 8)
    )


def counter_numbers(state: StateLike) -> list[str | None]:
    """The 400 number of each counter row (None for an empty row)."""
    mm, d, m, n = _map(state)
    try:
        base = rows_offset(d, m)
        out: list[str | None] = []
        for i in range(n):
            off = base + i * ROW
            key, size, digits = struct.unpack_from("<QB15s", mm, off)
            out.append(digits[: min(size, 15)].decode("ascii", "replace") if key else None)
        return out
    finally:
        mm.close()
