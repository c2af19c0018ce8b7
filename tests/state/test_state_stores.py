"""One suite, two stores: the state file (native ``State``) and the Redis store (``RedisState``)
under the same tests, then what only Redis has: its functions lost by a restart, an unreachable
server (fail open / closed, a bounded wait, reconnection by itself), and a whole call.

The tests start their own ``redis-server`` (no persistence) on a free loopback port and a Unix
socket in a temporary directory, once per session, and stop it at the end; each test has its own
key prefix. Skipped when ``redis-server`` is not installed (``make install`` installs it).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import routecore
import routecore._native
import routecore.backend.native
import routecore.py
import routecore.py.state
from routecore.errors import StateError
from routecore.state import StateStore, open_state

redis = pytest.importorskip("redis", reason="redis-py is not installed (pip install redis)")

from routecore.state.redis import RedisState, StateUnavailable, host_id  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.redis_server import key_prefix as _prefix  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
SMALL = {"destinations": 64, "memory": 64, "numbers": 8}
DID = "4008001234"
SPAWN = mp.get_context("spawn")
UNREACHABLE_BOUND = 0.3  # seconds a call may wait on an unusable Redis


# -- the server --------------------------------------------------------------------------------


@pytest.fixture(params=["shm", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The store under test: the native state file, or a RedisState with a prefix of its own."""
    if request.param == "shm":
        s: Any = routecore.backend.native.State.create(str(tmp_path / "state"), **SMALL)
    else:
        srv: RedisServer = request.getfixturevalue("redis_server")
        s = RedisState(srv.url, prefix=_prefix())
    try:
        yield s
    finally:
        s.close()


def busy(store: Any, number: str) -> int:
    d = store.destination(number)
    return 0 if d is None else int(d.busy)


def is_redis(store: Any) -> bool:
    return isinstance(store, RedisState)


def _open_like(kind: str, where: str, prefix: str) -> Any:
    if kind == "shm":
        return routecore.backend.native.State.open(where)
    return RedisState(where, prefix=prefix)


def _where(store: Any) -> tuple[str, str, str]:
    if is_redis(store):
        return "redis", store.path, store.prefix
    return "shm", store.path, ""


def next_midnight(now: float) -> float:
    local = datetime.fromtimestamp(now, SH)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), SH).timestamp()


# -- the Protocol --------------------------------------------------------------------------------


def _native_is_a_store(s: routecore._native.State) -> StateStore:
    return s


def _twin_is_a_store(s: routecore.py.state.State) -> StateStore:
    return s


def _redis_is_a_store(s: RedisState) -> StateStore:
    return s


def test_both_stores_satisfy_the_protocol(store):
    assert isinstance(store, StateStore)


