"""Publishing under load: processes route calls in a loop while versions are published and
rolled back. No routing call fails, and each call uses one complete image (old or new, never a
mix): the flow section and the group table it reads always come from the same version."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import routecore
from routecore.engine import flow_blob
from routecore.flow import loads_flow
from routecore.flow.compile import compile_texts
from routecore.state.live import LiveImage
from routecore.store import FlowStore

BRANCHES = Path(__file__).resolve().parents[2] / "examples" / "4006001001.yaml"
DID = "4006001001"
CALLERS = ["01065529988", "13800138000", "075588886666", "02161234567", "02087654321"]


def validate(content, source):
    return loads_flow(content, source=source)


def _router(image_path, state_path, seconds, out):
    live = LiveImage(image_path, routecore.State.open(state_path))
    calls = errors = mixes = 0
    seen = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            image = live.current()  # a new image was published: mapped at this call
            flow = flow_blob.decode(image.blob(f"{DID}/flow"))
            group = image.group(f"{DID}/group/head_office")
            expected = flow["groups"]["head_office"]["ring_timeout"]
            if group.ring_timeout != expected:
                mixes += 1
            seen.add(expected)
            caller = routecore.classify(CALLERS[calls % len(CALLERS)])
            image.trie(f"{DID}/area/branches").lookup(caller.area_code or "")
            group.attempts(seed=calls)
            calls += 1
        except Exception:  # any failure of a routing call counts
            errors += 1
    out.put((calls, errors, mixes, sorted(seen)))


def test_routing_never_fails_or_mixes_while_publishing(tmp_path):
    image_path, state_path = str(tmp_path / "routes.img"), str(tmp_path / "state")
    state = routecore.State.create(state_path, destinations=64, memory=16, numbers=4)
    store = FlowStore(str(tmp_path / "flows.db"), validate=validate)
    text = BRANCHES.read_text(encoding="utf-8")
    for version, timeout in ((1, 30), (2, 45)):
        store.draft(DID, text.replace("ring_timeout: 30", f"ring_timeout: {timeout}"), "ann")
        store.submit(DID, version, "ann")
        store.approve(DID, version, "bob")
    store.publish(
        DID,
        1,
        "carol",
        image_path=image_path,
        compile=compile_texts,
        on_published=state.bump_generation,
    )

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    routers = [
        ctx.Process(target=_router, args=(image_path, state_path, 4.0, out)) for _ in range(2)
    ]
    for p in routers:
        p.start()
    end = time.monotonic() + 3.5
    publishes = 0
    while time.monotonic() < end:  # v2 goes live, then the two alternate by rollback
        step = store.publish if publishes == 0 else store.rollback
        step(
            DID,
            2 if publishes % 2 == 0 else 1,
            "carol",
            image_path=image_path,
            compile=compile_texts,
            on_published=state.bump_generation,
        )
        publishes += 1
    results = [out.get(timeout=30) for _ in routers]
    for p in routers:
        p.join(timeout=30)
    store.close()
    assert publishes > 5
    for calls, errors, mixes, _ in results:
        assert calls > 100 and errors == 0 and mixes == 0
    assert {30, 45} <= set().union(*(set(r[3]) for r in results))


def _publish_and_die(store_path, image_path):
    store = FlowStore(store_path, validate=validate)

    def slow_compile(contents):
        image = compile_texts(contents)
        time.sleep(30)  # killed in here, after compiling, before the image is written
        return image

    store.publish(DID, 2, "carol", image_path=image_path, compile=slow_compile)


def test_a_publisher_killed_mid_publish_leaves_the_previous_version_live(tmp_path):
    import os
    import signal

    image_path, store_path = str(tmp_path / "routes.img"), str(tmp_path / "flows.db")
    store = FlowStore(store_path, validate=validate)
    text = BRANCHES.read_text(encoding="utf-8")
    for version, timeout in ((1, 30), (2, 45)):
        store.draft(DID, text.replace("ring_timeout: 30", f"ring_timeout: {timeout}"), "ann")
        store.submit(DID, version, "ann")
        store.approve(DID, version, "bob")
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    before = Path(image_path).read_bytes()
    child = mp.get_context("fork").Process(target=_publish_and_die, args=(store_path, image_path))
    child.start()
    time.sleep(1.5)
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)
    assert Path(image_path).read_bytes() == before
    assert FlowStore(store_path, validate=validate).live() == {DID: 1}
    store.publish(DID, 2, "carol", image_path=image_path, compile=compile_texts)  # not stuck
    assert store.live() == {DID: 2}
