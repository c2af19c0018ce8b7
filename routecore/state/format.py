"""The state file's layout: its sizes, where each section lies, and its header written and checked.

``docs/state-format.md`` (``RCST`` layout version 3) is the spec; this is the one Python copy
of it, which the pure-Python twin (``routecore.py.state``) and the NumPy views
(``routecore.state.views``) both read. The compiled core has its own in
``crates/routecore-core/src/state/header.rs`` and ``extents.rs``.

Sections, in file order: the header, destination slots, the lease pool, call memory, counter
rows, the counter-block pool, round-robin cursors. A destination holds its lease record 0 in its
slot and is handed the others from the lease pool, a 400 number its counter blocks from the
block pool, in extents (:func:`lease_extent`, :func:`block_extent`).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from routecore.errors import StateError

__all__ = [
    "BLOCK",
    "BLOCK_BRANCHES",
    "BLOCK_EXTENTS",
    "BLOCK_EXTENT_ENDS",
    "BRANCHES",
    "CURSOR",
    "CURSORS_PER_ROW",
    "DAYS",
    "DEFAULT_PATH",
    "DEST",
    "FIXED_LEN",
    "HEADER_LEN",
    "LEASE",
    "LEASES",
    "LEASE_EXTENTS",
    "LEASE_EXTENT_ENDS",
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
    "OFF_POOLS",
    "PATH_ENV",
    "ROW",
    "ROW_BLOCKS",
    "ROW_DAYS",
    "ROW_EXTENTS",
    "SLOT_EXTENTS",
    "SLOT_LEASE",
    "SLOT_RECORDS",
    "SLOT_USED",
    "STATE_BRANCHES",
    "UNWRITTEN_GRACE",
    "VERSION",
    "Sizes",
    "block_extent",
    "blocks_offset",
    "check_header",
    "check_sizes",
    "cursors_offset",
    "default_sizes",
    "file_length",
    "fixed_bytes",
    "header_bytes",
    "lease_extent",
    "leases_offset",
    "memory_offset",
    "rows_offset",
]

DEFAULT_PATH = "/dev/shm/routecore-state"
PATH_ENV = "ROUTECORE_STATE"

MAGIC = b"RCST"
VERSION = 3
HEADER_LEN = 128
LEASES = 100  # L: the largest capacity; a destination holds at most this many lease records
BRANCHES = 256  # B
STATE_BRANCHES = BRANCHES  # a branch is 0..STATE_BRANCHES-1 (as routecore._native.STATE_BRANCHES)
DAYS = 8  # K
BLOCK_BRANCHES = 8  # W: branches per counter block
LEASE = 64
DEST = 112 + LEASE  # 176: the slot's fields, then its lease record 0
MEM = 96
ROW = 120
BLOCK = 4 * BLOCK_BRANCHES * DAYS  # 256
CURSORS_PER_ROW = 16  # round-robin cursor entries per counter row, and the probes of one
CURSOR = 16
MAX_DESTINATIONS = 1 << 24
MAX_LEASES = 1 << 28
MAX_MEMORY = 1 << 26
MAX_NUMBERS = 1 << 20
MAX_COUNTER_BLOCKS = 1 << 26
UNWRITTEN_GRACE = 10  # seconds: a claim whose fields never got written, or an odd seqlock

# A destination slot: u32 fields after the number, capacity, online and counters.
SLOT_USED = 72  # the largest capacity the destination ever had
SLOT_RECORDS = 76  # lease records it holds: its own (record 0) and those handed from the pool
SLOT_EXTENTS = 80  # 7 × u32: the pool index of the first record of extents 1–7
SLOT_LEASE = 112  # its lease record 0 (extent 0)
# A counter row: day stamps, then its blocks.
ROW_DAYS = 24  # K × (i32 day, u32 0)
ROW_BLOCKS = 88  # u32: counter blocks handed to it
ROW_EXTENTS = 96  # 6 × u32: the pool index of each extent's first block

# Extent e of an owner holds its items [base(e), end(e)): base is 0, 1, 2, 4, 8, ...; a
# destination's extent 0 is its own record (in the slot), the others come from the pool.
LEASE_EXTENT_ENDS = (1, 2, 4, 8, 16, 32, 64, LEASES)
BLOCK_EXTENT_ENDS = (1, 2, 4, 8, 16, BRANCHES // BLOCK_BRANCHES)
LEASE_EXTENTS = len(LEASE_EXTENT_ENDS)  # 8
BLOCK_EXTENTS = len(BLOCK_EXTENT_ENDS)  # 6

OFF_GENERATION = 48
OFF_CLAIMS = 56
OFF_FIXED_TAIL = 64  # the header's second run of fixed bytes: 0, the file id, the pools' sizes
OFF_FILE_ID = 72  # u64: a random id chosen at creation
OFF_POOLS = 80  # R, P, W, 0: covered by the CRC with [0, 40)
OFF_LEASES_HANDED = 96  # u32: lease records handed out so far
OFF_BLOCKS_HANDED = 100  # u32: counter blocks handed out so far
FIXED_LEN = 48 + OFF_POOLS + 16 - OFF_FIXED_TAIL  # 80: [0, 48) and [64, 96)

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

_HEADER = struct.Struct("<4sHHIIIIIIQ")  # bytes [0, 40), covered by the CRC
_HEADER_TAIL = struct.Struct("<IIQQ")  # CRC, 0, generation, claim counter
_IDS = struct.Struct("<QQ")  # at 64: 0 (reserved), file id
_POOLS = struct.Struct("<IIII")  # at 80: R, P, W, 0 (covered by the CRC)
_HANDED = struct.Struct("<II")  # at 96: lease records, counter blocks handed out
_CRC = struct.Struct("<I")  # at 40


class Sizes(NamedTuple):
    """The sizes of a state file, fixed at creation (the spec's D, R, M, N, P)."""

    destinations: int
    leases: int
    memory: int
    numbers: int
    counter_blocks: int


def _check_size(name: str, value: object, top: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        raise StateError(f"{name} must be an integer in 1..{top}, not {value!r}")
    return value


def check_sizes(
    destinations: object, leases: object, memory: object, numbers: object, counter_blocks: object
) -> Sizes:
    """The sizes, each checked (an integer in 1..its maximum) in the spec's order."""
    return Sizes(
        _check_size("destinations", destinations, MAX_DESTINATIONS),
        _check_size("leases", leases, MAX_LEASES),
        _check_size("memory", memory, MAX_MEMORY),
        _check_size("numbers", numbers, MAX_NUMBERS),
        _check_size("counter_blocks", counter_blocks, MAX_COUNTER_BLOCKS),
    )


def default_sizes(
    destinations: int,
    memory: int,
    numbers: int,
    leases: int | None = None,
    counter_blocks: int | None = None,
) -> Sizes:
    """The sizes asked, the pools' left out (None) at their defaults: D + 100 lease records
    (with its own in its slot, two a destination, plus one trunk of capacity 100) and 2·N + 32
    counter blocks (16 branches a number, plus one number counting all 256). Checked as
    :func:`check_sizes`."""
    d = _check_size("destinations", destinations, MAX_DESTINATIONS)
    r = _check_size("leases", d + LEASES if leases is None else leases, MAX_LEASES)
    m = _check_size("memory", memory, MAX_MEMORY)
    n = _check_size("numbers", numbers, MAX_NUMBERS)
    p = 2 * n + BRANCHES // BLOCK_BRANCHES if counter_blocks is None else counter_blocks
    return Sizes(d, r, m, n, _check_size("counter_blocks", p, MAX_COUNTER_BLOCKS))


def lease_extent(j: int) -> tuple[int, int]:
    """(extent, its first record) of a destination's lease record ``j`` (0..99). Extent 0
    (record 0) lies in the slot at :data:`SLOT_LEASE`; extent ``e`` ≥ 1 in the pool, from the
    u32 start at ``SLOT_EXTENTS + 4·(e − 1)`` of the slot."""
    e = min(j.bit_length(), LEASE_EXTENTS - 1)
    return e, (1 << e) >> 1


def block_extent(q: int) -> tuple[int, int]:
    """(extent, its first block) of a counter row's block ``q`` (0..31: branches 8q..8q+7)."""
    e = min(q.bit_length(), BLOCK_EXTENTS - 1)
    return e, (1 << e) >> 1


def leases_offset(sizes: Sizes) -> int:
    """Where the lease pool begins: after the destination slots."""
    return HEADER_LEN + sizes.destinations * DEST


def memory_offset(sizes: Sizes) -> int:
    return leases_offset(sizes) + sizes.leases * LEASE


def rows_offset(sizes: Sizes) -> int:
    return memory_offset(sizes) + sizes.memory * MEM


def blocks_offset(sizes: Sizes) -> int:
    """Where the counter-block pool begins: after the counter rows."""
    return rows_offset(sizes) + sizes.numbers * ROW


def cursors_offset(sizes: Sizes) -> int:
    return blocks_offset(sizes) + sizes.counter_blocks * BLOCK


def file_length(sizes: Sizes) -> int:
    """Bytes of a state file with these sizes."""
    return cursors_offset(sizes) + CURSORS_PER_ROW * sizes.numbers * CURSOR


def _crc(head: bytes) -> int:
    """The header's CRC-32: bytes [0, 40) then the pools' sizes [80, 96)."""
    return zlib.crc32(head[OFF_POOLS : OFF_POOLS + 16], zlib.crc32(head[:40])) & MASK32


def header_bytes(sizes: Sizes, file_id: int = 0) -> bytes:
    """The 128-byte header of a new file (generation 0, claim counter 0, nothing handed out
    from its pools), naming the file's id."""
    d, r, m, n, p = sizes
    length = file_length(sizes)
    head = _HEADER.pack(MAGIC, VERSION, HEADER_LEN, d, LEASES, m, n, BRANCHES, DAYS, length)
    pools = _POOLS.pack(r, p, BLOCK_BRANCHES, 0)
    crc = _crc(head + bytes(OFF_POOLS - 40) + pools)
    return (
        head
        + _HEADER_TAIL.pack(crc, 0, 0, 0)
        + _IDS.pack(0, file_id)
        + pools
        + _HANDED.pack(0, 0)
        + bytes(HEADER_LEN - OFF_LEASES_HANDED - _HANDED.size)
    )


def fixed_bytes(head: bytes) -> bytes:
    """The 80 header bytes that never change once the file is made: [0, 48) and [64, 96)."""
    return bytes(head[:48]) + bytes(head[OFF_FIXED_TAIL : OFF_POOLS + 16])


def check_header(head: bytes, size: int, path: str) -> Sizes:
    """The sizes of a state file whose first bytes are ``head``.

    ``size`` is the file's length; raises StateError for anything but a sound RCST v3 file of
    exactly the length its header gives.
    """
    if size == 0:
        raise StateError(f"{path}: the state file is empty")
    lead = head[:4]
    if lead != MAGIC[: len(lead)]:
        raise StateError(f"{path}: not a routecore state file: magic is {lead!r}, not {MAGIC!r}")
    if size < HEADER_LEN or len(head) < HEADER_LEN:
        raise StateError(
            f"{path}: truncated state file: {size} bytes, shorter than the {HEADER_LEN}-byte header"
        )
    _, version, hlen, d, lease, m, n, b, k, length = _HEADER.unpack_from(head, 0)
    r, p, w, _ = _POOLS.unpack_from(head, OFF_POOLS)
    crc = _CRC.unpack_from(head, 40)[0]
    if version != VERSION:
        raise StateError(
            f"{path}: layout version {version} is not supported (this build reads {VERSION}):"
            " remove the file and create it again"
        )
    actual = _crc(head)
    if crc != actual:
        raise StateError(
            f"{path}: corrupt state header: CRC mismatch:"
            f" stored {crc:#010x}, computed {actual:#010x}"
        )
    if hlen != HEADER_LEN:
        raise StateError(f"{path}: corrupt state header: header length {hlen}, not {HEADER_LEN}")
    for name, got, want in (
        ("lease records", lease, LEASES),
        ("branches", b, BRANCHES),
        ("days kept", k, DAYS),
        ("branches per counter block", w, BLOCK_BRANCHES),
    ):
        if got != want:
            raise StateError(f"{path}: corrupt state header: {name} {got}, not {want}")
    try:
        sizes = check_sizes(d, r, m, n, p)
    except StateError as e:
        raise StateError(f"{path}: corrupt state header: {e}") from None
    want_len = file_length(sizes)
    if length != want_len:
        raise StateError(
            f"{path}: corrupt state header: length {length}, but its sizes make {want_len} bytes"
        )
    if size != length:
        what = "truncated state file" if size < length else "state file too long"
        raise StateError(f"{path}: {what}: {size} bytes, the header says {length}")
    return sizes