def test_the_protocol_is_checked_by_mypy(tmp_path):
    """The three functions above, checked by mypy (strict) on their own."""
    pytest.importorskip("mypy", reason="mypy is not installed")
    source = Path(__file__).read_text()
    start = source.index("def _native_is_a_store")
    end = source.index("def test_both_stores_satisfy_the_protocol")
    snippet = tmp_path / "protocol_check.py"
    snippet.write_text(
        "import routecore._native\nimport routecore.py.state\n"
        "from routecore.state import StateStore\nfrom routecore.state.redis import RedisState\n\n\n"
        + source[start:end].rstrip()
        + "\n"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(snippet)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


# -- claims, capacity, leases --------------------------------------------------------------------


def test_a_trunk_of_3_takes_3_and_refuses_the_4th(store):
    store.add_destination("2001", capacity=3)
    claims = [store.claim(["2001"], f"c{i}") for i in range(4)]
    assert [c is not None for c in claims] == [True, True, True, False]
    assert all(c.numbers == ("2001",) and c.call_id == f"c{i}" for i, c in enumerate(claims[:3]))
    assert len({c.leases[0][2] for c in claims[:3]}) == 3  # three claims, three ids
    d = store.destination("2001")
    assert (d.number, d.capacity, d.online, d.busy) == ("2001", 3, True, 3)
    assert store.idle(["2001"]) == [False]
    assert store.release(claims[1]) == 1
    assert store.idle(["2001"]) == [True] and store.destination("2001").busy == 2
    assert store.claim(["2001"], "again") is not None
    assert store.claim(["2001"], "one too many") is None


def test_the_first_candidate_with_room_in_order(store):
    store.add_destination("1001", capacity=1)
    store.add_destination("1002", capacity=2)
    a = store.claim(["1001", "1002"], "call-a")
    assert a.numbers == ("1001",) and len(a.leases) == 1
    b = store.claim(["1001", "1002"], "call-b")
    c = store.claim(["1001", "1002"], "call-c")
    assert b.numbers == c.numbers == ("1002",)
    assert store.claim(["1001", "1002"], "call-d") is None
    assert store.idle(["1001", "1002", "1003"]) == [False, False, True]
    assert store.release(b) == 1 and store.idle(["1002"]) == [True]
    assert store.claim([], "c") is None


def test_unknown_candidates_are_inserted_with_capacity_1(store):
    assert store.destination("13800138000") is None
    c = store.claim(["13800138000"], "x")
    d = store.destination("13800138000")
    assert c.numbers == ("13800138000",)
    assert (d.number, d.capacity, d.online, d.busy) == ("13800138000", 1, True, 1)
    assert [x.number for x in store.destinations_now()] == ["13800138000"]
    assert store.claim(["13800138000"], "y") is None


def test_leases_expire(store):
    c = store.claim(["8001"], "short", lease=0.3)
    assert store.claim(["8001"], "next") is None
    assert store.idle(["8001"]) == [False]
    time.sleep(0.35)
    assert store.destination("8001").busy == 0  # an expired lease is not busy
    assert store.idle(["8001"]) == [True]
    n = store.claim(["8001"], "next")
    assert n is not None
    assert store.release(c) == 0 and store.release(n) == 1


def test_reap_drops_expired_leases(store):
    store.add_destination("8002", capacity=2)
    store.claim(["8002"], "short", lease=0.05)
    keep = store.claim(["8002"], "long", lease=60)
    assert store.reap() == 0
    time.sleep(0.1)
    assert store.reap() == 1 and store.reap() == 0
    assert store.destination("8002").busy == 1 and store.release(keep) == 1


def test_release_with_keep(store):
    store.add_destination("3003", capacity=1, online=False)
    hold = store.claim(["3002"], "other")
    c = store.claim(["3001", "3002", "3003", "3004"], "ring", all=True)
    assert c.numbers == ("3001", "3004") and len(c.leases) == 2
    assert store.release(c, keep="3004") == 1
    assert store.destination("3001").busy == 0 and store.destination("3004").busy == 1
    assert store.release(c, keep="3004") == 0
    assert store.release(c) == 1  # the kept one, at hang-up
    assert store.release(c) == 0  # twice: harmless, reported by the 0
    assert store.release(hold) == 1
    assert store.claim(["3002"], "r", all=True).numbers == ("3002",)


def test_duplicated_candidates_count_once(store):
    store.add_destination("4001", capacity=3)
    c = store.claim(["4001", "4001", "4001"], "dup", all=True)
    assert c.numbers == ("4001",) and store.destination("4001").busy == 1


def test_extend_renews(store):
    c = store.claim(["6001", "6002"], "c", lease=0.3, all=True)
    assert store.extend(c, 30) == 2
    time.sleep(0.4)
    assert [store.destination(n).busy for n in ("6001", "6002")] == [1, 1]
    assert store.claim(["6001"], "d") is None
    assert store.release(c, keep="6002") == 1
    assert store.extend(c, 30) == 1
    assert store.release(c) == 1 and store.extend(c, 30) == 0


def test_idle_busy_online_offline(store):
    store.add_destination("2001", capacity=2, online=False)
    assert store.idle(["2001", "2999", "x"]) == [False, True, True]
    assert store.claim(["2001"], "c") is None  # offline
    store.set_online("2001", True)
    assert store.idle(["2001"]) == [True] and store.destination("2001").online
    a = store.claim(["2001"], "a")
    assert store.idle(["2001"]) == [True]  # one of two taken
    b = store.claim(["2001"], "b")
    assert store.idle(["2001"]) == [False]
    store.set_online("2001", False)
    assert not store.destination("2001").online and store.destination("2001").busy == 2
    store.set_online("2001", True)
    store.set_capacity("2001", 1)  # lowering it evicts nobody
    d = store.destination("2001")
    assert (d.capacity, d.busy) == (1, 2) and store.claim(["2001"], "c") is None
    assert store.release(b) == 1 and store.claim(["2001"], "c") is None  # a still holds
    assert store.release(a) == 1 and store.idle(["2001"]) == [True]
    c = store.claim(["2001"], "c")
    assert c is not None and store.idle(["2001"]) == [False]
    store.set_online("2001", False)
    assert store.idle(["2001"]) == [False] and store.claim(["2001"], "d") is None
    store.set_online("2001", True)
    store.add_destination("2001", capacity=5)  # an update
    assert store.destination("2001").capacity == 5
    with pytest.raises(StateError, match="unknown destination"):
        store.set_online("2999", True)
    with pytest.raises(StateError, match="unknown destination"):
        store.set_capacity("2999", 1)


def test_record_attempt(store):
    store.record_attempt("1001", answered=True, talk_seconds=42)
    store.record_attempt("1001", answered=False)
    store.record_attempt("1001", answered=True, talk_seconds=8)
    d = store.destination("1001")
    assert (d.offered, d.answered, d.unanswered, d.talk_seconds) == (3, 2, 1, 50)
    assert (d.capacity, d.online, d.busy) == (1, True, 0)  # inserted as a claim would


# -- memory, counters, cursor, generation ------------------------------------------------------


def test_memory_until_midnight_in_shanghai(store):
    midnight = next_midnight(time.time())
    at = midnight - 30  # just before midnight in Shanghai
    store.remember(DID, "13800138000", "02161234567", at)
    assert store.recall(DID, "13800138000", at + 10) == "02161234567"
    assert store.recall(DID, "13800138000", midnight + 60) is None  # the next day
    assert store.recall(DID, "13900000000", at) is None
    assert store.recall("4008009999", "13800138000", at) is None
    store.remember(DID, "13800138000", "1002", at + 5)
    assert store.recall(DID, "13800138000", at + 10) == "1002"
    if is_redis(store):  # the key itself goes at midnight: no waiting for it
        key = store.memory_key(DID, "13800138000")
        assert store.client.expiretime(key) == int(midnight)
        assert 0 < store.client.ttl(key) <= midnight - time.time() + 1


def test_memory_in_another_time_zone(store):
    ny = ZoneInfo("America/New_York")
    local = datetime.fromtimestamp(time.time(), ny)
    end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ny).timestamp()
    t = end - 60  # 23:59 in New York
    store.remember(DID, "anonymous", "1001", t, tz="America/New_York")
    assert store.recall(DID, "anonymous", t + 30, tz="America/New_York") == "1001"
    assert store.recall(DID, "anonymous", end + 60, tz="America/New_York") is None
    if datetime.fromtimestamp(t, SH).date() != datetime.fromtimestamp(t, ny).date():
        assert store.recall(DID, "anonymous", t + 30) is None  # another day in Shanghai
    if is_redis(store):
        assert store.client.expiretime(store.memory_key(DID, "anonymous")) == int(end)


