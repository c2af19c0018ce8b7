"""An image in shards (issue 26): it holds every section the one-file image holds, a publish
rewrites the shard of the number it changes and nothing else, built incrementally it is the set
built from scratch, a routing process maps it lazily and keeps the shards it shares with the set
before, and a publisher killed at any step leaves a store and a set that agree (or ``sync``
makes them agree)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routecore
from routecore.flow import loads_flow
from routecore.flow.compile import COMPILER, compile_text, compile_texts, image_of
from routecore.state.image_set import ImageSet, folder_of
from routecore.state.live import LiveImage
from routecore.store import FlowStore
from routecore.store.flows import Sections
from routecore.store.publish import PUBLISH_STEPS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBERS = tuple(p.stem for p in sorted(EXAMPLES.glob("*.yaml")))
TEXTS = {did: (EXAMPLES / f"{did}.yaml").read_text(encoding="utf-8") for did in NUMBERS}
SHARDS = 4
CRASHED = 77


def validate(content, source):
    return loads_flow(content, source=source)[0]


def open_store(location: str, compiled: list[str] | None = None) -> FlowStore:
    def compile(did: str, text: str) -> dict[str, bytes]:
        if compiled is not None:
            compiled.append(did)
        return compile_text(did, text)

    return FlowStore(location, validate=validate, sections=Sections(COMPILER, compile, image_of),
                     shards=SHARDS)  # fmt: skip


def variant(did: str, n: int) -> str:
    """Version ``n`` of the example: another ring timeout where it has one of 30 s (4006001001
    does), else the same flow with a comment (the same sections)."""
    return TEXTS[did].replace("ring_timeout: 30", f"ring_timeout: {30 + n}") + f"# {n}\n"


def approved(store: FlowStore, did: str, n: int) -> int:
    v = store.draft(did, variant(did, n), "ann")
    store.submit(did, v.version, "ann")
    store.approve(did, v.version, "bob")
    return v.version


def the_set(path: str) -> ImageSet:
    index = routecore.Image.open(path)
    return ImageSet(index, folder_of(path), routecore.Image)


def assert_holds_the_live_flows(path: str, store: FlowStore) -> None:
    """The set at ``path`` holds exactly the sections of the live flows compiled from scratch."""
    single = routecore.Image.from_buffer(
        compile_texts({did: store.get(did, v).content for did, v in store.live().items()})
    )
    images = the_set(path)
    images.verify()
    assert images.names() == sorted(single.names())
    for name in single.names():
        assert images.section(name) == single.section(name), name


def test_a_set_holds_every_section_and_a_publish_rewrites_one_shard(tmp_path, located):
    compiled: list[str] = []
    store = open_store(located("flows.db"), compiled)
    path = str(tmp_path / "routes.img")
    items = [(did, approved(store, did, 0)) for did in NUMBERS]
    store.publish_many(items, "carol", image_path=path, compile=compile_texts)
    assert_holds_the_live_flows(path, store)
    before = set(os.listdir(folder_of(path)))
    compiled.clear()
    store.publish(NUMBERS[0], approved(store, NUMBERS[0], 1), "carol", image_path=path,
                  compile=compile_texts)  # fmt: skip
    assert compiled == [NUMBERS[0]]  # its own flow only
    new = set(os.listdir(folder_of(path))) - before
    assert len(new) == 1  # its shard, nothing else
    assert_holds_the_live_flows(path, store)
    # built from scratch (a fresh store, the same live versions): the same index, byte for byte
    other = open_store(str(tmp_path / "other.db"))
    again = [(did, approved(other, did, 0 if did != NUMBERS[0] else 1)) for did in NUMBERS]
    other.publish_many(again, "carol", image_path=str(tmp_path / "other.img"),
                       compile=compile_texts)  # fmt: skip
    assert (tmp_path / "other.img").read_bytes() == Path(path).read_bytes()
    store.close()
    other.close()


def test_a_routing_process_maps_the_set_lazily_and_keeps_what_it_shares(tmp_path):
    store = open_store(str(tmp_path / "flows.db"))
    path = str(tmp_path / "routes.img")
    store.publish_many([(d, approved(store, d, 0)) for d in NUMBERS], "carol", image_path=path,
                       compile=compile_texts)  # fmt: skip
    state = routecore.State.create(tmp_path / "state", destinations=64, memory=16, numbers=16)
    live = LiveImage(path, state)
    first = live.current()
    assert isinstance(first, ImageSet) and first._opened == {}  # nothing mapped yet
    group = first.group(f"{NUMBERS[0]}/group/head_office")
    assert group.ring_timeout == 30 and len(first._opened) == 1  # its number's shard only
    store.publish(NUMBERS[0], approved(store, NUMBERS[0], 1), "carol", image_path=path,
                  compile=compile_texts, on_published=state.bump_generation)  # fmt: skip
    second = live.current()
    assert second is not first
    # a call still on the first set keeps its shard; the new set maps the new one
    assert first.group(f"{NUMBERS[0]}/group/head_office").ring_timeout == 30
    assert second.group(f"{NUMBERS[0]}/group/head_office").ring_timeout == 31
    state.close()
    store.close()


OPS = st.lists(st.tuples(st.sampled_from(NUMBERS), st.integers(0, 9)), min_size=1, max_size=6)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_a_set_built_incrementally_holds_what_one_built_from_scratch_holds(ops):
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"{tmp}/flows.db")
        path = f"{tmp}/routes.img"
        for did, n in ops:
            store.publish(did, approved(store, did, n), "carol", image_path=path,
                          compile=compile_texts)  # fmt: skip
            assert_holds_the_live_flows(path, store)
        store.close()


PUBLISHER = """
import os, sys
import routecore.store.publish as publish
from routecore.flow import loads_flow
from routecore.flow.compile import COMPILER, compile_text, compile_texts, image_of
from routecore.store import FlowStore
from routecore.store.flows import Sections

