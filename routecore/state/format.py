"""The state file's layout: its sizes, where each table lies, and its header written and checked.

``docs/state-format.md`` (``RCST`` layout version 2) is the spec; this is the one Python copy
of it, which the pure-Python twin (``routecore.py.state``) and the NumPy views
(``routecore.state.views``) both read. The compiled core has its own in
``crates/routecore-core/src/state/header.rs``.
"""

from __future__ import annotations

import struct
import zlib

from routecore.errors import StateError

__all__ = [
    "BRANCHES",
    "CURSOR",
    "CURSORS_PER_ROW",
    "DAYS",
    "DEFAULT_PATH",
    "DEST",
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
    "PATH_ENV",
    "ROW",
    "STATE_BRANCHES",
    "UNWRITTEN_GRACE",
    "VERSION",
    "check_header",
    "check_sizes",
    "cursors_offset",
    "file_length",
    "fixed_bytes",
    "header_bytes",
    "memory_offset",
    "rows_offset",
]

DEFAULT_PATH = "/dev/shm/routecore-state"
PATH_ENV = "ROUTECORE_STATE"

MAGIC = b"RCST"
VERSION = 2
HEADER_LEN = 128
LEASES = 100  # L: lease records per destination, the largest capacity
BRANCHES = 256  # B
STATE_BRANCHES = BRANCHES  # a branch is 0..STATE_BRANCHES-1 (as routecore._native.STATE_BRANCHES)
DAYS = 8  # K
LEASE = 64
DEST = 96 + LEASE * LEASES  # 6496
MEM = 96
ROW = 24 + 8 * DAYS + 4 * BRANCHES * DAYS  # 8280
CURSORS_PER_ROW = 16  # round-robin cursor entries per counter row, and the probes of one
CURSOR = 16
MAX_DESTINATIONS = 1 << 24
MAX_MEMORY = 1 << 26
MAX_NUMBERS = 1 << 20
UNWRITTEN_GRACE = 10  # seconds: a claim whose fields never got written, or an odd seqlock

OFF_GENERATION = 48
OFF_CLAIMS = 56
OFF_FIXED_TAIL = 64  # the header's second run of fixed bytes: a reserved u64 (0), the file id
OFF_FILE_ID = 72  # u64: a random id chosen at creation

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

_HEADER = struct.Struct("<4sHHIIIIIIQ")  # bytes [0, 40), covered by the CRC
_HEADER_TAIL = struct.Struct("<IIQQ")  # CRC, 0, generation, claim counter
_IDS = struct.Struct("<QQ")  # at 64: 0 (reserved), file id
_CRC = struct.Struct("<I")  # at 40


def file_length(destinations: int, memory: int, numbers: int) -> int:
    """Bytes of a state file with these sizes."""
    return cursors_offset(destinations, memory, numbers) + CURSORS_PER_ROW * numbers * CURSOR


def memory_offset(destinations: int) -> int:
    return HEADER_LEN + destinations * DEST


def rows_offset(destinations: int, memory: int) -> int:
    return HEADER_LEN + destinations * DEST + memory * MEM


def cursors_offset(destinations: int, memory: int, numbers: int) -> int:
    return rows_offset(destinations, memory) + numbers * ROW


def header_bytes(destinations: int, memory: int, numbers: int, file_id: int = 0) -> bytes:
    """The 128-byte header of a new file (generation 0, claim counter 0), naming the file's id."""
    length = file_length(destinations, memory, numbers)
    head = _HEADER.pack(
        MAGIC, VERSION, HEADER_LEN, destinations, LEASES, memory, numbers, BRANCHES, DAYS, length
    )
    crc = zlib.crc32(head) & MASK32
    return head + _HEADER_TAIL.pack(crc, 0, 0, 0) + _IDS.pack(0, file_id) + bytes(48)


def fixed_bytes(head: bytes) -> bytes:
    """The header bytes that never change once the file is made: [0, 48) and [64, 80)."""
    return bytes(head[:48]) + bytes(head[OFF_FIXED_TAIL : OFF_FILE_ID + 8])


def check_sizes(destinations: object, memory: object, numbers: object) -> None:
    for name, value, top in (
        ("destinations", destinations, MAX_DESTINATIONS),
        ("memory", memory, MAX_MEMORY),
        ("numbers", numbers, MAX_NUMBERS),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise StateError(f"{name} must be an integer in 1..{top}, not {value!r}")


def check_header(head: bytes, size: int, path: str) -> tuple[int, int, int]:
    """(destinations, memory, numbers) of a state file whose first bytes are ``head``.

    ``size`` is the file's length; raises StateError for anything but a sound RCST v2 file of
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
    crc = _CRC.unpack_from(head, 40)[0]
    if version != VERSION:
        raise StateError(
            f"{path}: layout version {version} is not supported (this build reads {VERSION}):"
            " remove the file and create it again"
        )
    actual = zlib.crc32(head[:40]) & MASK32
    if crc != actual:
        raise StateError(
            f"{path}: corrupt state header: CRC mismatch:"
            f" stored {crc:#010x}, computed {actual:#010x}"
        )
    if hlen != HEADER_LEN:
        raise StateError(f"{path}: corrupt state header: header length {hlen}, not {HEADER_LEN}")
    for name, got, want in (("lease records", lease, LEASES), ("branches", b, BRANCHES)):
        if got != want:
            raise StateError(f"{path}: corrupt state header: {name} {got}, not {want}")
    if k != DAYS:
        raise StateError(f"{path}: corrupt state header: days kept {k}, not {DAYS}")
    try:
        check_sizes(d, m, n)
    except StateError as e:
        raise StateError(f"{path}: corrupt state header: {e}") from None
    want_len = file_length(d, m, n)
    if length != want_len:
        raise StateError(
            f"{path}: corrupt state header: length {length}, but its sizes make {want_len} bytes"
        )
    if size != length:
        what = "truncated state file" if size < length else "state file too long"
        raise StateError(f"{path}: {what}: {size} bytes, the header says {length}")
    return d, m, n