def test_counters_per_day(store):
    now = time.time()
    yesterday = now - 86400
    for _ in range(2):
        store.count_branch(DID, 3, now)
    store.count_branch(DID, 31, now)
    store.count_branch(DID, 255, now)
    store.count_branch(DID, 3, yesterday)
    today = store.branch_counts(DID, now)
    assert today.dtype == np.uint32 and today.shape == (256,)
    assert today[3] == 2 and today[31] == 1 and today[255] == 1 and today.sum() == 4
    assert store.branch_counts(DID, yesterday).tolist() == [0, 0, 0, 1] + [0] * 252
    assert store.branch_counts("4008009999", now).sum() == 0
    gone = now - 8 * 86400  # a day no longer kept: its count is dropped
    store.count_branch(DID, 5, gone)
    assert store.branch_counts(DID, gone).sum() == 0
    assert store.branch_counts(DID, now).sum() == 4
    if is_redis(store):
        ttl = store.client.ttl(store.counter_key(DID, now))
        assert 7 * 86400 < ttl <= 8 * 86400  # kept to 24:00 of the 8th day
    for bad in (256, -1):
        with pytest.raises(StateError):
            store.count_branch(DID, bad, now)


def test_the_cursor_counts_up(store):
    assert [store.next_cursor(DID, "sales") for _ in range(3)] == [0, 1, 2]
    assert store.next_cursor(DID, "support") == 0
    assert store.next_cursor("4008005678", "sales") == 0
    assert store.next_cursor(DID, "Sales") == 0
    assert store.next_cursor(DID, "销售") == 0
    assert store.next_cursor(DID, "sales") == 3


