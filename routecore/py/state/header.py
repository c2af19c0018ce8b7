"""Mirrors ``crates/routecore-core/src/state/header.rs``: the layout of a state file
(``docs/state-format.md``), the header written for its sizes and checked when read back, and
what every table of it shares (FNV-1a keys, linear probing, the numbers stored).
"""

from __future__ import annotations

import mmap
import struct
import zlib

from routecore.errors import StateError

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
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

_HEADER = struct.Struct("<4sHHIIIIIIQ")  # bytes [0, 40), covered by the CRC
_HEADER_TAIL = struct.Struct("<IIQQ")  # CRC, 0, generation, claim counter
_IDS = struct.Struct("<QQ")  # at 64: 0 (reserved), file id
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


def file_length(destinations: int, memory: int, numbers: int) -> int:
    """Bytes of a state file with these sizes."""
    return cursors_offset(destinations, memory, numbers) + CURSORS_PER_ROW * numbers * CURSOR


def memory_offset(destinations: int) -> int:
    return HEADER_LEN + destinations * DEST


def rows_offset(destinations: int, memory: int) -> int:
    return HEADER_LEN + destinations * DEST + memory * MEM


def cursors_offset(destinations: int, memory: int, numbers: int) -> int:
    return rows_offset(destinations, memory) + numbers * ROW


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def header_bytes(destinations: int, memory: int, numbers: int, file_id: int = 0) -> bytes:
    """The 128-byte header of a new file (generation 0, claim counter 0), naming the file's id."""
    length = file_length(destinations, memory, numbers)
    head = _HEADER.pack(
        MAGIC, VERSION, HEADER_LEN, destinations, LEASES, memory, numbers, BRANCHES, DAYS, length
    )
    crc = zlib.crc32(head) & MASK32
    return head + _HEADER_TAIL.pack(crc, 0, 0, 0) + _IDS.pack(0, file_id) + bytes(48)


def _fixed(head: bytes) -> bytes:
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
    crc = _U32.unpack_from(head, 40)[0]
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


def _digits(number: object, lo: int, hi: int, what: str) -> bytes:
    if (
        not isinstance(number, str)
        or not lo <= len(number) <= hi
        or not number.isascii()
        or not number.isdigit()
    ):
        raise StateError(f"{what} must be {lo}-{hi} ASCII digits, not {number!r}")
    return number.encode()


def number_bytes(number: object) -> bytes:
    """A destination number: 3-20 ASCII digits."""
    return _digits(number, 3, 20, "a destination number")


def did_bytes(did: object) -> bytes:
    """A 400 number (the key of call memory and counters): 3-15 ASCII digits."""
    return _digits(did, 3, 15, "a 400 number")
