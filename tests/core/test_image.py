"""The routing image: named tables in one mapped file."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import random

import pytest

import routecore
import routecore.backend.native as native
import routecore.py as ref
from routecore.errors import LayoutError
from routecore.state.live import LiveImage


def tables(backend):
    return {
        "areas": backend.Trie.build({"010": 1, "0755": 2}).to_bytes(),
        "blacklist": backend.Trie.build({"170": 0}, exact={"13800138000": 1}).to_bytes(),
    }


def test_build_open_and_read_in_place(backend, tmp_path):
    img = backend.build_image(tables(backend))
    path = tmp_path / "routes.img"
    path.write_bytes(img)
    image = backend.Image.open(path)
    assert image.names() == ["areas", "blacklist"] and len(image) == 2
    assert "areas" in image and "nope" not in image
    assert image.kind("areas") == "RCTR"
    assert image.trie("areas").lookup("075512345678") == 2
    assert image.trie("blacklist").lookup("13800138000") == 1
    image.verify()
    assert image.content_hash == int.from_bytes(img[12:16], "little")
    with pytest.raises(KeyError):
        image.section("nope")
    with pytest.raises(LayoutError, match="no section named 'nope'"):
        image.trie("nope")
    with pytest.raises(LayoutError, match="not a RCSG table"):
        image.segments("areas")


def test_segments_section_reads_from_the_image(backend):
    seg = backend.SegmentTable.build(None, [(1380013, "010", "北京", "北京")])
    image = backend.Image.from_buffer(backend.build_image([("segments", seg.to_bytes())]))
    c = backend.Classifier(image.segments("segments")).classify("13800138000")
    assert (c.kind, c.area_code) == ("mobile", "010")


def test_both_backends_write_the_same_image():
    assert native.build_image(tables(native)) == ref.build_image(tables(ref))
    img = native.build_image(tables(native))
    assert ref.Image.from_buffer(img).trie("areas").lookup("010") == 1


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ([("a", b"RCTR")], "section 'a' is not a routecore table"),
        ([("", None)], "section name '' must be 1 to 255 bytes"),
        ([("a", None), ("a", None)], "section 'a' is given twice"),
    ],
)
def test_bad_sections(backend, sections, message):
    good = backend.Trie.build({"1": 1}).to_bytes()
    with pytest.raises(LayoutError, match=message):
        backend.build_image([(n, good if d is None else d) for n, d in sections])


def test_bad_images(backend, tmp_path):
    img = backend.build_image(tables(backend))
    for cut in range(0, len(img), 7):
        with pytest.raises(LayoutError):
            backend.Image.from_buffer(img[:cut])
    with pytest.raises(LayoutError, match="not a RCIM table"):
        backend.Image.from_buffer(b"RCTR" + img[4:])
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(LayoutError, match="empty file"):
        backend.Image.open(empty)
    rnd = random.Random(5)
    for _ in range(300):
        bad = bytearray(img)
        for _ in range(2):
            bad[rnd.randrange(16, len(bad))] = rnd.randrange(256)
        try:
            image = backend.Image.from_buffer(bytes(bad))
            for name in ("areas", "blacklist", "x"):
                if name in image:
                    image.trie(name).lookup("075512345678")
        except (LayoutError, KeyError):
            pass  # refused with a clear error; never a crash
        if bad != img:
            with pytest.raises(LayoutError):
                backend.Image.from_buffer(bytes(bad)).verify()


def test_many_sections_are_found_by_name(backend):
    """5,000 sections: found by binary search of the directory (timing lives in bench/)."""
    small = backend.build_image(tables(backend))
    one = backend.Trie.build({"1": 1}).to_bytes()
    big = backend.build_image([(f"n{i:05d}", one) for i in range(5000)])
    image = backend.Image.from_buffer(big)
    assert len(image) == 5000 and image.trie("n04321").lookup("1") == 1
    assert backend.Image.from_buffer(small) is not None


def test_time_plan_section(backend):
    plan = backend.TimePlan.build(
        {"office": ["mon-fri 09:00-18:00"]}, default="mobile", calendar=[]
    )
    image = backend.Image.from_buffer(backend.build_image({"hours": plan.to_bytes()}))
    assert image.time_plan("hours").slot_at(1_764_032_400) == "office"  # Tue 2025-11-25 09:00 CST
    with pytest.raises(LayoutError, match="not a RCTP table"):
        backend.Image.from_buffer(
            backend.build_image({"t": backend.Trie.build({"1": 1}).to_bytes()})
        ).time_plan("t")


def test_group_section(backend):
    group = backend.Group.build(["13800138000", "075512345678"], mode="round_robin")
    image = backend.Image.from_buffer(backend.build_image({"sales": group.to_bytes()}))
    g = image.group("sales")
    assert g.numbers == ["13800138000", "075512345678"]
    assert [a.targets for a in g.attempts(cursor=0)] == [(1,), (0,)]


def test_blob_sections(backend):
    payload = b'{"greeting": "welcome.wav"}'
    table = backend.blob_table(payload)
    other = routecore.py.blob_table(payload) if backend is routecore.backend.native else table
    assert table == other  # the same bytes from both backends
    image = backend.Image.from_buffer(backend.build_image({"4008001234/flow": table}))
    assert image.blob("4008001234/flow") == payload
    assert image.kind("4008001234/flow") == "RCBL"
    with pytest.raises(LayoutError, match="not a RCTR table"):
        image.trie("4008001234/flow")


# -- LiveImage: a bad image published is refused, the last good one kept ----------------------


def _image(backend, value, pad=0):
    """An image whose "areas" trie maps 010 to ``value``, after ``pad`` bytes of another
    section (sections are laid out in name order)."""
    areas = backend.Trie.build({"010": value}).to_bytes()
    return backend.build_image({"aaa": backend.blob_table(bytes(pad)), "areas": areas})


def _publish(path, data):
    """As the store publishes: a new file, renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _errors(caplog):
    return [
        r for r in caplog.records if r.name == "routecore.state.live" and r.levelno >= logging.ERROR
    ]


