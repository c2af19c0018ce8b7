"""Redis tried as a failing server and a careless operator would (issue 25): a real
``redis-server`` that refuses commands (an ACL without FCALL, MISCONF, OOM, a read-only replica
after a fail-over), a server that answers garbage, a library of another version under
routecore's name, a restart that lost the leases of calls in progress, dead hosts' leases.

A call never crashes on any of them: refused or malformed is unusable, and the call fails open
(or closed, as configured) exactly as when Redis is unreachable."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

redis = pytest.importorskip("redis", reason="redis-py is not installed")

import routecore  # noqa: E402
from routecore.engine import CallSession  # noqa: E402
from routecore.engine.actions import CallStarted, Dial, Digits, Hangup  # noqa: E402
from routecore.errors import StateError  # noqa: E402
from routecore.flow import load_flow  # noqa: E402
from routecore.flow.compile import compile_flows  # noqa: E402
from routecore.state.redis import RedisState, StateUnavailable  # noqa: E402
from tests.redis_server import key_prefix  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOMESTIC = {"13800138001", "13800138002"}


@pytest.fixture(scope="module")
def image() -> Any:
    return routecore.Image.from_buffer(compile_flows([load_flow(EXAMPLES / "4006001003.yaml")]))


def call(image: Any, state: Any, call_id: str = "c1") -> list[Any]:
    """A caller of 4006001003 keys 1 (sales) then 1 (domestic): the Actions after the keys
    (the branch is counted on the way, the group claimed)."""
    s = CallSession(image, state, seed=1)
    s.handle(CallStarted("4006001003", "13900000000", time.time(), call_id))
    s.handle(Digits("1"))
    return s.handle(Digits("1"))


def dialled(actions: list[Any]) -> set[str]:
    return {t for a in actions if isinstance(a, Dial) for t in a.targets}


def _refuse_acl(admin: Any, url: str) -> tuple[str, Callable[[], None]]:
    admin.execute_command(
        "ACL", "SETUSER", "rc-limited", "on", ">limited-pw", "~*", "+@all", "-fcall",
        "-fcall_ro", "-function",
    )  # fmt: skip
    limited = url.replace("redis://", "redis://rc-limited:limited-pw@")
    return limited, lambda: admin.execute_command("ACL", "DELUSER", "rc-limited")


def _refuse_misconf(admin: Any, url: str) -> tuple[str, Callable[[], None]]:
    before = admin.config_get("dir")["dir"]
    gone = tempfile.mkdtemp(prefix="routecore-misconf-")
    admin.config_set("dir", gone)
    shutil.rmtree(gone)  # the next save fails: writes are refused (MISCONF)
    admin.config_set("stop-writes-on-bgsave-error", "yes")
    admin.config_set("save", "3600 1")  # writes stop on a failed save only when saves are due
    admin.bgsave()
    for _ in range(200):
        if admin.info("persistence")["rdb_last_bgsave_status"] == "err":
            break
        time.sleep(0.02)

    def undo() -> None:
        admin.config_set("dir", before)
        admin.config_set("save", "")
        admin.config_set("stop-writes-on-bgsave-error", "no")

    return url, undo


def _refuse_oom(admin: Any, url: str) -> tuple[str, Callable[[], None]]:
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    return url, lambda: admin.config_set("maxmemory", "0")


def _refuse_readonly(admin: Any, url: str) -> tuple[str, Callable[[], None]]:
    with socket.socket() as s:  # a master that is not there: the replica stays read-only
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    admin.execute_command("REPLICAOF", "127.0.0.1", str(port))
    return url, lambda: admin.execute_command("REPLICAOF", "NO", "ONE")


REFUSALS = {
    "acl-without-fcall": _refuse_acl,
    "misconf": _refuse_misconf,
    "oom": _refuse_oom,
    "read-only-replica": _refuse_readonly,
}


@pytest.fixture(params=sorted(REFUSALS))
def refusing(request: pytest.FixtureRequest, server: Any) -> Iterator[str]:
    """A Redis URL whose server refuses routecore's writes for the named reason."""
    admin = redis.Redis.from_url(server.url)
    url, undo = REFUSALS[request.param](admin, server.url)
    try:
        yield url
    finally:
        undo()
        admin.close()


def test_a_refused_command_is_unusable_and_the_call_fails_open(image, refusing):
    """Before: StateError escaped at the first branch count and nothing was dialled."""
    with RedisState(refusing, prefix=key_prefix()) as state:
        actions = call(image, state)
        assert dialled(actions) & DOMESTIC, actions  # rung in the group's order, no claim
        assert state.degraded_count >= 1


