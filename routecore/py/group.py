"""The ring group table in plain Python: the twin of ``crates/routecore-core/src/group.rs``.

Layout (magic ``b"RCGR"``, version 1), every integer little-endian::

    offset  size  field
         0    16  common header (see layout.py)
        16     2  n, the number of destinations, 1..100 (u16)
        18     1  mode code: 0 sequential, 1 round_robin, 2 random, 3 weighted, 4 simultaneous
        19     1  flags: bit 0 idle_first; the other bits 0
        20     2  ring timeout in seconds, 1..600 (u16)
        22     2  reserved, 0
        24     4  pool length in bytes (u32)
        28     4  reserved, 0
        32   8×n  entries in list order: u32 offset of the number in the pool, u16 its length,
                  u16 its weight
    32+8n   pool  the numbers (ASCII digits), then zero padding to a multiple of 8

Opening checks the header and the fixed fields (O(1)); a number is checked when read, and
:meth:`Group.verify` checks the CRC and every entry.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from routecore.errors import LayoutError, SelectionError
from routecore.py.layout import (
    Buffer,
    StringPool,
    TableWriter,
    corrupt,
    open_table,
    verify_table,
)
from routecore.py.select import (
    MAX_DESTINATIONS,
    MAX_RING_TIMEOUT,
    MODES,
    Attempt,
    select,
)

__all__ = ["Group"]

MAGIC = b"RCGR"
VERSION = 1
_WHAT = "group table"
_FIXED = struct.Struct("<HBBHHII")
_FIXED_LEN = 32
_ENTRY = struct.Struct("<IHH")
MAX_WEIGHT = 65535
_FLAG_IDLE_FIRST = 1


def _valid_number(raw: bytes) -> bool:
    return 3 <= len(raw) <= 20 and raw.isdigit() and raw.isascii()


def _bad_weight(i: int, shown: str) -> SelectionError:
    return SelectionError(f"destination {i}: weight must be an int in 0..{MAX_WEIGHT}, got {shown}")


def _convert(destinations: Sequence[str | tuple[str, int]]) -> tuple[list[str], list[int]]:
    """The numbers and weights of ``destinations``: the checks of their shapes and types."""
    if isinstance(destinations, str):
        raise SelectionError("destinations must be a sequence of numbers, not a str")
    n = len(destinations)
    if not 1 <= n <= MAX_DESTINATIONS:
        raise SelectionError(f"a group needs 1 to {MAX_DESTINATIONS} destinations, got {n}")
    numbers: list[str] = []
    weights: list[int] = []
    for i, item in enumerate(destinations):
        number: object
        weight: object
        if isinstance(item, str):
            number, weight = item, 1
        elif isinstance(item, tuple | list):
            if len(item) != 2:
                raise SelectionError(
                    f"destination {i}: a (number, weight) pair has 2 items, got {len(item)}"
                )
            number, weight = item
        else:
            raise SelectionError(
                f"destination {i}: expected a number or a (number, weight) pair, "
                f"got {type(item).__name__}"
            )
        if not isinstance(number, str):
            raise SelectionError(
                f"destination {i}: number must be a str, got {type(number).__name__}"
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or weight.bit_length() > 63:
            raise _bad_weight(i, repr(weight))
        numbers.append(number)
        weights.append(weight)
    return numbers, weights


def build_table(
    numbers: Sequence[str],
    weights: Sequence[int],
    mode: str,
    idle_first: bool,
    ring_timeout: int,
) -> bytes:
    """Validate a group and write its table.

    Checks, in this order: the number of destinations, the mode, the ring timeout, then each
    destination in list order (its number, its weight, whether it repeats an earlier number).
    """
    n = len(numbers)
    if not 1 <= n <= MAX_DESTINATIONS:
        raise SelectionError(f"a group needs 1 to {MAX_DESTINATIONS} destinations, got {n}")
    if mode not in MODES:
        raise SelectionError(f"unknown mode '{mode}': choose one of {', '.join(MODES)}")
    if not 1 <= ring_timeout <= MAX_RING_TIMEOUT:
        raise SelectionError(
            f"ring_timeout must be 1 to {MAX_RING_TIMEOUT} seconds, got {ring_timeout}"
        )
    seen: dict[str, int] = {}
    for i, (number, weight) in enumerate(zip(numbers, weights, strict=True)):
        if not _valid_number(number.encode()):
            raise SelectionError(f"destination {i}: number '{number}' must be 3 to 20 ASCII digits")
        if not 0 <= weight <= MAX_WEIGHT:
            raise _bad_weight(i, str(weight))
        if number in seen:
            raise SelectionError(
                f"destination {i}: number '{number}' repeats destination {seen[number]}"
            )
        seen[number] = i

    pool = StringPool()
    refs = [pool.add(s) for s in numbers]
    w = TableWriter(MAGIC, VERSION)
    w.raw(
        _FIXED.pack(
            n,
            MODES.index(mode),
            _FLAG_IDLE_FIRST if idle_first else 0,
            ring_timeout,
            0,
            len(pool.blob),
            0,
        )
    )
    for (off, length), weight in zip(refs, weights, strict=True):
        w.raw(_ENTRY.pack(off, length, weight))
    w.raw(bytes(pool.blob))
    return w.finish()


class Group:
    """A ring group: destinations, weights and distribution mode, in a flat ``RCGR`` table."""

    __slots__ = ("_idle_first", "_mode", "_n", "_pool_len", "_pool_start", "_ring_timeout", "_view")

    _view: memoryview
    _n: int
    _mode: str
    _idle_first: bool
    _ring_timeout: int
    _pool_start: int
    _pool_len: int

    def __init__(self, view: memoryview) -> None:
        """Open a table already cut to its length by ``open_table`` (use the constructors)."""
        if len(view) < _FIXED_LEN:
            raise LayoutError(
                f"{_WHAT}: truncated buffer: need {_FIXED_LEN} bytes, have {len(view)}"
            )
        n, mode, flags, ring_timeout, _r1, pool_len, _r2 = _FIXED.unpack_from(view, 16)
        if not 1 <= n <= MAX_DESTINATIONS:
            raise corrupt(_WHAT, f"{n} destinations")
        if mode >= len(MODES):
            raise corrupt(_WHAT, f"unknown mode code {mode}")
        if flags & ~_FLAG_IDLE_FIRST:
            raise corrupt(_WHAT, f"unknown flags {flags:#04x}")
        if not 1 <= ring_timeout <= MAX_RING_TIMEOUT:
            raise corrupt(_WHAT, f"ring timeout {ring_timeout}")
        pool_start = _FIXED_LEN + _ENTRY.size * n
        if pool_start + pool_len > len(view):
            raise corrupt(
                _WHAT,
                f"{n} entries and a pool of {pool_len} bytes do not fit in {len(view)} bytes",
            )
        self._view = view
        self._n = n
        self._mode = MODES[mode]
        self._idle_first = bool(flags & _FLAG_IDLE_FIRST)
        self._ring_timeout = ring_timeout
        self._pool_start = pool_start
        self._pool_len = pool_len

    @classmethod
    def build(
        cls,
        destinations: Sequence[str | tuple[str, int]],
        *,
        mode: str = "sequential",
        idle_first: bool = False,
        ring_timeout: int = 20,
    ) -> Group:
        """A group of ``destinations``: numbers, or (number, weight) pairs (weight 1 if absent).

        Raises :class:`SelectionError` naming the problem: 1–100 destinations, numbers of 3–20
        ASCII digits without repeats, weights 0–65535, a known mode, ring_timeout 1–600 s.
        """
        numbers, weights = _convert(destinations)
        return cls.from_buffer(build_table(numbers, weights, mode, idle_first, ring_timeout))

    @classmethod
    def from_buffer(cls, buf: Buffer) -> Group:
        """Open a group table in place (bytes, bytearray, memoryview, mmap); O(1).

        Raises :class:`LayoutError` on a truncated or foreign buffer or another version.
        """
        return cls(open_table(buf, MAGIC, VERSION, _WHAT))

    def _weight(self, i: int) -> int:
        return int(_ENTRY.unpack_from(self._view, _FIXED_LEN + _ENTRY.size * i)[2])

    def _number(self, i: int) -> str:
        off, length, _w = _ENTRY.unpack_from(self._view, _FIXED_LEN + _ENTRY.size * i)
        if off + length > self._pool_len:
            raise corrupt(_WHAT, f"number {i} lies outside the pool of {self._pool_len} bytes")
        start = self._pool_start + off
        raw = bytes(self._view[start : start + length])
        if not _valid_number(raw):
            raise corrupt(_WHAT, f"number {i} is not 3 to 20 digits")
        return raw.decode("ascii")

    @property
    def numbers(self) -> list[str]:
        return [self._number(i) for i in range(self._n)]

    @property
    def weights(self) -> list[int]:
        return [self._weight(i) for i in range(self._n)]

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def idle_first(self) -> bool:
        return self._idle_first

    @property
    def ring_timeout(self) -> int:
        return self._ring_timeout

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return (
            f"Group(n={self._n}, mode='{self._mode}', idle_first={self._idle_first}, "
            f"ring_timeout={self._ring_timeout})"
        )

    def attempts(
        self,
        *,
        seed: int = 0,
        idle: Sequence[bool] | None = None,
        cursor: int | None = None,
        preferred: int | None = None,
    ) -> list[Attempt]:
        """The ordered attempts of one call, each with the group's ring timeout.

        ``seed`` (0..2**64-1) seeds SplitMix64; ``idle`` has one flag per destination (None:
        all idle); ``cursor`` is the index chosen last time (round robin); ``preferred`` the
        destination that last answered this caller today, put first alone if it is idle (a
        busy one keeps its normal place). See :mod:`routecore.py.select` for the order and
        the draws of each mode.
        """
        order = select(
            self._mode,
            self._idle_first,
            self.weights,
            seed=seed,
            idle=idle,
            cursor=cursor,
            preferred=preferred,
        )
        return [Attempt(targets, self._ring_timeout) for targets in order]

    def to_bytes(self) -> bytes:
        """Exactly the table's bytes."""
        return bytes(self._view)

    def verify(self) -> None:
        """Check the CRC, then every entry (numbers readable, valid, distinct)."""
        verify_table(self._view, _WHAT)
        seen: dict[str, int] = {}
        for i in range(self._n):
            number = self._number(i)
            if number in seen:
                raise corrupt(_WHAT, f"number {i} repeats destination {seen[number]}")
            seen[number] = i
