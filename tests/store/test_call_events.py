"""The calls' stream (V5's screen pop across hosts): an adapter whose state is on Redis
publishes what its call store took, and a reader on another host rebuilds every host's calls in
progress from it, with a real ``redis-server`` started by the tests."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

redis = pytest.importorskip("redis", reason="redis-py is not installed")

from routecore.adapter.config import AdapterConfig  # noqa: E402
from routecore.adapter.dialstrings import DialTemplates  # noqa: E402
from routecore.adapter.runtime import Runtime  # noqa: E402
from routecore.engine import CallRecord  # noqa: E402
from routecore.flow import load_flow  # noqa: E402
from routecore.flow.compile import compile_flows  # noqa: E402
from routecore.store import call_events  # noqa: E402
from routecore.store.call_events import CallEventReader, CallEvents, stream_key  # noqa: E402
from routecore.store.journal import OpenCall  # noqa: E402
from tests.redis_server import key_prefix  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def prefix() -> str:
    return key_prefix()


def row(call_id: str, claimed: tuple[str, ...], answered_by: str | None = None) -> OpenCall:
    record = CallRecord(call_id, "4006001003", "13900000042", start=time.time())
    return OpenCall(
        call_id, call_id, "agi", "host-1", 1234, None, record, claimed, answered_by,
        time.time() if answered_by else None, time.time(),
    )  # fmt: skip


def test_an_adapter_on_redis_publishes_what_its_call_store_took(server, prefix, tmp_path):
    image = tmp_path / "routes.img"
    image.write_bytes(compile_flows([load_flow(EXAMPLES / "4006001003.yaml")]))
    config = AdapterConfig(
        dial=DialTemplates({"default": "Local/{number}@destinations"}),
        image=str(image),
        state=f"{server.url}?prefix={prefix}",
        calls=str(tmp_path / "calls.db"),
        prompts=str(tmp_path),
        recordings=str(tmp_path),
    )
    runtime = Runtime(config)
    other_host = CallEventReader(redis.Redis.from_url(server.url), prefix)
    try:
        assert other_host.open_calls() == []
        runtime.journal(row("c1", ("13800138001", "13800138002")))
        [seen] = other_host.open_calls()
        assert (seen.call_id, seen.claimed, seen.record.caller) == (
            "c1", ("13800138001", "13800138002"), "13900000042",
        )  # fmt: skip
        runtime.journal(row("c1", ("13800138001",), answered_by="13800138001"))
        [seen] = other_host.open_calls()
        assert seen.answered_by == "13800138001"
        late = CallEventReader(redis.Redis.from_url(server.url), prefix)
        assert [r.call_id for r in late.open_calls()] == ["c1"]  # began before it started
        runtime.add(CallRecord("c1", "4006001003", "13900000042", start=time.time()))
        assert other_host.open_calls() == [] and late.open_calls() == []
        assert runtime.calls.open_calls() == []  # and the call store as before
    finally:
        runtime.close()


def test_a_reader_forgets_dead_calls_and_skips_what_it_cannot_read(server, prefix, caplog):
    client = redis.Redis.from_url(server.url)
    events = CallEvents(lambda: client, prefix)
    old = row("dead", ("13800138001",))
    old = OpenCall(**{**vars(old), "updated": time.time() - call_events.STALE_SECONDS - 1})
    events.publish([old, row("alive", ("13800138002",))], [])
    client.xadd(stream_key(prefix), {"row": "{not json"})
    client.xadd(stream_key(prefix), {"row": json.dumps({"call_id": "x"})})
    with caplog.at_level(logging.WARNING, logger="routecore.store"):
        calls = CallEventReader(client, prefix).open_calls()
    assert [c.call_id for c in calls] == ["alive"]
    assert sum("unreadable entry" in r.getMessage() for r in caplog.records) == 2


def test_the_stream_stays_bounded(server, prefix, monkeypatch):
    client = redis.Redis.from_url(server.url)
    monkeypatch.setattr(call_events, "MAXLEN", 100)
    events = CallEvents(lambda: client, prefix)
    for i in range(30):
        events.publish([row(f"c{i}", ("13800138001",)) for _ in range(10)], [f"c{i}"])
    assert client.xlen(stream_key(prefix)) < 300


def test_redis_down_is_logged_once_and_then_rests(prefix, caplog):
    """A Redis that is down costs one failed attempt, then nothing for RETRY_AFTER seconds."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    tried = []

    def down():
        tried.append(1)
        return redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))

    events = CallEvents(down, prefix)
    with caplog.at_level(logging.WARNING, logger="routecore.store"):
        for i in range(5):
            events.publish([row(f"c{i}", ("13800138001",))], [])
    assert len(tried) == 1
    assert sum("not published" in r.getMessage() for r in caplog.records) == 1
