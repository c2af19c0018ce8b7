"""The routing image, plainly: the twin of ``crates/routecore-core/src/image.rs``.

Named tables concatenated into one file; opening reads the header only, a section is found by
binary search of the sorted directory. See the Rust file for the layout.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable, Mapping
from itertools import pairwise

from routecore.errors import LayoutError
from routecore.py.group import MAGIC as GROUP_MAGIC
from routecore.py.group import Group
from routecore.py.layout import HEADER_LEN, Buffer, TableWriter, corrupt, need, open_table
from routecore.py.layout import verify_table as _verify
from routecore.py.segments import MAGIC as SEGMENTS_MAGIC
from routecore.py.segments import SegmentTable
from routecore.py.timeplan import MAGIC as TIMEPLAN_MAGIC
from routecore.py.timeplan import TimePlan
from routecore.py.trie import MAGIC as TRIE_MAGIC
from routecore.py.trie import Trie

MAGIC = b"RCIM"
BLOB_MAGIC = b"RCBL"
VERSION = 1
MAX_NAME = 255
_ENTRY = struct.Struct("<II4sIQQ")
_FIXED_LEN = HEADER_LEN + 16  # the header, then count, directory, names offset and length
_BLOB_VERSION = 1
_BLOB_FIXED_LEN = HEADER_LEN + 8  # the header, then the payload's length and a reserved u32


def _table_kind(name: str, data: bytes) -> bytes:
    if len(data) < HEADER_LEN:
        raise LayoutError(
            f"section '{name}' is not a routecore table: {len(data)} bytes is shorter than a header"
        )
    length = struct.unpack_from("<I", data, 8)[0]
    if length != len(data):
        raise LayoutError(
            f"section '{name}' is not a routecore table: "
            f"its header says {length} bytes but it has {len(data)}"
        )
    return bytes(data[:4])


def build_image(sections: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> bytes:
    """Concatenate named tables into one routing image."""
    pairs = list(sections.items()) if isinstance(sections, Mapping) else list(sections)
    items = []
    for name, data in pairs:
        raw = bytes(data)
        if not 1 <= len(name.encode()) <= MAX_NAME:
            raise LayoutError(f"section name '{name}' must be 1 to {MAX_NAME} bytes")
        items.append((name.encode(), raw, _table_kind(name, raw)))
    items.sort(key=lambda i: i[0])
    for a, b in pairwise(items):
        if a[0] == b[0]:
            raise LayoutError(f"section '{a[0].decode()}' is given twice")
    dir_off = 32
    names_off = dir_off + len(items) * _ENTRY.size
    names_len = sum(len(n) for n, _, _ in items)
    at = -(-(names_off + names_len) // 8) * 8
    # Each distinct table once, in the order of its first section; later copies point at it.
    placed: dict[bytes, int] = {}
    for _, data, _ in items:
        if data not in placed:
            placed[data] = at
            at = -(-(at + len(data)) // 8) * 8
    w = TableWriter(MAGIC, VERSION)
    w.pack("4I", len(items), dir_off, names_off, names_len)
    name_at = 0
    for name, data, kind in items:
        w.raw(_ENTRY.pack(name_at, len(name), kind, 0, placed[data], len(data)))
        name_at += len(name)
    for name, _, _ in items:
        w.raw(name)
    for data in placed:  # in the order of their first section
        w.align(8)
        w.raw(data)
    return w.finish()


def blob_table(data: bytes) -> bytes:
    """A table of opaque bytes (``RCBL``): a flow's structure in an image."""
    w = TableWriter(BLOB_MAGIC, _BLOB_VERSION)
    w.pack("II", len(data), 0)
    w.raw(bytes(data))
    return w.finish()


