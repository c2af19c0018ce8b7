"""The native core and the Python twin share one file format: each reads what the other wrote,
and on random sequences of operations they give the same answers (the differential test)."""

from __future__ import annotations

import os
import struct
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

import routecore.backend.native as native
import routecore.py as ref
from routecore.errors import StateError
from routecore.state import views as state_views

NOW = 1_764_000_000.0  # a fixed instant (2025-11-25 00:00 UTC); days change within the ops


def test_each_reads_what_the_other_wrote(tmp_path):
    path = tmp_path / "state"
    a = native.State.create(path, destinations=64, memory=64, numbers=8)
    claim = a.claim(["13800138000", "02161234567"], "call-1")
    a.remember("4008001234", "13700137000", "02161234567", NOW)
    a.count_branch("4008001234", 3, NOW)
    a.record_attempt("02161234567", answered=True, talk_seconds=42)
    a.set_generation(7)

    b = ref.State.open(path)
    assert b.generation == 7
    assert b.destination("13800138000").busy == 1
    assert b.recall("4008001234", "13700137000", NOW) == "02161234567"
    assert b.branch_counts("4008001234", NOW)[3] == 1
    assert b.destination("02161234567").talk_seconds == 42
    assert b.claim(["13800138000"], "call-2") is None  # busy for the twin too
    assert b.release(claim) == 1  # a native claim released by the twin
    assert a.release(claim) == 0
    c = b.claim(["13800138000"], "call-3")
    assert a.destination("13800138000").busy == 1
    assert a.release(c) == 1
    assert state_views.destination_counters(a).sum() == state_views.destination_counters(b).sum()


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("claim"),
            st.lists(st.sampled_from(["1001", "1002", "1003"]), max_size=3),
            st.booleans(),
        ),
        st.tuples(st.just("release"), st.integers(0, 20), st.none()),
        st.tuples(st.just("capacity"), st.sampled_from(["1001", "1002"]), st.integers(1, 100)),
        st.tuples(st.just("online"), st.sampled_from(["1001", "1003"]), st.booleans()),
        st.tuples(
            st.just("remember"), st.sampled_from(["137", "138", "139"]), st.integers(0, 3 * 86_400)
        ),
        st.tuples(
            st.just("recall"), st.sampled_from(["137", "138", "139"]), st.integers(0, 3 * 86_400)
        ),
        st.tuples(
            st.just("count"),
            st.tuples(st.sampled_from(["4008001234", "4008005678"]), st.integers(0, 255)),
            st.integers(0, 10 * 86_400),
        ),
        st.tuples(st.just("cursor"), st.sampled_from(["sales", "desk"]), st.none()),
        st.tuples(st.just("attempt"), st.sampled_from(["1001", "1002"]), st.integers(0, 99)),
    ),
    max_size=40,
)


def _apply(s, claims, op):
    """What ``op`` answers on ``s``; a StateError (a pool full) answers its kind."""
    try:
        return _answer(s, claims, op)
    except StateError as e:
        return "full" if "pool is full" in str(e) else str(e)


def _answer(s, claims, op):
    kind, x, y = op
    if kind == "claim":
        c = s.claim(x, "call", all=y) if x else None
        claims.append(c)
        return None if c is None else (c.numbers, [lease[:2] for lease in c.leases])
    if kind == "release":
        held = [c for c in claims if c is not None]
        return s.release(held[x % len(held)]) if held else None
    if kind == "capacity":
        s.add_destination(x, capacity=y)
        return None
    if kind == "online":
        s.add_destination(x, online=y)
        return None
    if kind == "remember":
        s.remember("4008001234", x, "1002", NOW + y)
        return None
    if kind == "recall":
        return s.recall("4008001234", x, NOW + y)
    if kind == "cursor":
        return s.next_cursor("4008001234", x)
    if kind == "count":
        did, branch = x
        s.count_branch(did, branch, NOW + y)
        return s.branch_counts(did, NOW + y).tolist()
    s.record_attempt(x, answered=y % 2 == 0, talk_seconds=y)
    return None


