"""The flat table layout, in plain Python: the twin of ``crates/routecore-core/src/layout.rs``.

Every table starts with a 16-byte header: magic (4 bytes), layout version (u16 LE), flags
(u16), total length (u32, a multiple of 8) and the CRC-32 of the body (u32). Reads are
bounds-checked and raise :class:`routecore.errors.LayoutError`.
"""

from __future__ import annotations

import struct
import zlib

from routecore.errors import LayoutError

HEADER_LEN = 16
_HEADER = struct.Struct("<4sHHII")

Buffer = bytes | bytearray | memoryview


def open_table(data: Buffer, magic: bytes, version: int, what: str) -> memoryview:
    """Check the common header and return a view of exactly the table's bytes."""
    view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    n = len(view)
    if n < HEADER_LEN:
        head = bytes(view[:4])
        if n and not magic.startswith(head):
            raise LayoutError(f"not a {magic.decode()} table: magic is {head!r}")
        raise LayoutError(f"{what}: truncated buffer: need {HEADER_LEN} bytes, have {n}")
    found, ver, _flags, length, _crc = _HEADER.unpack_from(view, 0)
    if found != magic:
        raise LayoutError(f"not a {magic.decode()} table: magic is {found!r}")
    if ver != version:
        raise LayoutError(
            f"{what}: layout version {ver} is not supported (this build reads version {version})"
        )
    if length < HEADER_LEN or length % 8:
        raise LayoutError(f"{what}: corrupt table: header length {length} is not valid")
    if length > n:
        raise LayoutError(f"{what}: truncated buffer: need {length} bytes, have {n}")
    return view[:length]


def body_crc(table: Buffer) -> int:
    return zlib.crc32(memoryview(table)[HEADER_LEN:]) & 0xFFFFFFFF


def verify_table(table: Buffer, what: str) -> None:
    stored = struct.unpack_from("<I", table, 12)[0]
    actual = body_crc(table)
    if stored != actual:
        raise LayoutError(
            f"{what}: corrupt table: checksum mismatch: "
            f"stored {stored:#010x}, content {actual:#010x}"
        )


def need(view: memoryview, end: int, what: str) -> None:
    """Raise LayoutError unless ``view`` holds at least ``end`` bytes."""
    if end > len(view):
        raise LayoutError(f"{what}: truncated buffer: need {end} bytes, have {len(view)}")


def corrupt(what: str, detail: str) -> LayoutError:
    return LayoutError(f"{what}: corrupt table: {detail}")


class TableWriter:
    """Builds one table: header first, body appended, length and CRC filled by ``finish``."""

    def __init__(self, magic: bytes, version: int) -> None:
        self.buf = bytearray(_HEADER.pack(magic, version, 0, 0, 0))

    def __len__(self) -> int:
        return len(self.buf)

    def pack(self, fmt: str, *values: int) -> None:
        self.buf += struct.pack("<" + fmt, *values)

    def raw(self, data: bytes) -> None:
        self.buf += data

    def align(self, n: int) -> None:
        self.buf += b"\0" * (-len(self.buf) % n)

    def patch_u32(self, off: int, value: int) -> None:
        struct.pack_into("<I", self.buf, off, value)

    def finish(self) -> bytes:
        self.align(8)
        self.patch_u32(8, len(self.buf))
        self.patch_u32(12, body_crc(self.buf))
        return bytes(self.buf)


class StringPool:
    """Strings stored once each in a blob, referred to by (offset, length) in UTF-8 bytes."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self._index: dict[str, tuple[int, int]] = {}

    def add(self, s: str) -> tuple[int, int]:
        ref = self._index.get(s)
        if ref is None:
            raw = s.encode()
            ref = (len(self.blob), len(raw))
            self.blob += raw
            self._index[s] = ref
        return ref
