"""The number-segment table, plainly: the twin of ``crates/routecore-core/src/segments.rs``.

Same bytes from the same data, same answers. See that file for the layout.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence

from routecore.data.segments import TABLE_MAGIC, TABLE_VERSION, Row
from routecore.errors import SegmentDataError, TrieError
from routecore.py.layout import (
    HEADER_LEN,
    Buffer,
    StringPool,
    TableWriter,
    corrupt,
    need,
    open_table,
)
from routecore.py.layout import verify_table as _verify
from routecore.py.trie import Trie
from routecore.py.trie import build_bytes as build_trie_bytes

MAGIC = TABLE_MAGIC
VERSION = TABLE_VERSION
SEG_BASE = 1_000_000
SEG_COUNT = 1_000_000
_REGION = struct.Struct("<6I")

CARRIERS = (
    "",
    "China Mobile",
    "China Unicom",
    "China Telecom",
    "China Telecom MVNO",
    "China Unicom MVNO",
    "China Mobile MVNO",
    "China Broadnet",
    "China Broadnet MVNO",
)

Region = tuple[str, str, str]
_Full = tuple[int, int, str, str, str]  # segment, carrier, area, province, city


def clean_area_code(code: str) -> str | None:
    """``0`` + 2–3 digits (first not 0); phone.dat's doubled zero (``00479``) is repaired."""
    if len(code) == 5 and code.startswith("00"):
        code = code[1:]
    ok = (
        3 <= len(code) <= 4
        and code[0] == "0"
        and code[1] != "0"
        and all("0" <= c <= "9" for c in code)
    )
    return code if ok else None


def parse_phone_dat(data: bytes) -> list[_Full]:
    if len(data) < 8:
        raise SegmentDataError(f"phone.dat: truncated buffer: need 8 bytes, have {len(data)}")
    index = struct.unpack_from("<i", data, 4)[0]
    if index < 8 or index > len(data):
        raise SegmentDataError(f"phone.dat: index offset {index} is outside the file")
    count = (len(data) - index) // 9
    records: dict[int, Region] = {}
    rows: list[_Full] = []
    entries = struct.iter_unpack("<iiB", data[index : index + count * 9])
    for i, (segment, offset, carrier) in enumerate(entries):
        if not SEG_BASE <= segment < SEG_BASE + SEG_COUNT:
            raise SegmentDataError(
                f"phone.dat: entry {i}: segment {segment} is not 7 digits starting with 1"
            )
        if offset < 8 or offset >= index:
            raise SegmentDataError(
                f"phone.dat: entry {i}: record offset {offset} is outside the records"
            )
        rec = records.get(offset)
        if rec is None:
            end = data.find(b"\0", offset, index)
            if end < 0:
                raise SegmentDataError(f"phone.dat: record at {offset} is not terminated")
            try:
                text = data[offset:end].decode()
            except UnicodeDecodeError:
                raise SegmentDataError(f"phone.dat: record at {offset} is not UTF-8") from None
            parts = text.split("|")
            if len(parts) != 4:
                raise SegmentDataError(
                    f"phone.dat: record at {offset} has {len(parts)} fields, not 4"
                )
            area = clean_area_code(parts[3])
            if area is None:
                raise SegmentDataError(f"phone.dat: record at {offset}: bad area code {parts[3]!r}")
            rec = records[offset] = (area, parts[0], parts[1])
        rows.append((segment, carrier if carrier < len(CARRIERS) else 0, rec[0], rec[1], rec[2]))
    return rows