def test_a_refused_command_fails_closed_when_so_configured(image, server):
    admin = redis.Redis.from_url(server.url)
    url, undo = _refuse_acl(admin, server.url)
    try:
        with RedisState(url, prefix=key_prefix(), fail="closed") as state:
            actions = call(image, state)
            assert not dialled(actions) & DOMESTIC  # everyone busy: the flow's way out
            assert any(isinstance(a, Dial | Hangup) for a in actions)
            with pytest.raises(StateUnavailable, match="cannot be used"):
                state.set_online("13800138001", False)  # an administrative call says so
    finally:
        undo()


class Garbage(threading.Thread):
    """A server that speaks RESP but answers every command with ``reply``."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(daemon=True)
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.start()

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536):
                conn.sendall(self.reply)


@pytest.mark.parametrize(
    "reply",
    [
        b"+OK\r\n",
        b":7\r\n",
        b"*1\r\n$3\r\nabc\r\n",
        b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n",
        b"HTTP/1.1 400\r\n",
    ],
    ids=["ok", "integer", "list", "nested", "not-resp"],
)
def test_a_server_answering_garbage_is_unusable_never_a_crash(image, reply):
    """Before: AttributeError (or TypeError, ValueError) escaped from the reply's parsing."""
    fake = Garbage(reply)
    try:
        with RedisState(f"redis://127.0.0.1:{fake.port}/0", prefix="g:", timeout=0.2) as state:
            actions = call(image, state)
            assert dialled(actions) & DOMESTIC, actions
            for admin in (
                lambda: state.destinations_now(),
                lambda: state.leases("13800138001"),
                lambda: state.branch_counts("4006001003", time.time()),
                lambda: state.bump_generation(),
            ):
                with pytest.raises(StateError):
                    admin()
            assert state.idle(["13800138001"]) == [True]
            assert state.destination("13800138001") is None
    finally:
        fake.sock.close()


def _host(monkeypatch: pytest.MonkeyPatch, url: str, prefix: str, name: str) -> RedisState:
    monkeypatch.setenv("ROUTECORE_HOST_ID", name)
    return RedisState(url, prefix=prefix)


def test_a_dead_hosts_leases_are_reaped_by_a_live_host(server, monkeypatch):
    """Before: nothing freed another host's leases before their deadline (10 minutes)."""
    from routecore.adapter.reaper import reap_once
    from routecore.state.redis_hosts import HOST_DEAD_SECONDS

    prefix = key_prefix()
    a = _host(monkeypatch, server.url, prefix, "host-a")
    b = _host(monkeypatch, server.url, prefix, "host-b")
    quiet = _host(monkeypatch, server.url, prefix, "host-never-beat")
    admin = redis.Redis.from_url(server.url)
    try:
        a.heartbeat()
        b.heartbeat()
        assert a.claim(["13800138001"], "on-a") is not None
        assert quiet.claim(["13800138002"], "on-quiet") is not None
        assert reap_once(b) == 0  # b leads now; a is alive: nothing to free
        assert reap_once(a) is None  # one host at a time
        stopped = int(time.time() * 1000 - (HOST_DEAD_SECONDS + 5) * 1000)
        admin.hset(f"{prefix}hosts", "host-a", stopped)  # a's heartbeat stopped long ago
        assert reap_once(b) == 1
        assert a.destination("13800138001").busy == 0  # free for the next caller
        assert quiet.destination("13800138002").busy == 1  # never beat: its deadline frees it
    finally:
        for s in (a, b, quiet):
            s.close()
        admin.close()


def test_the_lead_passes_on_when_its_holder_stops(server, monkeypatch):
    prefix = key_prefix()
    a = _host(monkeypatch, server.url, prefix, "host-a")
    b = _host(monkeypatch, server.url, prefix, "host-b")
    try:
        assert a.lead("job", 0.2) and a.lead("job", 0.2)  # taken, then renewed
        assert not b.lead("job", 0.2)
        time.sleep(0.3)  # a stopped renewing
        assert b.lead("job", 0.2) and not a.lead("job", 0.2)
    finally:
        a.close()
        b.close()


def test_a_lead_passing_on_during_its_renewal_is_never_held_by_two_hosts(server, monkeypatch):
    """The renewal is one step on the server: had the holder read the lead and then prolonged
    it, a lead that expired in between and went to another host would be prolonged for that
    host while the first one went on as the leader."""
    prefix = key_prefix()
    a = _host(monkeypatch, server.url, prefix, "host-a")
    b = _host(monkeypatch, server.url, prefix, "host-b")
    admin = redis.Redis.from_url(server.url)
    key = f"{prefix}lead:job".encode()
    real = a._cmd

    def expiring(*args: Any) -> Any:
        reply = real(*args)
        if args[:2] == ("GET", key):  # a read of its own lead: it expires, b takes it
            admin.delete(key)
            assert b.lead("job", 5)
        return reply

    try:
        assert a.lead("job", 5)
        monkeypatch.setattr(a, "_cmd", expiring)
        renewed = a.lead("job", 5)
        assert not (renewed and admin.get(key) == b"host-b"), "two hosts hold the lead"
        assert renewed and not b.lead("job", 5)
    finally:
        a.close()
        b.close()
        admin.close()


