"""Caller classification on the real segment data, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routecore
import routecore.backend.native as native
import routecore.py as ref
from routecore.errors import LayoutError, SegmentDataError

KNOWN = [
    ("13800138000", "mobile", "13800138000", "010", "北京"),
    ("18920001234", "mobile", "18920001234", "022", "天津"),
    ("075512345678", "landline", "075512345678", "0755", "深圳"),
    ("+86 138-0013-8000", "mobile", "13800138000", "010", "北京"),
    ("0086 13800138000", "mobile", "13800138000", "010", "北京"),
    ("8613800138000", "mobile", "13800138000", "010", "北京"),
    ("013800138000", "mobile", "13800138000", "010", "北京"),
    ("17951 13800138000", "mobile", "13800138000", "010", "北京"),
    ("12593-138-0013-8000", "mobile", "13800138000", "010", "北京"),
    ("17911 (010) 6552-9988", "landline", "01065529988", "010", "北京"),
    ("(021) 6123 4567", "landline", "02161234567", "021", "上海"),
    ("+86 21 6123 4567", "landline", "02161234567", "021", "上海"),
    ("047912345678", "landline", "047912345678", "0479", "锡林郭勒"),
    ("62345678", "landline", "62345678", None, None),
    ("4008001234", "service", "4008001234", None, None),
    ("800-810-8888", "service", "8008108888", None, None),
    ("95588", "service", "95588", None, None),
    ("10086", "service", "10086", None, None),
    ("110", "service", "110", None, None),
    ("+1 (212) 555-0100", "international", "+12125550100", None, None),
    ("00852 2345 6789", "international", "+85223456789", None, None),
]
INVALID = [
    "",
    "abc",
    "😀",
    "1" * 10_000,
    "+",
    "0086",
    "138001380",
    "02012345",
    "1380013800a",
    "++8613800138000",
    "１３８００１３８０００",
    "13800138000\n",
    "\ud800",
]


@pytest.mark.parametrize(("raw", "kind", "number", "area", "city"), KNOWN)
def test_known_answers(backend, raw, kind, number, area, city):
    c = backend.classify(raw)
    assert (c.kind, c.number, c.area_code, c.city) == (kind, number, area, city)


@pytest.mark.parametrize("raw", INVALID)
def test_garbage_is_invalid_never_an_error(backend, raw):
    c = backend.classify(raw)
    assert (c.kind, c.number, c.area_code) == ("invalid", "", None)


def test_caller_fields_and_equality(backend):
    c = backend.classify("13800138000")
    assert c.province == "北京" and c.carrier == "China Mobile"
    assert c == backend.classify("+86 13800138000")
    assert c != backend.classify("18920001234")
    assert hash(c) == hash(backend.classify("13800138000"))
    assert repr(c).startswith("Caller(kind='mobile', number='13800138000', area_code='010'")
    assert backend.Caller("mobile", "13800138000") != c


def test_public_api_uses_the_native_backend_by_default():
    assert routecore.BACKEND == "native"
    assert routecore.classify("13800138000").area_code == "010"


def test_every_area_code_of_the_data_resolves_as_a_landline():
    seg = native.default_classifier().segments
    areas = {a for a, _, _ in seg.regions() if a}
    assert len(areas) > 300
    for a in areas:
        c = native.classify(a + "2345678")
        assert (c.kind, c.area_code) == ("landline", a), a


def test_area_codes_cover_phonenumbers_geocoder():
    """Every mainland area code libphonenumber's geocoder knows resolves here.

    Its 2-digit codes (10, 20-29) and 3-digit codes are area codes proper; longer keys are
    ranges inside an area code and shorter 3x-9x keys are compressed ranges, both left out.
    """
    from phonenumbers.geodata import GEOCODE_DATA

    codes = {
        "0" + k[2:]
        for k in GEOCODE_DATA
        if k.startswith("86")
        and not k.startswith("861")
        and (len(k) == 5 or (len(k) == 4 and k[2] in "12"))
    }
    assert len(codes) > 300
    missed = [a for a in codes if native.classify(a + "2345678").area_code != a]
    assert not missed, sorted(missed)


def test_segment_table_matches_the_phone_package():
    from phone import Phone

    seg = native.default_classifier().segments
    p = Phone()
    for s in range(1300000, 1999999, 997):
        info = p.find(str(s))
        got = seg.lookup(s)
        if info is None:
            assert got is None
        else:
            area = (
                info["area_code"][1:] if info["area_code"].startswith("00") else info["area_code"]
            )
            assert got == (area, info["province"], info["city"]), s


@pytest.fixture(scope="module")
def both_default():
    return native.default_classifier(), ref.default_classifier()


def test_both_backends_build_the_same_bytes(both_default):
    a, b = both_default
    assert a.segments.to_bytes() == b.segments.to_bytes()
    a.segments.verify()


caller_chars = st.sampled_from(list("0123456789") * 4 + list(" -()+.x😀\t"))
prefixes = st.sampled_from(["", "+86", "0086", "86", "0", "17951", "12593", "+", "00", "00852"])


@settings(max_examples=1500, deadline=None)
@given(prefix=prefixes, body=st.text(caller_chars, max_size=20), any_text=st.text(max_size=8))
def test_native_matches_reference(both_default, prefix, body, any_text):
    a, b = both_default
    for s in (prefix + body, body, any_text, prefix + "1" + body):
        assert a.classify_raw(s) == b.classify_raw(s)
        ca, cb = a.classify(s), b.classify(s)
        assert (ca.kind, ca.number, ca.area_code, ca.province, ca.city, ca.carrier) == (
            cb.kind,
            cb.number,
            cb.area_code,
            cb.province,
            cb.city,
            cb.carrier,
        )


@settings(max_examples=300, deadline=None)
@given(seg=st.integers(1300000, 1999999), rest=st.integers(0, 9999))
def test_random_mobiles_agree(both_default, seg, rest):
    a, b = both_default
    n = f"{seg}{rest:04d}"
    assert a.classify_raw(n) == b.classify_raw(n)


def test_batch_equals_one_by_one(backend):
    numbers = [k[0] for k in KNOWN] + INVALID[:-1]
    out = backend.classify_batch(np.array(numbers))
    assert out.kind.dtype == np.uint8 and out.area_code.dtype == np.uint16
    cl = backend.default_classifier()
    for i, n in enumerate(numbers):
        kind, _, region, _ = cl.classify_raw(n)
        assert (out.kind[i], out.region[i]) == (kind, region), n
        area = cl.classify(n).area_code
        assert out.area_code[i] == (int(area) if area else 0)
    assert routecore.KIND_CODES[out.kind[0]] == "mobile"


def test_batch_accepts_bytes_ints_and_lists(backend):
    a = backend.classify_batch(np.array([b"13800138000", b"4008001234"]))
    b = backend.classify_batch(np.array([13800138000, 4008001234], dtype=np.int64))
    c = backend.classify_batch(["13800138000", "4008001234"])
    for r in (a, b, c):
        assert r.kind.tolist() == [1, 3] and r.area_code.tolist() == [10, 0]
    assert backend.classify_batch([]).kind.shape == (0,)


def test_user_csv_over_and_instead_of_the_data(backend, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "segment,area_code,province,city\n1380013,0755,广东,深圳\n1999999,0571,浙江,杭州\n",
        encoding="utf-8",
    )
    over = backend.Classifier(backend.load_segments([csv]))
    c = over.classify("13800138000")
    assert (c.area_code, c.city, c.carrier) == ("0755", "深圳", "China Mobile")
    assert over.classify("18920001234").area_code == "022"  # the rest of phone.dat stays
    only = backend.Classifier(backend.load_segments([csv], base=False))
    assert only.classify("19999990000").city == "杭州"
    assert only.classify("18920001234").area_code is None
    assert len(only.segments) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1380013,0755,广东\n", "mine.csv:1: expected 4 fields"),
        (
            "segment,area_code,province,city\n138001,0755,广东,深圳\n",
            "mine.csv:2: segment '138001'",
        ),
        ("1380013,755,广东,深圳\n", "mine.csv:1: area code '755' is not 0 followed by 2-3 digits"),
        ("1380013,0755,,深圳\n", "mine.csv:1: province and city must not be empty"),
    ],
)
def test_bad_csv_names_file_and_line(backend, tmp_path, text, message):
    csv = tmp_path / "mine.csv"
    csv.write_text(text, encoding="utf-8")
    with pytest.raises(SegmentDataError, match=message):
        backend.load_segments([csv], base=False)


def test_bad_rows_given_directly(backend):
    with pytest.raises(SegmentDataError, match="row 2: bad area code '755'"):
        backend.SegmentTable.build(
            None, [(1380013, "010", "北京", "北京"), (1380014, "755", "a", "b")]
        )
    with pytest.raises(SegmentDataError, match="row 1: segment 238001"):
        backend.SegmentTable.build(None, [(2380013, "010", "北京", "北京")])


def test_bad_phone_dat(backend, tmp_path):
    bad = tmp_path / "phone.dat"
    bad.write_bytes(b"2312\xff\xff\x00\x00")
    with pytest.raises(SegmentDataError, match=r"phone\.dat"):
        backend.load_segments(phone_dat=bad)
    with pytest.raises(SegmentDataError, match="cannot read"):
        backend.load_segments(phone_dat=tmp_path / "missing.dat")


def test_bad_segment_buffers(backend, both_default):
    good = both_default[0].segments.to_bytes()
    for cut in (0, 1, 15, 16, 40, 64, 100, 3000, len(good) // 2, len(good) - 8):
        with pytest.raises(LayoutError):
            backend.SegmentTable.from_buffer(good[:cut])
    with pytest.raises(LayoutError, match="not a RCSG table"):
        backend.SegmentTable.from_buffer(b"RCTR" + good[4:])
    t = backend.SegmentTable.from_buffer(memoryview(good))
    assert t.lookup(1380013) == ("010", "北京", "北京")


def test_default_table_is_cached_and_a_bad_cache_is_rebuilt(backend, tmp_path, monkeypatch):
    from routecore.backend.defaults import Defaults

    monkeypatch.setenv("ROUTECORE_CACHE_DIR", str(tmp_path))
    first = Defaults(backend.SegmentTable, backend.Classifier).cached_default_segments()
    (cached,) = tmp_path.iterdir()
    assert cached.read_bytes() == first.to_bytes()
    again = Defaults(backend.SegmentTable, backend.Classifier).cached_default_segments()
    assert again.to_bytes() == first.to_bytes()
    bad = bytearray(cached.read_bytes())
    bad[5000] ^= 0xFF  # a flipped byte in the body: the CRC check refuses it
    cached.write_bytes(bytes(bad))
    rebuilt = Defaults(backend.SegmentTable, backend.Classifier).cached_default_segments()
    assert rebuilt.to_bytes() == first.to_bytes() == cached.read_bytes()
    monkeypatch.setenv("ROUTECORE_CACHE_DIR", "off")
    cached.unlink()
    Defaults(backend.SegmentTable, backend.Classifier).cached_default_segments()
    assert not any(tmp_path.iterdir())


region_rows = st.lists(
    st.tuples(
        st.integers(1000000, 1999999),
        st.sampled_from(["010", "021", "0755", "00479", "0571", "0898"]),
        st.sampled_from(["北京", "上海", "广东", "内蒙古"]),
        st.sampled_from(["北京", "深圳", "锡林郭勒", "海口", "三亚"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(rows=region_rows, queries=st.lists(st.text("0123456789+ ", max_size=16), max_size=10))
def test_random_user_tables_agree(rows, queries):
    a = native.SegmentTable.build(None, rows)
    b = ref.SegmentTable.build(None, rows)
    assert a.to_bytes() == b.to_bytes()
    assert a.regions() == b.regions()
    ca, cb = native.Classifier(a), ref.Classifier(b)
    for seg, area, _, _ in rows:
        assert a.lookup(seg) == b.lookup(seg) is not None
        n = f"{seg}0000"
        assert ca.classify_raw(n) == cb.classify_raw(n)
        assert ca.classify_raw(area + "2345678") == cb.classify_raw(area + "2345678")
    for q in queries:
        assert ca.classify_raw(q) == cb.classify_raw(q)