def build_bytes(base: Sequence[_Full], overlay: Sequence[_Full]) -> bytes:
    by_segment: dict[int, tuple[int, Region]] = {}
    for rows, is_overlay in ((base, False), (overlay, True)):
        for i, (seg, carrier, area_raw, province, city) in enumerate(rows):
            if not SEG_BASE <= seg < SEG_BASE + SEG_COUNT:
                raise SegmentDataError(
                    f"row {i + 1}: segment {seg} is not 7 digits starting with 1"
                )
            area = clean_area_code(area_raw)
            if area is None:
                raise SegmentDataError(f"row {i + 1}: bad area code {area_raw!r}")
            if not province or not city:
                raise SegmentDataError(f"row {i + 1}: province and city must not be empty")
            if is_overlay and carrier == 0 and seg in by_segment:
                carrier = by_segment[seg][0]
            by_segment[seg] = (carrier, (area, province, city))
    regions = sorted({key for _, key in by_segment.values()})
    id_of = {key: i + 1 for i, key in enumerate(regions)}
    seg_region = array("H", bytes(2 * SEG_COUNT))
    seg_carrier = bytearray(SEG_COUNT)
    uses: dict[int, int] = {}
    for seg, (carrier, key) in by_segment.items():
        rid = id_of[key]
        seg_region[seg - SEG_BASE] = rid
        seg_carrier[seg - SEG_BASE] = carrier
        uses[rid] = uses.get(rid, 0) + 1
    main_region: dict[str, tuple[int, int]] = {}
    for i, (area, _, _) in enumerate(regions):
        rid = i + 1
        n = uses[rid]
        if area not in main_region or n > main_region[area][0]:
            main_region[area] = (n, rid)
    area_trie = build_bytes_trie({a: rid for a, (_, rid) in main_region.items()})

    pool = StringPool()
    refs = [(0, 0, 0, 0, 0, 0)]
    for a, p, c in regions:
        refs.append((*pool.add(a), *pool.add(p), *pool.add(c)))
    regions_off = 64
    strings_off = regions_off + len(refs) * _REGION.size
    strings_len = len(pool.blob)
    seg_region_off = -(-(strings_off + strings_len) // 8) * 8
    seg_carrier_off = seg_region_off + 2 * SEG_COUNT
    trie_off = -(-(seg_carrier_off + SEG_COUNT) // 8) * 8
    w = TableWriter(MAGIC, VERSION)
    w.pack(
        "12I",
        len(refs),
        SEG_BASE,
        SEG_COUNT,
        len(by_segment),
        regions_off,
        strings_off,
        strings_len,
        seg_region_off,
        seg_carrier_off,
        trie_off,
        len(area_trie),
        0,
    )
    for ref in refs:
        w.raw(_REGION.pack(*ref))
    w.raw(bytes(pool.blob))
    w.align(8)
    if sys.byteorder != "little":
        seg_region.byteswap()
    w.raw(seg_region.tobytes())
    w.raw(bytes(seg_carrier))
    w.align(8)
    w.raw(area_trie)
    return w.finish()


def build_bytes_trie(entries: dict[str, int]) -> bytes:
    try:
        return build_trie_bytes(entries)
    except TrieError as e:  # pragma: no cover - area codes are checked before
        raise SegmentDataError(str(e)) from e


class SegmentTable:
    """7-digit mobile segment → (area code, province, city), and landline area codes.

    Build it with ``SegmentTable.build(phone_dat_bytes, rows)`` or, from files,
    ``load_segments(csv=[...], base=True)``; read one in place with ``from_buffer``.
    """

    __slots__ = (
        "_areas",
        "_reg_off",
        "_region_cache",
        "_region_n",
        "_strings",
        "_view",
        "known",
        "seg_carrier",
        "seg_region",
    )

    def __init__(self, view: memoryview) -> None:
        self._view = view
        need(view, HEADER_LEN + 48, "segments")
        fields = struct.unpack_from("<12I", view, 16)
        regions, base, count, self.known, reg_off, s_off, s_len, r_off, c_off, t_off, t_len, _ = (
            fields
        )
        if base != SEG_BASE or count != SEG_COUNT or regions == 0 or regions > 65535:
            raise corrupt("segments", "segment range or region count is not valid")
        need(view, reg_off + regions * _REGION.size, "segments")
        need(view, s_off + s_len, "segments")
        need(view, r_off + 2 * count, "segments")
        need(view, c_off + count, "segments")
        need(view, t_off + t_len, "segments")
        self._strings = view[s_off : s_off + s_len]
        self.seg_region = view[r_off : r_off + 2 * count].cast("H")
        self.seg_carrier = view[c_off : c_off + count]
        self._areas = Trie.from_buffer(view[t_off : t_off + t_len])
        # Region strings are read when first asked for (as the native core does), so a
        # damaged string is a LayoutError of the read that meets it, not of opening.
        self._region_n = regions
        self._reg_off = reg_off
        self._region_cache: dict[int, Region] = {}

    def _region(self, rid: int) -> Region:
        region = self._region_cache.get(rid)
        if region is None:
            at = self._reg_off + rid * _REGION.size
            ao, al, po, pl, co, cl = _REGION.unpack_from(self._view, at)
            region = (self._str(ao, al), self._str(po, pl), self._str(co, cl))
            self._region_cache[rid] = region
        return region

    def _str(self, off: int, n: int) -> str:
        if off + n > len(self._strings):
            raise corrupt("segments", f"string at {off} runs past the table")
        try:
            return bytes(self._strings[off : off + n]).decode()
        except UnicodeDecodeError:
            raise corrupt("segments", f"string at {off} is not UTF-8") from None

    @classmethod
    def build(cls, phone_dat: bytes | None = None, rows: Sequence[Row] = ()) -> SegmentTable:
        """From the bytes of a phone.dat (or None) with user rows laid over it."""
        base = parse_phone_dat(phone_dat) if phone_dat is not None else []
        overlay = [(int(seg), 0, area, prov, city) for seg, area, prov, city in rows]
        return cls.from_buffer(build_bytes(base, overlay))

    @classmethod
    def from_buffer(cls, data: Buffer) -> SegmentTable:
        return cls(open_table(data, MAGIC, VERSION, "segments"))

    def to_bytes(self) -> bytes:
        return bytes(self._view)

    def verify(self) -> None:
        _verify(self._view, "segments")

    def __len__(self) -> int:
        return int(self.known)

    def regions(self) -> list[Region]:
        """(area code, province, city) by region id; id 0 is ("", "", "")."""
        return [self._region(i) for i in range(self._region_n)]

    def segment(self, segment: int) -> tuple[int, int]:
        """(region id, carrier code) of a 7-digit segment; (0, 0) if unknown."""
        i = segment - SEG_BASE
        if not 0 <= i < SEG_COUNT:
            return (0, 0)
        rid = self.seg_region[i]
        return (rid if rid < self._region_n else 0, self.seg_carrier[i])

    def lookup(self, segment: int | str) -> Region | None:
        """(area code, province, city) of a 7-digit segment, or None."""
        try:
            seg = int(segment)
        except ValueError:
            return None
        rid, _ = self.segment(seg)
        return self._region(rid) if rid else None

    def area(self, digits: str) -> tuple[int, int] | None:
        """(region id, area code length) of the longest area code at the start of ``digits``."""
        m = self._areas.longest(digits)
        if m is None or not 0 < m[0] < self._region_n:
            return None
        return m