def test_generation(store):
    assert store.generation == 0
    store.set_generation(7)
    assert store.generation == 7
    assert store.bump_generation() == 8 and store.generation == 8
    for bad in (-1, 2**64):
        with pytest.raises((StateError, OverflowError)):
            store.set_generation(bad)


# -- bad input -----------------------------------------------------------------------------------

NOW = time.time()
BAD_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("a short number", lambda s: s.claim(["12"], "c")),
    ("a number with a letter", lambda s: s.claim(["1001", "12a4"], "c")),
    ("one string", lambda s: s.claim("1001", "c")),
    ("a call id", lambda s: s.claim(["1001"], 5)),
    ("a negative lease", lambda s: s.claim(["1001"], "c", lease=-1)),
    ("a nan lease", lambda s: s.claim(["1001"], "c", lease=float("nan"))),
    ("capacity 0", lambda s: s.add_destination("1001", capacity=0)),
    ("capacity 101", lambda s: s.add_destination("1001", capacity=101)),
    ("a long number", lambda s: s.add_destination("1" * 21)),
    ("idle of one string", lambda s: s.idle("1001")),
    ("a bad 400 number", lambda s: s.remember("40a", "1", "1001", NOW)),
    ("an empty caller", lambda s: s.remember(DID, "", "1001", NOW)),
    ("a long caller", lambda s: s.remember(DID, "x" * 24, "1001", NOW)),
    ("a short destination", lambda s: s.remember(DID, "1", "10", NOW)),
    ("a nan time", lambda s: s.remember(DID, "1", "1001", float("nan"))),
    ("an unknown zone", lambda s: s.recall(DID, "1", NOW, tz="Mars/Olympus")),
    ("branch 256", lambda s: s.count_branch(DID, 256, NOW)),
    ("an empty group", lambda s: s.next_cursor(DID, "")),
    ("a long group", lambda s: s.next_cursor(DID, "g" * 65)),
    ("a 16-digit 400 number", lambda s: s.next_cursor("4" * 16, "g")),
    ("negative talk", lambda s: s.record_attempt("1001", answered=True, talk_seconds=-1)),
    ("extend by -1", lambda s: s.extend(s.claim(["1009"], "c"), -1)),
]


# A value of the wrong type: the compiled core's argument conversion may say TypeError first.
WRONG_TYPES = {"one string", "a call id", "idle of one string", "negative talk"}


@pytest.mark.parametrize(("name", "call"), BAD_CALLS, ids=[n for n, _ in BAD_CALLS])
def test_bad_input_is_a_state_error(store, name, call):
    native_types = name in WRONG_TYPES and not is_redis(store)
    with pytest.raises((StateError, TypeError, OverflowError) if native_types else StateError):
        call(store)
    assert [d.number for d in store.destinations_now()] in ([], ["1009"])  # nothing else added


