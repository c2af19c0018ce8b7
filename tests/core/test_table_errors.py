"""Both backends give the same documented error for every malformed table: ``from_buffer`` of
each table type (and the reads after it) on random, truncated and corrupted buffers raise
``LayoutError`` in the same cases on the native core and on the pure-Python reference, never
``struct.error``, ``IndexError`` or another exception, and read the same values otherwise.

Not compared: an Image's typed accessors (``trie``/``group``/``time_plan``) on a corrupted
image. The native core opens such a table from its section's start to the image's end (its
directory length is not applied), the reference within the section: they disagree on an image
whose directory length was damaged. Reported to the core's owner; every other read is here.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routecore.backend.native
import routecore.py
from routecore.errors import LayoutError

KINDS = ("Trie", "Group", "TimePlan", "Image", "SegmentTable")


@cache
def good(kind: str) -> bytes:
    """A valid table of ``kind`` (the same bytes on both backends)."""
    out = {}
    for core in (routecore.backend.native, routecore.py):
        trie = core.Trie.build({"10": 1, "755": 2}, exact={"13800138000": 3}).to_bytes()
        group = core.Group.build([("13800138000", 2), "075512345678"], mode="weighted")
        plan = core.TimePlan.build(
            {"office": ["mon-fri 09:00-18:00"]}, default="off", calendar=[], dates={}
        )
        tables = {
            "Trie": trie,
            "Group": group.to_bytes(),
            "TimePlan": plan.to_bytes(),
            "SegmentTable": core.SegmentTable.build(
                None, [(1380013, "010", "北京", "北京")]
            ).to_bytes(),
        }
        tables["Image"] = core.build_image(
            {
                "a": trie,
                "b": core.blob_table(b'{"x": 1}'),
                "g": tables["Group"],
                "t": tables["TimePlan"],
            }
        )
        out[core.NAME] = tables[kind]
    assert out["native"] == out["py"], kind
    return bytes(out["native"])


def _reads(kind: str, table: Any) -> list[Callable[[], Any]]:
    if kind == "Trie":
        keys = ("", "1", "10", "7551", "13800138000", "9", "x1")
        return [*(lambda k=k: table.longest(k) for k in keys), lambda: len(table)]
    if kind == "Group":
        return [
            lambda: table.numbers,
            lambda: table.weights,
            lambda: (table.mode, table.idle_first, table.ring_timeout, len(table)),
            lambda: [(a.targets, a.timeout) for a in table.attempts(seed=3)],
        ]
    if kind == "TimePlan":
        return [
            lambda: table.slot_names,
            lambda: table.tz,
            lambda: table.slot_id_at(1_790_000_000),
            lambda: table.slot_id_at(1_759_300_000),
        ]
    if kind == "SegmentTable":
        return [
            lambda: table.regions(),
            lambda: table.lookup(1380013),
            lambda: table.area("01065528888"),
            lambda: len(table),
        ]
    reads: list[Callable[[], Any]] = [lambda: table.names(), lambda: len(table)]
    for name in ("a", "b", "g", "t", "zz"):
        reads += [
            lambda n=name: n in table,
            lambda n=name: table.kind(n),
            lambda n=name: table.section(n),
            lambda n=name: table.blob(n),
        ]
    return reads


def outcome(core: ModuleType, kind: str, data: bytes) -> list[tuple[str, Any]]:
    """What opening ``data`` and reading it gives: values, or the class of each error."""

    def attempt(f: Callable[[], Any]) -> tuple[str, Any]:
        try:
            return ("ok", f())
        except KeyError:  # Image.kind/section of a name the image does not hold
            return ("error", "KeyError")
        except LayoutError as e:
            return ("error", type(e).__name__)

    try:
        table = getattr(core, kind).from_buffer(data)
    except LayoutError as e:
        return [("open", type(e).__name__)]
    return [attempt(f) for f in [*_reads(kind, table), table.verify]]


class Case(tuple[str, str, bytes]):
    """A damaged table; its repr is short (a segment table is 3 MB)."""

    def __repr__(self) -> str:
        kind, how, data = self
        return f"Case({kind}, {how}, {len(data)} bytes, head={data[:80].hex()})"


@st.composite
def damaged(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(KINDS))
    data = bytearray(good(kind))
    how = draw(st.sampled_from(["truncate", "random", "header", "flip", "length"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, min(len(data), 4096)))]
    elif how == "random":  # random bytes, sometimes behind a valid magic and version
        data = bytearray(draw(st.binary(max_size=256)))
        if draw(st.booleans()):
            data[:6] = good(kind)[:6]
    elif how == "header":  # a valid header over a random body of the right length
        body = draw(st.binary(min_size=0, max_size=256))
        length = -(-(16 + len(body)) // 8) * 8
        data = bytearray(good(kind)[:8]) + struct.pack("<II", length, 0) + body
        data += b"\0" * (length - len(data))
    else:
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, min(len(data), 512) - 1))
            data[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        if how == "length":  # a header length that still looks valid: shorter than the data
            cut = draw(st.integers(2, len(data) // 8)) * 8
            data = data[:cut]
            struct.pack_into("<I", data, 8, cut)
    if len(data) >= 16 and draw(st.booleans()):  # a checksum that matches the damage
        struct.pack_into("<I", data, 12, zlib.crc32(bytes(data[16:])) & 0xFFFFFFFF)
    return Case((kind, how, bytes(data)))


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged())
def test_both_backends_raise_the_same_layout_error_for_every_malformed_table(case):
    kind, _how, data = case
    native = outcome(routecore.backend.native, kind, data)
    py = outcome(routecore.py, kind, data)
    assert py == native


@pytest.mark.parametrize("kind", KINDS)
def test_a_header_with_no_room_for_the_fixed_fields_is_a_layout_error(kind):
    """A 16-byte table whose header is valid (length 16) but holds nothing after it."""
    data = bytearray(good(kind)[:16])
    struct.pack_into("<I", data, 8, 16)
    struct.pack_into("<I", data, 12, zlib.crc32(b"") & 0xFFFFFFFF)
    for core in (routecore.backend.native, routecore.py):
        with pytest.raises(LayoutError):
            getattr(core, kind).from_buffer(bytes(data))


@pytest.mark.parametrize("kind", KINDS)
def test_every_truncation_of_a_table_is_the_same_on_both_backends(kind):
    data = good(kind)
    cuts = range(len(data)) if len(data) < 4096 else [*range(512), *range(512, len(data), 65_537)]
    for cut in cuts:
        assert outcome(routecore.py, kind, data[:cut]) == outcome(
            routecore.backend.native, kind, data[:cut]
        ), cut