@settings(max_examples=60, deadline=None)
@given(ops=ops)
def test_random_operations_agree(tmp_path_factory, ops):
    d = tmp_path_factory.mktemp("diff")
    # Small pools: raising a capacity or counting a high branch finds them full now and then.
    sizes = {"destinations": 16, "memory": 8, "numbers": 4, "leases": 120, "counter_blocks": 40}
    a = native.State.create(d / "a", **sizes)
    b = ref.State.create(d / "b", **sizes)
    ca: list[object] = []
    cb: list[object] = []
    for op in ops:
        assert _apply(a, ca, op) == _apply(b, cb, op), op
    assert [
        (x.number, x.capacity, x.online, x.busy, x.offered, x.answered, x.talk_seconds)
        for x in a.destinations_now()
    ] == [
        (x.number, x.capacity, x.online, x.busy, x.offered, x.answered, x.talk_seconds)
        for x in b.destinations_now()
    ]
    # Same bytes where no clock or pid is involved: the pools' counts in the header, every
    # slot but its lease record (keys, numbers, capacities, counters, the records it holds and
    # where), the counter rows and the counter blocks (layout 3).
    ra, rb = (d / "a").read_bytes(), (d / "b").read_bytes()
    assert ra[96:104] == rb[96:104]
    for slot in range(16):
        off = 128 + slot * 176
        assert ra[off : off + 112] == rb[off : off + 112], slot
    rows = 128 + 16 * 176 + 120 * 64 + 8 * 96
    cursors = rows + 4 * 120 + 40 * 256
    assert ra[rows:cursors] == rb[rows:cursors]


def test_each_sees_the_others_cursor(tmp_path):
    path = tmp_path / "state"
    a = native.State.create(path, destinations=16, memory=16, numbers=4)
    b = ref.State.open(path)
    assert [a.next_cursor("4008001234", "sales") for _ in range(2)] == [0, 1]
    assert b.next_cursor("4008001234", "sales") == 2
    assert a.next_cursor("4008001234", "sales") == 3
    assert b.next_cursor("4008001234", "desk") == 0  # inserted by the twin
    assert a.next_cursor("4008001234", "desk") == 1
    assert b.next_cursor("4008005678", "sales") == 0


def test_each_sees_the_others_capacity_30_claims(tmp_path):
    path = tmp_path / "state"
    a = native.State.create(path, destinations=16, memory=16, numbers=4)
    b = ref.State.open(path)
    b.add_destination("01065528888", capacity=30)
    mine = [a.claim(["01065528888"], f"a{i}") for i in range(15)]
    theirs = [b.claim(["01065528888"], f"b{i}") for i in range(15)]
    assert all(c is not None for c in mine + theirs)
    assert a.claim(["01065528888"], "a-more") is None
    assert b.claim(["01065528888"], "b-more") is None
    assert a.destination("01065528888").busy == b.destination("01065528888").busy == 30
    assert sorted(c.leases[0][1] for c in mine + theirs) == list(range(30))
    assert a.release(theirs[3]) == 1  # a twin claim released by the native core
    assert b.claim(["01065528888"], "b-again").leases[0][1] == theirs[3].leases[0][1]
    assert b.release(mine[0]) == 1
    assert a.claim(["01065528888"], "a-again").leases[0][1] == mine[0].leases[0][1]
    assert a.claim(["01065528888"], "full") is None and b.claim(["01065528888"], "full") is None


def _lease_off(slot: int, lease: int) -> int:
    """Where record 0 of a slot lies (the one record of a phone: in its slot)."""
    assert lease == 0
    return 128 + slot * 176 + 112


def test_both_write_and_judge_the_owners_pid_namespace_alike(tmp_path):
    path = tmp_path / "state"
    a = native.State.create(path, destinations=16, memory=16, numbers=4)
    b = ref.State.open(path)
    mine = os.stat("/proc/self/ns/pid").st_ino & 0xFFFFFFFF
    ca, cb = a.claim(["1001"], "a"), b.claim(["1002"], "b")
    data = path.read_bytes()
    offs = [_lease_off(*c.leases[0][:2]) for c in (ca, cb)]
    owners = [struct.unpack_from("<IIQ", data, off + 16) for off in offs]
    assert owners[0] == owners[1]  # pid, PID namespace id, start time: the same bytes
    assert owners[0][:2] == (os.getpid(), mine)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(path, "r+b") as f:  # each record: a dead pid of another namespace
        for off in offs:
            f.seek(off + 16)
            f.write(struct.pack("<II", dead.pid, (mine + 1) & 0xFFFFFFFF or 1))
    for s in (a, b):  # judged by the deadline alone, by either backend
        assert s.idle(["1001", "1002"]) == [False, False]
        assert [s.destination(n).busy for n in ("1001", "1002")] == [1, 1]
        assert s.reap() == 0
    with open(path, "r+b") as f:  # the namespace unknown: judged by pid again
        for off in offs:
            f.seek(off + 20)
            f.write(struct.pack("<I", 0))
    assert a.idle(["1001", "1002"]) == b.idle(["1001", "1002"]) == [True, True]
    assert b.reap() == 2 and a.reap() == 0