store_path, image_path, did, version, crash_at = sys.argv[1:]

def die(step):
    if step == crash_at:
        os._exit(77)

publish.step_hook = die
def compile(did, text):
    sections = compile_text(did, text)
    die("compile")
    return sections

store = FlowStore(store_path, validate=lambda c, s: loads_flow(c, source=s)[0],
                  sections=Sections(COMPILER, compile, image_of), shards=4)
store.publish(did, int(version), "carol", image_path=image_path, compile=compile_texts)
"""


@pytest.mark.parametrize("crash_at", ["compile", *PUBLISH_STEPS])
def test_a_publisher_killed_at_any_step_leaves_a_set_that_sync_makes_agree(tmp_path, crash_at):
    store_path, path = str(tmp_path / "flows.db"), str(tmp_path / "routes.img")
    store = open_store(store_path)
    store.publish_many([(d, approved(store, d, 0)) for d in NUMBERS], "carol", image_path=path,
                       compile=compile_texts)  # fmt: skip
    version = approved(store, NUMBERS[1], 1)
    store.close()
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, store_path, path, NUMBERS[1], str(version), crash_at],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == CRASHED, done.stderr
    store = open_store(store_path)
    assert store.live()[NUMBERS[1]] in (version - 1, version)
    the_set(path).verify()  # whatever the step, the set at the path is whole
    store.sync_image(path, compile=compile_texts)
    assert_holds_the_live_flows(path, store)
    assert store.sync_image(path, compile=compile_texts) is False  # they agree now
    store.close()


def test_both_backends_read_a_set_alike(tmp_path):
    """The index and the shards are images of the one format: the pure-Python backend reads
    every section of a set the native one wrote, byte for byte."""
    import routecore.py

    store = open_store(str(tmp_path / "flows.db"))
    path = str(tmp_path / "routes.img")
    store.publish_many([(d, approved(store, d, 0)) for d in NUMBERS], "carol", image_path=path,
                       compile=compile_texts)  # fmt: skip
    native = the_set(path)
    python = ImageSet(routecore.py.Image.open(path), folder_of(path), routecore.py.Image)
    python.verify()
    assert python.names() == native.names()
    for name in native.names():
        assert bytes(python.section(name)) == native.section(name), name
    assert python.group(f"{NUMBERS[0]}/group/head_office").ring_timeout == 30
    store.close()


def test_a_shared_destination_keeps_the_largest_capacity_any_live_flow_gives(tmp_path):
    """Two numbers list one agent (capacity 2 in one, 1 in the other): publishing the second
    in a set still gives the agent 2, as the one-file image's full read does."""
    from routecore.engine.dialer import write_capacities
    from routecore.state.image_set import open_image

    text = TEXTS["4006001005"]
    store = open_store(str(tmp_path / "flows.db"))
    path = str(tmp_path / "routes.img")
    for did, flow in (("4006001005", text),
                      ("4006001099", text.replace("4006001005", "4006001099")
                       .replace("agent_id: 803, capacity: 2", "agent_id: 803"))):  # fmt: skip
        v = store.draft(did, flow, "ann")
        store.submit(did, v.version, "ann")
        store.approve(did, v.version, "bob")
        store.publish(did, v.version, "carol", image_path=path, compile=compile_texts)
    state = routecore.State.create(tmp_path / "state", destinations=64, memory=16, numbers=16)
    state.add_destination("13800138803", capacity=1)
    write_capacities(state, open_image(path, routecore.Image), ["4006001099"], store.capacities)
    [agent] = [d for d in state.destinations_now() if d.number == "13800138803"]
    assert agent.capacity == 2  # not the 1 of the number published last
    assert store.capacities(["13800138803", "13800138801"]) == {
        "13800138803": 2, "13800138801": 1,
    }  # fmt: skip
    state.close()
    store.close()