def test_bad_input_says_what_the_twin_says(redis_server, tmp_path):
    twin = routecore.py.State.create(str(tmp_path / "twin"), **SMALL)
    with RedisState(redis_server.url, prefix=_prefix()) as r:
        for name, call in BAD_CALLS:
            with pytest.raises(StateError) as want:
                call(twin)
            with pytest.raises(StateError) as got:
                call(r)
            assert str(got.value) == str(want.value), name
    twin.close()


# -- two processes racing; fencing ---------------------------------------------------------------


def _race_worker(kind: str, where: str, prefix: str, markers: str, barrier: Any, out: Any) -> None:
    store = _open_like(kind, where, prefix)
    numbers = ["5001", "5002", "5003"]
    held = over = degraded = 0
    barrier.wait()
    for i in range(150):
        c = store.claim(numbers, f"w{os.getpid()}-{i}")
        if c is None:
            continue
        if getattr(c, "degraded", False):
            degraded += 1
            continue
        mine = []
        for n in c.numbers:  # an exclusive marker per held destination
            try:
                os.close(os.open(os.path.join(markers, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                mine.append(n)
            except FileExistsError:
                over += 1
        held += 1
        time.sleep(0.0002)
        for n in mine:
            os.unlink(os.path.join(markers, n))
        store.release(c)
    store.close()
    out.put((held, over, degraded))


def test_two_processes_never_hold_more_than_the_capacity(store, tmp_path):
    for n in ("5001", "5002", "5003"):
        store.add_destination(n, capacity=1)
    markers = tmp_path / "markers"
    markers.mkdir()
    kind, where, prefix = _where(store)
    barrier, out = SPAWN.Barrier(2), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_race_worker, args=(kind, where, prefix, str(markers), barrier, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert sum(over for _, over, _ in results) == 0  # never over capacity
    assert sum(d for _, _, d in results) == 0
    assert all(held > 0 for held, _, _ in results)
    assert [store.destination(n).busy for n in ("5001", "5002", "5003")] == [0, 0, 0]


def test_fencing_a_late_release_frees_nothing_of_the_new_holder(store):
    old = store.claim(["9001"], "lost", lease=0.3)
    time.sleep(0.35)
    new = store.claim(["9001"], "new holder")
    assert new is not None and new.leases[0][2] != old.leases[0][2]
    assert store.release(old) == 0  # the late release of a host that lost its lease
    assert store.extend(old, 60) == 0
    assert store.destination("9001").busy == 1 and store.claim(["9001"], "third") is None
    assert store.release(new) == 1 and store.destination("9001").busy == 0


# -- Redis only ----------------------------------------------------------------------------------


@pytest.fixture
def rs(server: RedisServer) -> Iterator[RedisState]:
    with RedisState(server.url, prefix=_prefix()) as s:
        yield s


def test_hiredis_parses_the_replies():
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE


def test_a_lease_names_its_owner_and_its_token_grows(rs):
    a = rs.claim(["9100"], "call-42", lease=60)
    (lease,) = rs.leases("9100")
    assert (lease.host, lease.pid, lease.call_id) == (host_id(), os.getpid(), "call-42")
    assert lease.start == routecore.py.state.own_start_time() and lease.token == a.token
    assert lease.deadline == pytest.approx(time.time() + 60, abs=2)
    b = rs.claim(["9101"], "call-43")
    assert b.token > a.token


def test_function_flush_midway_reloads_by_itself(rs):
    assert rs.claim(["9200"], "before") is not None
    rs.client.function_flush()
    c = rs.claim(["9200", "9201"], "after")  # "Function not found": reload, then claim
    assert c is not None and c.numbers == ("9201",) and not c.degraded
    assert rs.destination("9200").busy == 1
    rs.client.function_flush()
    assert rs.idle(["9200", "9201"]) == [False, False]  # a read-only function too
    assert rs.degraded_count == 0


def test_a_restarted_redis_is_used_again_by_the_same_store(rs, server):
    assert rs.claim(["9300"], "before") is not None
    server.stop()
    t = time.perf_counter()
    c = rs.claim(["9301"], "down")
    assert time.perf_counter() - t < UNREACHABLE_BOUND
    assert c is not None and c.degraded and c.leases == ()
    server.start()  # the same port, empty: no data, no functions
    deadline = time.monotonic() + 5
    while True:
        c = rs.claim(["9301"], "back")
        if c is not None and not c.degraded:
            break
        assert time.monotonic() < deadline, "not reconnected in 5 s"
        time.sleep(0.05)
    assert rs.destination("9301").busy == 1 and rs.release(c) == 1
    rs.check()


def test_a_load_run_goes_on_through_a_function_flush_and_a_restart(server):
    """Two callers claim and release the same capacity-1 agents without pause while Redis
    loses its functions and then restarts: no claim waits more than the bound, none is ever
    over capacity, claims fail open while Redis is down, and both recover by themselves."""
    prefix = _prefix()
    agents = ["9700", "9701"]
    stop = threading.Event()
    lock = threading.Lock()
    holding: set[str] = set()
    stats: list[dict[str, Any]] = []

    def caller(name: str) -> None:
        st = RedisState(server.url, prefix=prefix)
        s: dict[str, Any] = {"ok": 0, "none": 0, "degraded": 0, "over": 0, "slowest": 0.0}
        s["ok_after"] = 0  # real claims after the restart
        i = 0
        while not stop.is_set():
            i += 1
            t = time.perf_counter()
            c = st.claim(agents, f"{name}-{i}", lease=1.0)
            s["slowest"] = max(s["slowest"], time.perf_counter() - t)
            if c is None:
                s["none"] += 1
                continue
            if c.degraded:
                s["degraded"] += 1
                st.release(c)
                time.sleep(0.001)
                continue
            with lock:
                s["over"] += bool(holding & set(c.numbers))
                holding.update(c.numbers)
            s["ok"] += 1
            s["ok_after"] += restarted.is_set()
            time.sleep(0.0005)
            with lock:
                holding.difference_update(c.numbers)
            st.release(c)
        stats.append(s)
        st.close()

    restarted = threading.Event()
    threads = [threading.Thread(target=caller, args=(f"c{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        RedisState(server.url, prefix=prefix).client.function_flush()  # functions lost
        time.sleep(0.3)
        server.stop()
        time.sleep(0.3)
        server.start()  # empty: no data, no functions
        restarted.set()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert len(stats) == 2, "a caller died"
    for s in stats:
        assert s["over"] == 0, stats
        assert s["slowest"] < UNREACHABLE_BOUND, stats
        assert s["degraded"] > 0 and s["ok_after"] > 0, stats  # the rule, then recovery
    time.sleep(1.0)  # a claim whose reply was lost in the restart holds until its lease ends
    with RedisState(server.url, prefix=prefix) as st:
        assert [busy(st, n) for n in agents] == [0, 0]


def test_unreachable_fails_open_then_recovers(server, caplog):
    prefix = _prefix()
    opened = RedisState(server.url, prefix=prefix)
    closed = RedisState(server.url + f"?prefix={prefix}&fail=closed")
    assert closed.fail == "closed" and closed.prefix == prefix
    opened.set_generation(41)
    assert opened.generation == 41 and closed.generation == 41
    held = opened.claim(["9400"], "held")
    opened.remember(DID, "13800138000", "9400", time.time())
    server.stop()
    caplog.set_level(logging.WARNING, logger="routecore.state")
    try:
        t = time.perf_counter()
        c = opened.claim(["9400", "9401"], "down")
        assert time.perf_counter() - t < UNREACHABLE_BOUND
        assert c.degraded and c.numbers == ("9400",) and c.leases == ()  # the group's order
        c_all = opened.claim(["9400", "9401", "9400"], "down", all=True)
        assert c_all.degraded and c_all.numbers == ("9400", "9401")
        t = time.perf_counter()
        assert closed.claim(["9400"], "down") is None  # fail closed: everyone busy
        assert time.perf_counter() - t < UNREACHABLE_BOUND
        assert opened.release(c) == 0 and opened.extend(c, 60) == 0
        assert opened.release(held) == 0 and opened.extend(held, 60) == 0  # released: none held
        assert opened.idle(["9400", "9401"]) == [True, True]
        assert opened.recall(DID, "13800138000", time.time()) is None
        assert opened.next_cursor(DID, "sales") is None
        assert opened.destination("9400") is None
        opened.record_attempt("9400", answered=True, talk_seconds=3)  # dropped
        opened.count_branch(DID, 1, time.time())
        opened.remember(DID, "1", "9400", time.time())
        assert opened.generation == 41  # the last one read: the live image keeps serving
        for admin in (
            opened.bump_generation,
            opened.destinations_now,
            opened.reap,
            opened.check,
            lambda: opened.set_online("9400", False),
        ):
            with pytest.raises(StateUnavailable):
                admin()
        assert opened.degraded_count >= 11 and closed.degraded_count >= 1
        said = [r.getMessage() for r in caplog.records if r.name == "routecore.state"]
        failing_open = [m for m in said if "failing open" in m]
        assert len(failing_open) == 1 and server.url in failing_open[0]  # once: rate-limited
        assert len([m for m in said if "failing closed" in m]) == 1
    finally:
        server.start()
    deadline = time.monotonic() + 5
    while True:  # no new RedisState: the same ones reconnect by themselves
        c = opened.claim(["9402"], "back")
        if c is not None and not c.degraded:
            break
        assert time.monotonic() < deadline, "not reconnected in 5 s"
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while closed.claim(["9403"], "back") is None:
        assert time.monotonic() < deadline, "fail closed: not reconnected in 5 s"
        time.sleep(0.05)
    assert opened.destination("9402").busy == 1 and opened.destination("9403").busy == 1
    assert opened.generation == 0  # a Redis that came back empty
    opened.close()
    closed.close()


def test_a_timeout_is_bounded_and_a_lost_reply_is_freed(server):
    """A server that stops answering (paused): the call waits ~timeout, fails open, and its
    release frees whatever the request took if it ran after all; a fail-closed claim's lost
    reply is freed at the next claim."""
    prefix = _prefix()
    opened = RedisState(server.url, prefix=prefix)
    closed = RedisState(server.url, prefix=prefix, fail="closed")
    opened.claim(["9500"], "warm")
    closed.claim(["9510"], "warm")
    server.pause()
    try:
        t = time.perf_counter()
        c = opened.claim(["9501", "9502"], "paused")
        assert time.perf_counter() - t < UNREACHABLE_BOUND
        assert c.degraded and c.numbers == ("9501",)
        t = time.perf_counter()
        assert closed.claim(["9511"], "paused") is None
        assert time.perf_counter() - t < UNREACHABLE_BOUND
    finally:
        server.resume()
    time.sleep(max(opened.retry_after, closed.retry_after) + 0.1)
    # Whether the request ran after all (it was in the server's socket when the client reset
    # the connection) or not, nothing of it is held once the call releases its claim.
    assert opened.release(c) == 0  # frees by owner whatever the lost request took
    assert busy(opened, "9501") == busy(opened, "9502") == 0
    assert closed.claim(["9512"], "next") is not None  # frees the lost fail-closed claim first
    assert busy(closed, "9511") == 0
    opened.close()
    closed.close()


def test_open_state_opens_either_store(redis_server, tmp_path, monkeypatch):
    from routecore.adapter.runtime import open_state as adapter_open_state

    assert routecore.open_state is open_state
    path = tmp_path / "made-when-missing"
    with open_state(path) as s:
        assert isinstance(s, routecore.backend.native.State) and s.path == str(path)
    with open_state(str(path), backend="py") as s:
        assert isinstance(s, routecore.py.State)
    prefix = _prefix()
    url = f"{redis_server.url}?prefix={prefix}&timeout=0.2"
    with open_state(url) as s:
        assert isinstance(s, RedisState) and s.prefix == prefix and s.timeout == 0.2
        assert s.fail == "open"
        assert s.claim(["9600"], "c").numbers == ("9600",)
    with open_state(f"unix://{redis_server.socket}?db=0&prefix={prefix}", fail="closed") as s:
        assert s.fail == "closed" and s.destination("9600").busy == 1  # the same store
    monkeypatch.setenv("ROUTECORE_STATE", url)
    with open_state() as s:
        assert isinstance(s, RedisState) and s.destination("9600").busy == 1
    with adapter_open_state(url) as s:
        assert isinstance(s, RedisState)
    with pytest.raises(StateError):
        open_state(url, fail="sometimes")  # type: ignore[arg-type]
    with pytest.raises(StateError):
        RedisState(url + "&fail=sometimes")
    secret = RedisState("redis://user:s3cret@127.0.0.1:1/0", timeout=0.05)
    assert "s3cret" not in secret.path and "s3cret" not in repr(secret)
    assert secret.claim(["9601"], "c").degraded  # nothing listens on port 1
    secret.close()


# -- a whole call ----------------------------------------------------------------------------------


def test_a_complete_call_through_call_session_on_redis(rs):
    from routecore.engine.actions import (
        Answered,
        CallerHungUp,
        CallStarted,
        Dial,
        DialResult,
        Hangup,
    )
    from routecore.engine.session import CallSession
    from routecore.flow import validate_flow
    from routecore.flow.compile import compile_flows

    backend = routecore.backend.native
    phones = ["13800138001", "13800138002", "13800138003"]
    did, caller = "4006009001", "13900139000"
    flow = {
        "number": did,
        "start": "sales",
        "destinations": {f"p{i}": {"number": n, "agent_id": 801 + i} for i, n in enumerate(phones)},
        "groups": {"sales": {"members": ["p0", "p1", "p2"], "mode": "simultaneous"}},
        "system_prompt_on_transfer": False,
    }
    validated = validate_flow(flow, source=f"{did}.yaml")[0]
    image = backend.Image.from_buffer(compile_flows([validated], core=backend))
    t0 = time.time()
    classify = backend.default_classifier().classify
    s = CallSession(image, rs, seed=1, classify=classify)
    (dial,) = s.handle(CallStarted(did, caller, t0, "call-1"))
    assert isinstance(dial, Dial) and dial.simultaneous and dial.targets == tuple(phones)
    assert [rs.destination(n).busy for n in phones] == [1, 1, 1]  # all three ring
    assert s.handle(Answered(phones[1], t0 + 7)) == []
    assert [rs.destination(n).busy for n in phones] == [0, 1, 0]  # the others free at once
    assert rs.recall(did, caller, t0 + 8) == phones[1]  # remembered at the answer
    # a second call meanwhile rings the two free phones, not the talking one
    s2 = CallSession(image, rs, seed=1, classify=classify)
    (dial2,) = s2.handle(CallStarted(did, "13900139001", t0 + 9, "call-2"))
    assert dial2.targets == (phones[0], phones[2])
    s2.handle(CallerHungUp())
    assert s.handle(DialResult("answered", phones[1], 95, "rec-1", t0 + 102)) == [Hangup("normal")]
    assert (s.record.outcome, s.record.answered_by, s.record.talk_seconds) == (
        "answered",
        phones[1],
        95,
    )
    assert all(d.busy == 0 for d in rs.destinations_now())
    talked = rs.destination(phones[1])
    assert (talked.offered, talked.answered, talked.talk_seconds) == (1, 1, 95)
    assert rs.degraded_count == 0
