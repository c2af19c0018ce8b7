"""The flow compiler: each example validates, compiles and round-trips (flow -> image ->
tables give the expected routes); compiling is what the store publishes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import routecore
from routecore.engine import flow_blob
from routecore.flow import load_flow
from routecore.flow.compile import OTHERWISE, compile_flows, compile_texts, describe

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def image():
    flows = [load_flow(p) for p in EXAMPLES]
    return routecore.Image.from_buffer(compile_flows(flows))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_compiles_and_its_flow_round_trips(image, path):
    flow = load_flow(path)
    stored = flow_blob.decode(image.blob(f"{flow.number}/flow"))
    assert stored == json.loads(flow.model_dump_json())
    for name, group in flow.groups.items():
        g = image.group(f"{flow.number}/group/{name}")
        assert g.numbers == [flow.destinations[m].number for m in group.members]
        assert (g.mode, g.idle_first, g.ring_timeout) == (
            group.mode,
            group.idle_first,
            group.ring_timeout,
        )


def test_area_routes_branch_by_caller_area(image):
    did = "4006001001"
    flow = flow_blob.decode(image.blob(f"{did}/flow"))
    areas = list(flow["routes"]["branches"]["areas"].items())
    trie = image.trie(f"{did}/area/branches")

    def target(number):
        caller = routecore.classify(number)
        hit = trie.lookup(caller.area_code or "")
        return areas[hit][1] if hit is not None else flow["routes"]["branches"]["default"]

    assert target("01065529988") == "beijing"
    assert target("13800138000") == "beijing"  # a Beijing mobile, by its segment
    assert target("075588886666") == "shenzhen"
    assert target("02161234567") == "shanghai"
    assert target("02087654321") == "head_office"


def test_time_routes_follow_office_hours_and_holidays(image):
    plan = image.time_plan("4006001002/time/hours")

    def slot(*when):
        return plan.slot_at(datetime(*when, tzinfo=SH))

    assert slot(2026, 11, 23, 10, 0) == "office"  # a Monday
    assert slot(2026, 11, 23, 19, 0) == OTHERWISE  # the evening
    assert slot(2026, 11, 28, 10, 0) == OTHERWISE  # a Saturday
    assert slot(2026, 10, 1, 10, 0) == OTHERWISE  # National Day
    assert slot(2026, 10, 10, 10, 0) == "office"  # a make-up working day
    assert slot(2026, 12, 31, 16, 0) == OTHERWISE  # closes at 15:00 on New Year's Eve


def test_blacklist_and_extensions_are_tries(image):
    flows = {
        flow_blob.decode(image.blob(n))["number"]: n for n in image.names() if n.endswith("/flow")
    }
    for did in flows:
        flow = flow_blob.decode(image.blob(f"{did}/flow"))
        bl = flow["blacklist"]
        if bl["numbers"] or bl["prefixes"]:
            trie = image.trie(f"{did}/blacklist")
            for n in bl["numbers"]:
                assert trie.lookup(n) == 1
            for p in bl["prefixes"]:
                assert trie.lookup(p + "12345678") == 1
        if flow.get("extensions"):
            exts = list(flow["extensions"]["numbers"])
            trie = image.trie(f"{did}/ext")
            assert [trie.get(e) for e in exts] == list(range(len(exts)))


def test_describe_reads_a_number_back(image):
    d = describe(image, "4006001001")
    assert d["start"] == "branches"
    assert d["groups"]["beijing"]["numbers"] == ["13800138000", "01065528888"]
    assert "4006001001/area/branches" in d["sections"]


def test_compile_texts_validates_again():
    text = EXAMPLES[0].read_text(encoding="utf-8")
    image = routecore.Image.from_buffer(compile_texts({"4006001001": text}))
    assert image.names()[0].startswith("4006001001/")
    with pytest.raises(routecore.FlowError):
        compile_texts({"4006001001": text.replace("start: branches", "start: nowhere")})


def test_the_flow_is_kept_compressed_and_an_older_plain_image_still_routes():
    """The flow's JSON is compressed in the image (the largest part of a number's sections);
    an image compiled before, with the plain JSON, gives the same plan."""
    import routecore
    from routecore.engine.plan import build_plan

    flow = load_flow(Path(__file__).resolve().parents[2] / "examples" / "4006001003.yaml")
    image = routecore.Image.from_buffer(compile_flows([flow]))
    text = flow.model_dump_json().encode()
    assert len(image.section(f"{flow.number}/flow")) < len(text) / 2
    plain = {n: image.section(n) for n in image.names()}
    plain[f"{flow.number}/flow"] = routecore.blob_table(text)
    older = routecore.Image.from_buffer(routecore.build_image(plain))
    assert flow_blob.decode(older.blob(f"{flow.number}/flow")) == json.loads(text)
    old, new = build_plan(older, flow.number), build_plan(image, flow.number)
    assert (old.start, sorted(old.nodes), old.flow) == (new.start, sorted(new.nodes), new.flow)