class Image:
    """A routing image read in place from a buffer or a memory-mapped file."""

    __slots__ = ("_count", "_dir", "_names", "_view")

    def __init__(self, view: memoryview) -> None:
        self._view = view
        need(view, _FIXED_LEN, "image")
        self._count, self._dir, names_off, names_len = struct.unpack_from("<4I", view, 16)
        need(view, self._dir + self._count * _ENTRY.size, "image")
        need(view, names_off + names_len, "image")
        self._names = view[names_off : names_off + names_len]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Image:
        """Map an image file read-only."""
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise LayoutError(f"{os.fspath(path)}: empty file")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return cls.from_buffer(mapped)

    @classmethod
    def from_buffer(cls, data: Buffer | mmap.mmap) -> Image:
        return cls(open_table(memoryview(data), MAGIC, VERSION, "image"))

    def __len__(self) -> int:
        return int(self._count)

    def _name(self, i: int) -> bytes:
        """The i-th section's name (UTF-8 checked, as the native core's binary search does)."""
        off, n = struct.unpack_from("<II", self._view, self._dir + i * _ENTRY.size)
        if off + n > len(self._names):
            raise LayoutError(f"image: truncated buffer: need {off + n} bytes")
        raw = bytes(self._names[off : off + n])
        try:
            raw.decode()
        except UnicodeDecodeError:
            raise corrupt("image", f"string at {off} is not UTF-8") from None
        return raw

    def _entry(self, i: int) -> tuple[bytes, int, int]:
        _, _, kind, _, off, n = _ENTRY.unpack_from(self._view, self._dir + i * _ENTRY.size)
        need(self._view, off + n, "image")
        if n < HEADER_LEN or bytes(self._view[off : off + 4]) != kind:
            raise corrupt("image", f"section {i} does not hold the table its entry names")
        return kind, off, n

    def _find(self, name: str) -> tuple[bytes, int, int] | None:
        key = name.encode()
        lo, hi = 0, self._count
        while lo < hi:
            mid = (lo + hi) // 2
            here = self._name(mid)
            if here < key:
                lo = mid + 1
            elif here > key:
                hi = mid
            else:
                return self._entry(mid)
        return None

    def __contains__(self, name: str) -> bool:
        return self._find(name) is not None

    def names(self) -> list[str]:
        return [self._name(i).decode() for i in range(self._count)]

    def kind(self, name: str) -> str:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return found[0].decode("utf-8", "replace")

    def section(self, name: str) -> bytes:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        _, off, n = found
        return bytes(self._view[off : off + n])

    def _table(self, name: str, kind: bytes) -> memoryview:
        found = self._find(name)
        if found is None:
            raise corrupt("image", f"no section named '{name}'")
        if found[0] != kind:
            raise LayoutError(f"not a {kind.decode()} table: magic is {found[0]!r}")
        return self._view[found[1] : found[1] + found[2]]

    @property
    def content_hash(self) -> int:
        return int(struct.unpack_from("<I", self._view, 12)[0])

    def to_bytes(self) -> bytes:
        return bytes(self._view)

    def verify(self) -> None:
        _verify(self._view, "image")
        for i in range(self._count):
            _, off, n = self._entry(i)
            _verify(self._view[off : off + n], "section")

    def blob(self, name: str) -> bytes:
        """The payload of a blob section."""
        view = open_table(self._table(name, BLOB_MAGIC), BLOB_MAGIC, _BLOB_VERSION, "blob")
        need(view, _BLOB_FIXED_LEN, "blob")
        n = struct.unpack_from("<I", view, 16)[0]
        if 24 + n > len(view):
            raise corrupt("blob", f"payload of {n} bytes runs past the table")
        return bytes(view[24 : 24 + n])

    def trie(self, name: str) -> Trie:
        return Trie.from_buffer(self._table(name, TRIE_MAGIC))

    def group(self, name: str) -> Group:
        return Group.from_buffer(self._table(name, GROUP_MAGIC))

    def time_plan(self, name: str) -> TimePlan:
        return TimePlan.from_buffer(self._table(name, TIMEPLAN_MAGIC))

    def segments(self, name: str) -> SegmentTable:
        return SegmentTable.from_buffer(self._table(name, SEGMENTS_MAGIC))