def test_live_image_keeps_the_last_good_image_when_a_bad_one_lands(backend, tmp_path, caplog):
    path = tmp_path / "routes.img"
    state = backend.State.create(tmp_path / "state", destinations=4, memory=4, numbers=1)
    _publish(path, _image(backend, 1))
    live = LiveImage(path, state, backend.Image)
    assert live.current().trie("areas").lookup("010") == 1
    good = _image(backend, 2)
    flipped = bytearray(good)
    flipped[-9] ^= 0xFF  # a body byte: the header reads fine, the checksum does not
    caplog.set_level(logging.ERROR, logger="routecore.state.live")
    for bad in (good[: len(good) // 2], bytes(flipped), b"", b"not an image at all"):
        caplog.clear()
        _publish(path, bad)
        state.bump_generation()
        for _ in range(50):  # every call routes with the last good image
            assert live.current().trie("areas").lookup("010") == 1
        (error,) = _errors(caplog)  # one error per bad file, not one per call
        assert str(path) in error.getMessage() and "keeps serving" in error.getMessage()
    caplog.clear()
    _publish(path, good)
    state.bump_generation()
    assert live.current().trie("areas").lookup("010") == 2  # a good image is picked up
    assert live.generation == state.generation and _errors(caplog) == []


def test_live_image_recovers_when_a_good_image_lands_without_a_new_generation(
    backend, tmp_path, caplog
):
    path = tmp_path / "routes.img"
    state = backend.State.create(tmp_path / "state", destinations=4, memory=4, numbers=1)
    _publish(path, _image(backend, 1))
    live = LiveImage(path, state, backend.Image, check_every=0)
    assert live.current().trie("areas").lookup("010") == 1
    caplog.set_level(logging.ERROR, logger="routecore.state.live")
    _publish(path, b"RCIM" + bytes(60))
    state.bump_generation()
    assert live.current().trie("areas").lookup("010") == 1
    assert len(_errors(caplog)) == 1
    _publish(path, _image(backend, 3))  # fixed by hand, the generation left as it is
    assert live.current().trie("areas").lookup("010") == 3
    assert len(_errors(caplog)) == 1


def test_live_image_without_any_good_image_raises(backend, tmp_path):
    path = tmp_path / "routes.img"
    state = backend.State.create(tmp_path / "state", destinations=4, memory=4, numbers=1)
    path.write_bytes(b"garbage")
    live = LiveImage(path, state, backend.Image)
    with pytest.raises(LayoutError):
        live.current()
    _publish(path, _image(backend, 4))
    state.bump_generation()
    assert live.current().trie("areas").lookup("010") == 4


def _route_after_in_place_copy(name, folder, out):
    backend = native if name == "native" else ref
    path = folder / "routes.img"
    state = backend.State.open(folder / "state")
    live = LiveImage(path, state, backend.Image, check_every=0)
    areas = live.current().trie("areas")  # a router keeps the tables of the image it was given
    with open(path, "r+b") as f:  # what `cp new.img routes.img` does first: truncate in place
        f.truncate(40)
    try:
        live.current()
    except LayoutError as e:
        out.put(("refused", str(e)))
        return
    out.put(("routed", areas.lookup("010")))  # past the file's end now: SIGBUS


def test_live_image_refuses_an_image_rewritten_in_place_instead_of_dying(backend, tmp_path):
    _publish(tmp_path / "routes.img", _image(backend, 1, pad=1 << 16))  # areas past page 0
    backend.State.create(tmp_path / "state", destinations=4, memory=4, numbers=1).close()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    p = ctx.Process(target=_route_after_in_place_copy, args=(backend.NAME, tmp_path, out))
    p.start()
    p.join(30)
    assert p.exitcode == 0, f"the router died (exit code {p.exitcode}; -7 is SIGBUS)"
    what, message = out.get(timeout=1)
    assert what == "refused" and "rewritten in place" in message, message


def test_identical_tables_are_stored_once_alike_in_both_backends():
    """Numbers of one template share their time plans: a table given under many names is
    written once (every name reads it), and both backends write the same bytes."""
    native, ref = routecore.backend.native, routecore.py
    plan = native.TimePlan.build(
        {"day": ["mon-fri 09:00-18:00"]}, tz="Asia/Shanghai", default="night"
    ).to_bytes()
    other = native.Trie.build({"010": 1}).to_bytes()
    many = [(f"40000000{i:02d}/time/hours", plan) for i in range(20)] + [("trie", other)]
    built = native.build_image(many)
    assert built == ref.build_image(many)
    assert len(built) < len(plan) * 2 + 2000  # not twenty copies
    for backend in (native, ref):
        image = backend.Image.from_buffer(built)
        image.verify()
        assert all("day" in image.time_plan(name).slot_names for name, _ in many[:-1])
