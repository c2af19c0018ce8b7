"""Publishing survives a crash at any step, and its temporary files cannot be hijacked.

The store is the truth and the image follows it: a publisher killed at any point (a fault
injected in a subprocess, at a named step, never a sleep) leaves a store and an image that
agree, or that ``FlowStore.sync_image`` (``routecore sync``) makes agree in one call. The image
writer creates its temporary file exclusively and never follows a symlink planted for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import routecore
from routecore.cli import EXIT_OK, main
from routecore.errors import StoreError
from routecore.flow import loads_flow
from routecore.flow.compile import compile_texts
from routecore.store import FlowStore, publish_image
from routecore.store.publish import PUBLISH_STEPS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DID = "4006001001"
TEXT = (EXAMPLES / f"{DID}.yaml").read_text(encoding="utf-8")
CRASHED = 77

# Runs one publish in a fresh process and kills it (os._exit) at the step named in argv: a
# step of routecore.store.publish.PUBLISH_STEPS (the publisher's own hook), or "compile" (in
# the compiler) or "os.replace" (just after the image's rename), which need no hook.
PUBLISHER = """
import os, sys
import routecore.store.publish as publish
from routecore.flow import loads_flow
from routecore.flow.compile import compile_texts
from routecore.store import FlowStore

store_path, image_path, did, version, crash_at = sys.argv[1:]
CRASHED = 77

def die(step):
    if step == crash_at:
        os._exit(CRASHED)

publish.step_hook = die
real_replace = os.replace
def replace(a, b):
    real_replace(a, b)
    die("os.replace")
os.replace = replace

def compile(contents):
    image = compile_texts(contents)
    die("compile")
    return image

store = FlowStore(store_path, validate=lambda c, s: loads_flow(c, source=s)[0])
store.publish(did, int(version), "carol", image_path=image_path, compile=compile)
"""


def validate(content, source):
    return loads_flow(content, source=source)[0]


def _approve(store, text):
    v = store.draft(DID, text, "ann")
    store.submit(DID, v.version, "ann")
    store.approve(DID, v.version, "bob")
    return v.version


def _live_image(store):
    """The image the store's live versions compile to."""
    return compile_texts({did: store.get(did, v).content for did, v in store.live().items()})


@pytest.mark.parametrize("crash_at", ["compile", *PUBLISH_STEPS, "os.replace"])
def test_a_publisher_killed_at_any_step_leaves_store_and_image_that_agree(
    tmp_path, located, crash_at
):
    store_path, image_path = located("flows.db"), str(tmp_path / "routes.img")
    store = FlowStore(store_path, validate=validate)
    _approve(store, TEXT)
    v2 = _approve(store, TEXT.replace("ring_timeout: 30", "ring_timeout: 45"))
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    store.close()
    before = Path(image_path).read_bytes()

    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, store_path, image_path, DID, str(v2), crash_at],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == CRASHED, done.stderr  # it died exactly there

    store = FlowStore(store_path, validate=validate)
    live = store.live()
    assert live in ({DID: 1}, {DID: 2})
    if live == {DID: 1}:  # killed before the commit: nothing changed at all
        assert Path(image_path).read_bytes() == before
    expected = _live_image(store)
    if Path(image_path).read_bytes() != expected:  # the commit went first: one call repairs
        assert store.sync_image(image_path, compile=compile_texts) is True
    assert Path(image_path).read_bytes() == expected
    assert store.sync_image(image_path, compile=compile_texts) is False  # they agree now
    image = routecore.Image.open(image_path)
    timeout = 45 if live == {DID: 2} else 30
    assert image.group(f"{DID}/group/head_office").ring_timeout == timeout
    # not stuck: the lock died with the publisher, the next publish goes through
    v3 = _approve(store, TEXT.replace("ring_timeout: 30", "ring_timeout: 50"))
    store.publish(DID, v3, "carol", image_path=image_path, compile=compile_texts)
    assert Path(image_path).read_bytes() == _live_image(store)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # orphans removed
    store.close()