def test_the_adapters_server_reaps_a_redis_state(server, monkeypatch):
    """The servers' reaper task: a heartbeat at once, then the reap of what expired."""
    import asyncio

    from routecore.adapter.reaper import reap_forever

    prefix = key_prefix()
    state = _host(monkeypatch, server.url, prefix, "host-a")
    try:
        state.claim(["13800138003"], "short", lease=0.05)
        time.sleep(0.1)  # expired, still in the set until someone reaps

        async def run() -> None:
            task = asyncio.create_task(reap_forever(state, every=0.05))
            await asyncio.sleep(0.3)
            task.cancel()

        asyncio.run(run())
        leases = redis.Redis.from_url(server.url).zcard(f"{prefix}l:13800138003")
        assert leases == 0
        assert redis.Redis.from_url(server.url).hexists(f"{prefix}hosts", "host-a")
    finally:
        state.close()


def _libraries(client: Any) -> dict[str, str]:
    """Library name -> code, as ``FUNCTION LIST WITHCODE`` has them (pairs or a dict)."""
    out = {}
    for entry in client.function_list(withcode=True):
        fields = (
            entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=False))
        )
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
        name, code = fields["library_name"], fields["library_code"]
        out[name.decode() if isinstance(name, bytes) else name] = (
            code.decode() if isinstance(code, bytes) else code
        )
    return out


def test_a_library_under_routecores_name_with_other_code_is_replaced_at_open(server):
    from routecore.state.redis_link import FUNCTION_PREFIX, LIBRARY

    admin = redis.Redis.from_url(server.url)
    impostor = (
        f"#!lua name={LIBRARY}\n"
        f"redis.register_function('{FUNCTION_PREFIX}claim', function(keys, args) return nil end)\n"
    )
    admin.function_load(impostor, replace=True)
    with RedisState(server.url, prefix=key_prefix()) as state:
        assert state.claim(["13800138001"], "c1") is not None  # routecore's own claim ran
        assert "drop_expired" in _libraries(admin)[LIBRARY]
    admin.close()


def test_two_versions_sharing_one_redis_each_call_their_own_functions(server, monkeypatch):
    """Before: every version loaded the library routecore_1 with REPLACE, so a process of one
    version ran the other's functions after the other opened."""
    from routecore.state import redis_link

    mine = redis_link.load_library()
    other_text = mine[2].replace(mine[0], "x").replace(mine[1], "y")  # any other code
    monkeypatch.setattr(
        redis_link, "load_library", lambda: ("routecore_other", "rcother_", other_text.replace(
            "#!lua name=x", "#!lua name=routecore_other").replace("'y", "'rcother_"))
    )  # fmt: skip
    import routecore.state.redis as module

    monkeypatch.setattr(module, "load_library", redis_link.load_library)
    prefix = key_prefix()
    with RedisState(server.url, prefix=prefix) as other:
        assert other.claim(["13800138001"], "old") is not None
    monkeypatch.undo()
    with RedisState(server.url, prefix=prefix) as state:  # this version's library, intact
        assert state.claim(["13800138002"], "new") is not None
        libraries = _libraries(redis.Redis.from_url(server.url))
        assert libraries[mine[0]] == mine[2] and "routecore_other" in libraries


def test_a_restart_that_lost_the_leases_is_repaired_by_the_next_keep_alive(server, caplog):
    """Before: the keep-alive extended nothing and the talking agent was free for a second
    call, its capacity of 1 notwithstanding."""
    prefix = key_prefix()
    with RedisState(server.url, prefix=prefix) as a, RedisState(server.url, prefix=prefix) as b:
        a.add_destination("13800138001", capacity=1)
        ringing = a.claim(["13800138001", "13800138002"], "talking", all=True)
        assert ringing is not None
        a.release(ringing, keep="13800138001")  # the answer: the other leg freed
        server.stop()
        server.start()  # no persistence: the leases and the functions are gone
        with caplog.at_level(logging.WARNING, logger="routecore.state"):
            assert a.extend(ringing, 600) == 1  # the agent's lease only, taken again
        assert a.reasserted_count == 1 and "taken again" in caplog.text
        assert b.claim(["13800138001"], "second") is None  # never offered twice
        assert b.claim(["13800138002"], "third") is not None  # the released leg stays free


def test_a_lost_lease_already_taken_by_another_call_is_reported(server, caplog):
    prefix = key_prefix()
    with RedisState(server.url, prefix=prefix) as a, RedisState(server.url, prefix=prefix) as b:
        talking = a.claim(["13800138001"], "talking")
        server.stop()
        server.start()
        assert b.claim(["13800138001"], "second") is not None  # before the keep-alive
        with caplog.at_level(logging.WARNING, logger="routecore.state"):
            assert a.extend(talking, 600) == 0
        assert a.lost_count == 1 and "1 taken by another call" in caplog.text
