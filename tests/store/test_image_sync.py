"""Every host on the newest published image: a follower on another host gets what one host
publishes (PostgreSQL's notification, or polling), checks it, writes it atomically and bumps its
state; a store out of reach changes nothing; a damaged image is never written."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

import pytest

import routecore
from routecore.flow import loads_flow
from routecore.flow.compile import compile_texts
from routecore.state.live import LiveImage
from routecore.store import FlowStore
from routecore.store.image_sync import ImageFollower
from routecore.store.sql import FlowDB

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DID = "4006001001"
TEXT = (EXAMPLES / f"{DID}.yaml").read_text(encoding="utf-8")
GROUP = f"{DID}/group/head_office"


def validate(content, source):
    return loads_flow(content, source=source)[0]


def publish(store: FlowStore, image: Path, ring_timeout: int) -> None:
    text = TEXT.replace("ring_timeout: 30", f"ring_timeout: {ring_timeout}")
    v = store.draft(DID, text, "ann")
    store.submit(DID, v.version, "ann")
    store.approve(DID, v.version, "bob")
    store.publish(DID, v.version, "carol", image_path=str(image), compile=compile_texts)


class Host:
    """A routing host's folder: its image, its state, a follower in a thread."""

    def __init__(self, folder: Path, location: str, poll: float = 1.0) -> None:
        folder.mkdir()
        self.image = folder / "routes.img"
        self.state = routecore.State.create(folder / "state", destinations=64, memory=16, numbers=4)
        self.follower = ImageFollower(
            location, str(self.image), on_new=lambda _: self.state.bump_generation(), poll=poll
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.follower.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Host:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.follower.close()
        self.state.close()

    def ring_timeout(self) -> int | None:
        if not self.image.exists():
            return None
        return int(routecore.Image.open(self.image).group(GROUP).ring_timeout)

    def wait_for(self, timeout: int, within: float) -> float:
        t0 = time.monotonic()
        while self.ring_timeout() != timeout:
            assert time.monotonic() - t0 < within, f"still {self.ring_timeout()} after {within} s"
            time.sleep(0.02)
        return time.monotonic() - t0


def test_a_publish_on_one_host_reaches_another_within_two_seconds(tmp_path, located):
    where = located("flows.db")
    store = FlowStore(where, validate=validate)
    # PostgreSQL notifies at the commit; SQLite is looked at every 0.5 s
    with Host(tmp_path / "h2", where, poll=0.5) as h2:
        live = None
        for timeout in (40, 45):
            publish(store, tmp_path / "h1.img", timeout)
            assert h2.wait_for(timeout, within=2.0) < 2.0
            assert h2.image.read_bytes() == (tmp_path / "h1.img").read_bytes()
            live = live or LiveImage(str(h2.image), h2.state)
            # the routing processes of the host map it at their next call after the bump
            deadline = time.monotonic() + 2.0
            while live.current().group(GROUP).ring_timeout != timeout:
                assert time.monotonic() < deadline, "the host's generation was never bumped"
                time.sleep(0.01)
        assert h2.follower.status()["reachable"] is True
        # the follower names the image it wrote just after writing it (and bumping the
        # generation, which the loop above may see first)
        written = hashlib.sha256(h2.image.read_bytes()).hexdigest()
        deadline = time.monotonic() + 2.0
        while h2.follower.sha256 != written:
            assert time.monotonic() < deadline, (h2.follower.sha256, written)
            time.sleep(0.01)
    store.close()


def test_a_host_cut_off_from_the_store_keeps_its_image_and_catches_up(
    tmp_path, pg_url, postgres_server, caplog
):
    store = FlowStore(pg_url, validate=validate)
    publish(store, tmp_path / "h1.img", 40)
    store.close()
    with Host(tmp_path / "h3", pg_url, poll=0.2) as h3:
        h3.wait_for(40, within=2.0)
        with caplog.at_level(logging.WARNING, logger="routecore.sync"):
            postgres_server.stop()
            deadline = time.monotonic() + 10
            while h3.follower.status()["reachable"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)  # a few more looks: logged once
            assert h3.ring_timeout() == 40  # routing goes on with what it has
            postgres_server.start()
            store = FlowStore(pg_url, validate=validate)
            publish(store, tmp_path / "h1.img", 45)  # published while h3 was away
            store.close()
            h3.wait_for(45, within=5.0)
        said = [r.getMessage() for r in caplog.records]
        assert sum("routing goes on" in m for m in said) == 1
        assert any("is back" in m for m in said)
        assert h3.follower.status()["failures"] >= 1


@pytest.mark.parametrize("damage", ["sha256", "not-an-image"])
def test_a_damaged_image_is_refused_and_never_written(tmp_path, pg_url, damage, caplog):
    store = FlowStore(pg_url, validate=validate)
    publish(store, tmp_path / "h1.img", 40)
    host = tmp_path / "h2"
    host.mkdir()
    follower = ImageFollower(pg_url, str(host / "routes.img"))
    assert follower.check() is True
    before = (host / "routes.img").read_bytes()
    bad = b"garbage" * 100
    sha = "0" * 64 if damage == "sha256" else hashlib.sha256(bad).hexdigest()
    data = before if damage == "sha256" else bad
    db = FlowDB(pg_url)  # what a careless operator would do
    with db.transaction():
        db._db.execute(
            "INSERT INTO images (sha256, size, data, at, publisher) VALUES (?, ?, ?, ?, ?)",
            (sha, len(data), data, time.time(), "mallory"),
        )
    db.close()
    with caplog.at_level(logging.ERROR, logger="routecore.sync"):
        assert follower.check() is False
        assert follower.check() is False  # looked at again: said once
    assert (host / "routes.img").read_bytes() == before
    assert sum("refused" in r.getMessage() for r in caplog.records) == 1
    publish(store, tmp_path / "h1.img", 45)  # a good one after it is taken
    assert follower.check() is True
    follower.close()
    store.close()


def test_a_host_follows_an_image_in_shards(tmp_path, pg_url):
    """A set published on one host: the follower fetches the shards it lacks (checked by their
    names), then the index; the host routes the new version."""
    from routecore.flow.compile import COMPILER, compile_text, image_of
    from routecore.state.image_set import ImageSet, folder_of
    from routecore.store.flows import Sections

    sections = Sections(COMPILER, compile_text, image_of)
    store = FlowStore(pg_url, validate=validate, sections=sections, shards=4)
    publish(store, tmp_path / "h1.img", 40)
    with Host(tmp_path / "h2", pg_url, poll=0.2) as h2:
        deadline = time.monotonic() + 5
        while not h2.image.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        publish(store, tmp_path / "h1.img", 45)
        live = LiveImage(str(h2.image), h2.state)
        deadline = time.monotonic() + 5
        while live.current().group(GROUP).ring_timeout != 45:
            assert time.monotonic() < deadline, "the host never routed the new set"
            time.sleep(0.02)
        assert isinstance(live.current(), ImageSet)
        assert sorted(p.name for p in Path(folder_of(str(h2.image))).iterdir()) == sorted(
            p.name for p in Path(folder_of(str(tmp_path / "h1.img"))).iterdir()
        )
    store.close()