def test_routecore_sync_rewrites_an_image_left_behind_and_bumps_the_generation(tmp_path, capsys):
    store_path, image_path = str(tmp_path / "flows.db"), str(tmp_path / "routes.img")
    state = routecore.State.create(tmp_path / "state", destinations=64, memory=16, numbers=4)
    store = FlowStore(store_path, validate=validate)
    _approve(store, TEXT)
    v2 = _approve(store, TEXT.replace("ring_timeout: 30", "ring_timeout: 45"))
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    store.close()
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, store_path, image_path, DID, str(v2), "committed"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == CRASHED
    argv = [
        "--store",
        store_path,
        "sync",
        "--image",
        image_path,
        "--state",
        str(tmp_path / "state"),
    ]
    assert main(argv) == EXIT_OK
    assert (
        capsys.readouterr().out.strip() == f"{image_path}: rewritten from the store's live versions"
    )
    assert state.generation == 1
    image = routecore.Image.open(image_path)
    assert image.group(f"{DID}/group/head_office").ring_timeout == 45
    assert main(argv) == EXIT_OK
    assert "agrees with the store" in capsys.readouterr().out


def test_the_image_writer_never_follows_a_symlink_planted_at_its_temporary_name(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    target = tmp_path / "routes.img"
    planted = tmp_path / f".routes.img.{os.getpid()}.tmp"  # the name it once predictably used
    planted.symlink_to(victim)
    dangling = tmp_path / f".other.img.{os.getpid()}.tmp"
    dangling.symlink_to(tmp_path / "created-through-link")
    data = routecore.build_image({"t": routecore.Trie.build({"1": 1}).to_bytes()})
    publish_image(target, data)
    publish_image(tmp_path / "other.img", data)
    assert victim.read_bytes() == b"secret"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    assert not (tmp_path / "created-through-link").exists()
    assert not target.is_symlink() and target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == sorted(
        [planted.name, dangling.name]
    )


def test_publishing_never_writes_through_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    image_path = str(tmp_path / "routes.img")
    (tmp_path / f".routes.img.{os.getpid()}.tmp").symlink_to(victim)
    store = FlowStore(str(tmp_path / "flows.db"), validate=validate)
    _approve(store, TEXT)
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    assert victim.read_bytes() == b"secret"
    assert Path(image_path).read_bytes() == _live_image(store)
    store.close()


def test_an_image_that_cannot_be_written_after_the_commit_is_a_clear_error_sync_repairs(
    tmp_path, monkeypatch
):
    image_path = str(tmp_path / "routes.img")
    store = FlowStore(str(tmp_path / "flows.db"), validate=validate)
    _approve(store, TEXT)
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    v2 = _approve(store, TEXT.replace("ring_timeout: 30", "ring_timeout: 45"))

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("routecore.store.flows.publish_image", disk_full)
    with pytest.raises(StoreError, match=r"v2 is live in the store, but the image .* could not"):
        store.publish(DID, v2, "carol", image_path=image_path, compile=compile_texts)
    monkeypatch.undo()
    assert store.live() == {DID: 2} and Path(image_path).read_bytes() != _live_image(store)
    assert store.sync_image(image_path, compile=compile_texts) is True
    assert Path(image_path).read_bytes() == _live_image(store)
    store.close()


def test_a_second_publisher_waits_for_the_image_lock_then_gives_a_clear_error(
    tmp_path, monkeypatch
):
    import routecore.store.publish as publish

    monkeypatch.setattr(publish, "LOCK_TIMEOUT", 0.2)
    image_path = str(tmp_path / "routes.img")
    store = FlowStore(str(tmp_path / "flows.db"), validate=validate)
    _approve(store, TEXT)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from routecore.store.publish import image_lock\n"
            "with image_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(60)",
            image_path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="another process is publishing this image"):
            store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
        assert store.live() == {} and store.get(DID, 1).state == "approved"
    finally:
        holder.kill()
        holder.wait()
    store.publish(DID, 1, "carol", image_path=image_path, compile=compile_texts)
    assert store.live() == {DID: 1}
    store.close()
