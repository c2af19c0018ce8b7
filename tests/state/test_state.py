"""The shared state file: both backends, each test on a fresh file in tmp_path.

Offsets below are written from docs/state-format.md, not taken from the implementation, so a
hand-written lease record or a damaged header tests the spec itself.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing as mp
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import routecore
import routecore._native
import routecore.backend.native
import routecore.py
from routecore.errors import RoutecoreError, StateError
from routecore.state import views as state_views

HEADER = 128
LEASES = 100  # lease records a destination holds at most: the largest capacity
BRANCHES = 256
DEST = 176  # a slot, its lease record 0 at 112 included
LEASE = 64
MEM = 96
ROW = 120
BLOCK = 256  # a counter block: 8 branches × 8 days
CURSOR = 16  # bytes of a round-robin cursor entry; 16 entries per counter row
SMALL = {"destinations": 16, "memory": 16, "numbers": 8}
SMALL_POOLS = (16 + 100, 2 * 8 + 32)  # the pools' defaults: D + 100 records, 2·N + 32 blocks
CTX = mp.get_context("fork")
# A value of the wrong type or beyond 64 bits: the twin says StateError; a PyO3 argument
# conversion may say TypeError or OverflowError before the core sees it.
BAD_ARG = (StateError, TypeError, OverflowError)


@dataclass
class Backend:
    name: str
    State: Any


def _backend(name: str) -> Backend:
    module = routecore.backend.native if name == "native" else routecore.py
    return Backend(name, module.State)


@pytest.fixture(params=["native", "py"])
def be(request: pytest.FixtureRequest) -> Backend:
    if request.param == "native" and not hasattr(routecore._native, "State"):
        pytest.skip("routecore._native has no State yet")
    return _backend(request.param)


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "state")


@pytest.fixture
def st(be: Backend, path: str) -> Iterator[Any]:
    with be.State.create(path, **SMALL) as s:
        yield s


def file_len(d: int, m: int, n: int, r: int | None = None, p: int | None = None) -> int:
    """Bytes of a file of these sizes, the pools at their defaults unless given."""
    r = d + 100 if r is None else r
    p = 2 * n + 32 if p is None else p
    return HEADER + d * DEST + r * LEASE + m * MEM + n * ROW + p * BLOCK + 16 * n * CURSOR


def lease_off(slot: int, lease: int, path: str | None = None, d: int = 16) -> int:
    """Where record ``lease`` of ``slot`` lies: record 0 in the slot, the others in the pool
    through the slot's extent starts (read from the file at ``path``, D slots)."""
    if lease == 0:
        return HEADER + slot * DEST + 112
    assert path is not None, "a pooled record is found through the file"
    e = min(lease.bit_length(), 7)
    base = 1 << (e - 1)
    start = peek(path, HEADER + slot * DEST + 80 + 4 * (e - 1), "I")[0]
    return HEADER + d * DEST + LEASE * (start + lease - base)


def peek(path: str, off: int, fmt: str) -> tuple[Any, ...]:
    with open(path, "rb") as f:
        f.seek(off)
        return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))


def poke(path: str, off: int, fmt: str, *values: Any) -> None:
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack("<" + fmt, *values))


def start_time(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    return int(raw[raw.rfind(b")") + 1 :].split()[19])


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def held_words(path: str, d: int) -> list[list[int]]:
    """Lease words of every record every slot holds, straight from the file."""
    data = Path(path).read_bytes()
    records = [struct.unpack_from("<I", data, HEADER + s * DEST + 76)[0] for s in range(d)]
    return [
        [struct.unpack_from("<Q", data, lease_off(s, j, path, d))[0] for j in range(records[s])]
        for s in range(d)
    ]


def error_match(be: Backend, words: str) -> str | None:
    """The native core words its messages itself: only the twin's are pinned down."""
    return words if be.name == "py" else None


# -- create and open ---------------------------------------------------------------------------


def test_create_open_round_trip(be, path, monkeypatch):
    with be.State.create(path, destinations=32, memory=24, numbers=4) as s:
        assert (s.path, s.destinations, s.memory, s.numbers) == (path, 32, 24, 4)
        assert os.path.getsize(path) == file_len(32, 24, 4)
        assert peek(path, 0, "4sHHIIIIIIQ") == (
            b"RCST",
            3,
            128,
            32,
            100,
            24,
            4,
            256,
            8,
            file_len(32, 24, 4),
        )
        assert peek(path, 80, "IIII") == (32 + 100, 2 * 4 + 32, 8, 0)  # R, P, W
        assert (s.leases, s.counter_blocks) == (132, 40)
        head = Path(path).read_bytes()[:128]
        assert peek(path, 40, "I")[0] == zlib.crc32(head[:40] + head[80:96])
        assert s.generation == 0
        s.set_generation(41)
        assert s.bump_generation() == 42 and s.generation == 42
    with be.State.open(path) as s:
        assert (s.destinations, s.memory, s.numbers, s.generation) == (32, 24, 4, 42)
    with be.State.create(path, destinations=32, memory=24, numbers=4) as s:
        assert s.generation == 42  # opened, not recreated
    with pytest.raises(StateError, match=error_match(be, r"destinations 32 \(asked 16\)")):
        be.State.create(path, destinations=16, memory=24, numbers=4)
    monkeypatch.setenv("ROUTECORE_STATE", path)
    with be.State.open() as s:
        assert s.path == path and s.generation == 42
    with pytest.raises(StateError, match=error_match(be, r"leases 132 \(asked 64\)")):
        be.State.create(path, destinations=32, memory=24, numbers=4, leases=64)
    bads = ({"destinations": 0}, {"memory": -1}, {"numbers": 2**40}, {"leases": 0})
    for bad in (*bads, {"counter_blocks": 2**27}):
        with pytest.raises(BAD_ARG):
            be.State.create(path + ".x", **{**SMALL, **bad})
    assert not os.path.exists(path + ".x")


def test_closed_state_raises(be, path):
    s = be.State.create(path, **SMALL)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StateError):
        s.claim(["1001"], "c")


def _create_worker(name: str, path: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    with _backend(name).State.create(path, **SMALL) as s:
        s.add_destination(f"100{os.getpid() % 10}")
        out.put((s.destinations, s.memory, s.numbers))


def test_racing_creators_end_with_one_valid_file(be, path):
    n = 4
    barrier, out = CTX.Barrier(n), CTX.Queue()
    procs = [
        CTX.Process(target=_create_worker, args=(be.name, path, barrier, out)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert [out.get(timeout=1) for _ in range(n)] == [(16, 16, 8)] * n
    assert os.listdir(os.path.dirname(path)) == ["state"]  # no temporary file left
    with be.State.open(path) as s:
        assert len(s.destinations_now()) >= 1  # every creator wrote into the same file


# -- bad files -------------------------------------------------------------------------------


def _expect_bad(be: Backend, path: str, data: bytes, words: str | None = None) -> str:
    Path(path).write_bytes(data)
    with pytest.raises(StateError, match=error_match(be, words) if words else None) as e:
        be.State.open(path)
    assert str(e.value)
    return str(e.value)


def _good(be: Backend, path: str) -> bytes:
    be.State.create(path, **SMALL).close()
    data = Path(path).read_bytes()
    os.unlink(path)
    return data


def _with_crc(data: bytes) -> bytes:
    """The header's CRC made right again: over [0, 40) and the pools' sizes [80, 96)."""
    return data[:40] + struct.pack("<I", zlib.crc32(data[:40] + data[80:96])) + data[44:]


def test_missing_and_empty_files(be, path, tmp_path):
    with pytest.raises(StateError, match=error_match(be, "no state file")):
        be.State.open(path)
    _expect_bad(be, path, b"", "empty")
    with pytest.raises(StateError):
        be.State.open(str(tmp_path))  # a directory


def test_truncated_files(be, path):
    good = _good(be, path)
    for cut in range(1, HEADER + 1):
        _expect_bad(be, path, good[:cut], "truncated")
    for cut in (HEADER + 8, HEADER + DEST, len(good) - 8, len(good) - 1):
        _expect_bad(be, path, good[:cut], "truncated")
    _expect_bad(be, path, good + bytes(8), "too long")


def test_foreign_and_corrupt_headers(be, path):
    good = _good(be, path)
    rng = random.Random(7)
    for size in (3, 64, 128, 4096):
        _expect_bad(be, path, bytes(rng.randrange(256) for _ in range(size)), "not a routecore")
    _expect_bad(be, path, b"RCTR" + good[4:], "not a routecore")
    _expect_bad(be, path, good[:4] + struct.pack("<H", 4) + good[6:], "version 4")
    _expect_bad(be, path, _with_crc(good[:4] + struct.pack("<H", 4) + good[6:]), "version 4")
    pools = good[:80] + struct.pack("<I", 17) + good[84:]  # the lease pool's size, CRC not
    _expect_bad(be, path, pools, "CRC")
    _expect_bad(be, path, _with_crc(pools))  # its CRC right: the length is not
    _expect_bad(be, path, _with_crc(good[:88] + struct.pack("<I", 16) + good[92:]))  # W = 16
    flipped = good[:8] + struct.pack("<I", 17) + good[12:]  # destinations changed, CRC not
    _expect_bad(be, path, flipped, "CRC")
    _expect_bad(be, path, good[:40] + struct.pack("<I", 0xDEADBEEF) + good[44:], "CRC")
    # Consistent CRC but the sizes do not give the file's length, or are out of range.
    _expect_bad(be, path, _with_crc(flipped), "")
    zero_d = good[:8] + struct.pack("<I", 0) + good[12:]
    _expect_bad(be, path, _with_crc(zero_d))
    _expect_bad(be, path, _with_crc(good[:12] + struct.pack("<I", 4) + good[16:]))  # L = 4
    _expect_bad(be, path, _with_crc(good[:32] + struct.pack("<Q", 2**62) + good[40:]))
    _expect_bad(be, path, _with_crc(good[:6] + struct.pack("<H", 64) + good[8:]))


def test_random_damage_never_crashes(be, path):
    good = _good(be, path)
    rng = random.Random(11)
    for _ in range(200):
        data = bytearray(good[: rng.choice([HEADER, len(good)])])
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(48)] = rng.randrange(256)
        Path(path).write_bytes(bytes(data))
        try:
            be.State.open(path).close()
        except StateError:
            pass


# -- claims ----------------------------------------------------------------------------------


def test_claim_first_with_room_in_order(st):
    st.add_destination("1001", capacity=1)
    st.add_destination("1002", capacity=2)
    a = st.claim(["1001", "1002"], "call-a")
    assert a.numbers == ("1001",) and a.call_id == "call-a" and len(a.leases) == 1
    slot, lease, cid = a.leases[0]
    assert lease == 0 and cid >> 32 == pytest.approx(time.time(), abs=2)
    assert peek(st.path, lease_off(slot, 0), "QQI")[:3] == (cid, cid, os.getpid())
    assert peek(st.path, lease_off(slot, 0) + 40, "B6s") == (6, b"call-a")
    b = st.claim(["1001", "1002"], "call-b")
    c = st.claim(["1001", "1002"], "call-c")
    assert b.numbers == c.numbers == ("1002",)
    assert {b.leases[0][1], c.leases[0][1]} == {0, 1}
    assert st.claim(["1001", "1002"], "call-d") is None  # every room taken
    assert st.destination("1002").busy == 2
    assert st.idle(["1001", "1002", "1003"]) == [False, False, True]
    assert st.release(b) == 1
    assert st.idle(["1002"]) == [True]
    assert st.claim(["1001", "1002"], "call-e").numbers == ("1002",)


def test_unknown_candidates_are_inserted(st):
    assert st.destination("13800138000") is None
    c = st.claim(["13800138000"], "x")
    d = st.destination("13800138000")
    assert c.numbers == ("13800138000",)
    assert (d.number, d.capacity, d.online, d.busy) == ("13800138000", 1, True, 1)
    assert [x.number for x in st.destinations_now()] == ["13800138000"]


def test_capacity_and_online(st):
    st.add_destination("2001", capacity=3, online=False)
    assert st.claim(["2001"], "c") is None  # offline
    st.set_online("2001", True)
    claims = [st.claim(["2001"], f"c{i}") for i in range(4)]
    assert [c is not None for c in claims] == [True, True, True, False]
    st.set_capacity("2001", 1)  # lowering it evicts nobody: records 1 and 2 drain as calls end
    assert st.claim(["2001"], "c") is None
    assert st.release(claims[1]) == 1 and st.release(claims[2]) == 1
    assert st.claim(["2001"], "c") is None  # only record 0 counts now
    assert st.release(claims[0]) == 1
    assert st.claim(["2001"], "c") is not None
    st.add_destination("2001", capacity=2)  # update
    d = st.destination("2001")
    assert (d.capacity, d.online, d.busy) == (2, True, 1)
    with pytest.raises(StateError):
        st.set_online("2999", True)
    with pytest.raises(StateError):
        st.set_capacity("2999", 1)
    for cap in (0, 101, -1):
        with pytest.raises(StateError):
            st.add_destination("2001", capacity=cap)


def test_simultaneous_ring_and_keep(st):
    st.add_destination("3003", capacity=1, online=False)
    hold = st.claim(["3002"], "other")
    c = st.claim(["3001", "3002", "3003", "3004"], "ring", all=True)
    assert c.numbers == ("3001", "3004") and len(c.leases) == 2
    assert st.release(c, keep="3004") == 1
    assert st.destination("3001").busy == 0 and st.destination("3004").busy == 1
    assert st.release(c, keep="3004") == 0
    assert st.release(c) == 1  # the kept one, at hang-up
    assert st.release(c) == 0  # twice: harmless, reported by the 0
    assert st.release(hold) == 1
    assert st.claim(["3002"], "r", all=True).numbers == ("3002",)
    assert st.claim(["3002"], "r", all=True) is None


def test_duplicated_candidates_count_once(st):
    st.add_destination("4001", capacity=3)
    c = st.claim(["4001", "4001", "4001"], "dup", all=True)
    assert c.numbers == ("4001",) and st.destination("4001").busy == 1
    c = st.claim(["4002", "4001", "4002"], "dup", all=True)
    assert c.numbers == ("4002", "4001")


@pytest.mark.parametrize(
    "bad", [["12"], ["1" * 21], ["12a4"], ["１２３"], [""], ["+8613800138000"], [12345]]
)
def test_invalid_numbers(st, bad):
    error = StateError if isinstance(bad[0], str) else BAD_ARG
    with pytest.raises(error):
        st.claim(bad, "c")
    with pytest.raises(error):
        st.claim(["1001", *bad], "c")
    assert st.destinations_now() == []  # nothing inserted or claimed on a rejected request
    with pytest.raises(error):
        st.add_destination(bad[0])


def test_state_error_is_a_value_error(st):
    with pytest.raises(ValueError):
        st.claim(["x"], "c")
    assert issubclass(StateError, RoutecoreError) and routecore.StateError is StateError


def test_empty_candidates_and_long_call_id(st):
    assert st.claim([], "c") is None
    c = st.claim(["5001"], "x" * 40)
    assert c.call_id == "x" * 40
    slot, lease, _ = c.leases[0]
    assert peek(st.path, lease_off(slot, lease) + 40, "B23s") == (23, b"x" * 23)


def test_extend(st):
    c = st.claim(["6001", "6002"], "c", lease=5, all=True)
    off = lease_off(*c.leases[0][:2])
    before = peek(st.path, off + 32, "Q")[0]
    assert before == pytest.approx(time.time() * 1000 + 5000, abs=2000)
    assert st.extend(c, 100) == 2
    assert peek(st.path, off + 32, "Q")[0] == pytest.approx(time.time() * 1000 + 100_000, abs=2000)
    st.release(c, keep="6002")
    assert st.extend(c, 100) == 1


def test_full_destination_table(be, path):
    with be.State.create(path, destinations=2, memory=8, numbers=1) as s:
        s.claim(["7001", "7002"], "c", all=True)
        with pytest.raises(StateError, match=error_match(be, "full")):
            s.claim(["7003"], "c")
        with pytest.raises(StateError):
            s.claim(["7004", "7003"], "c", all=True)
        assert [d.busy for d in s.destinations_now()] == [1, 1]  # nothing leaked


# -- stale leases ----------------------------------------------------------------------------


def test_expired_lease_is_reclaimed_by_the_next_claim(st):
    c = st.claim(["8001"], "short", lease=0.05)
    assert st.claim(["8001"], "next") is None
    time.sleep(0.07)
    assert st.destination("8001").busy == 0  # stale leases are not busy
    n = st.claim(["8001"], "next")
    assert n is not None and n.leases[0][:2] == c.leases[0][:2]
    assert st.release(c) == 0 and st.release(n) == 1


def test_expired_lease_is_reclaimed_by_reap(st):
    st.add_destination("8002", capacity=2)
    st.claim(["8002"], "short", lease=0.05)
    keep = st.claim(["8002"], "long", lease=60)
    assert st.reap() == 0
    time.sleep(0.07)
    assert st.reap() == 1 and st.reap() == 0
    assert st.destination("8002").busy == 1 and st.release(keep) == 1


def test_lease_of_a_dead_pid_is_reclaimed(st):
    c = st.claim(["8003"], "c")
    off = lease_off(*c.leases[0][:2])
    poke(st.path, off + 16, "I", dead_pid())
    assert st.destination("8003").busy == 0
    assert st.claim(["8003"], "d") is not None  # the next claim takes it


def test_reused_pid_is_told_by_its_start_time(st):
    st.add_destination("8004", capacity=2)
    a, b = st.claim(["8004"], "a"), st.claim(["8004"], "b")
    mine = start_time(os.getpid())
    assert peek(st.path, lease_off(*a.leases[0][:2]) + 24, "Q")[0] == mine
    assert st.reap() == 0  # right pid, right start time: alive
    poke(st.path, lease_off(*a.leases[0][:2]) + 24, "Q", mine + 1)  # pid reused
    assert st.reap() == 1
    assert st.release(a) == 0 and st.release(b) == 1


def test_unwritten_fields_wait_ten_seconds(st):
    c = st.claim(["8005"], "c")
    off = lease_off(*c.leases[0][:2])
    word = c.leases[0][2]
    poke(st.path, off + 8, "Q", 0)  # died between the CAS and the writes: fields not its own
    assert st.reap() == 0  # maybe still writing
    poke(st.path, off, "Q", word - (11 << 32))  # the same, taken 11 s ago
    assert st.reap() == 1


def _hold_and_wait(name: str, path: str, numbers: list[str], ready: Any) -> None:
    with _backend(name).State.open(path) as s:
        c = s.claim(numbers, f"child-{os.getpid()}", all=True)
        ready.put(None if c is None else len(c.leases))
        time.sleep(30)


def test_sigkilled_holder_is_reclaimed(be, st):
    ready = CTX.Queue()
    p = CTX.Process(target=_hold_and_wait, args=(be.name, st.path, ["8006", "8007"], ready))
    p.start()
    assert ready.get(timeout=10) == 2
    assert st.claim(["8006"], "me") is None
    os.kill(p.pid, signal.SIGKILL)
    p.join(5)
    assert st.reap() == 2
    assert [st.destination(n).busy for n in ("8006", "8007")] == [0, 0]


# -- many processes -------------------------------------------------------------------------

STRESS = {"9001": 1, "9002": 2, "9003": 2, "9004": 1}


def _stress_worker(name: str, path: str, seconds: float, seed: int, log: str) -> None:
    rng = random.Random(seed)
    numbers = list(STRESS)
    entries = []
    with _backend(name).State.open(path) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            cands = rng.sample(numbers, rng.randrange(1, len(numbers) + 1))
            c = s.claim(cands, f"w{seed}", all=rng.random() < 0.3)
            if c is None:
                continue
            if len(c.numbers) > 1 and rng.random() < 0.5:
                freed = [s.release(c, keep=c.numbers[-1]), s.release(c)]
            else:
                freed = [s.release(c), s.release(c)]
            entries.append({"leases": [list(x) for x in c.leases], "freed": freed})
    Path(log).write_text(json.dumps(entries))


def test_many_processes_never_exceed_capacity(be, st, tmp_path):
    for number, cap in STRESS.items():
        st.add_destination(number, capacity=cap)
    slots = {}
    for number, cap in STRESS.items():
        c = st.claim([number], "probe")
        slots[c.leases[0][0]] = cap
        st.release(c)
    records = {slot: peek(st.path, HEADER + slot * DEST + 76, "I")[0] for slot in slots}
    offs = {slot: [lease_off(slot, j, st.path) for j in range(records[slot])] for slot in slots}
    logs = [str(tmp_path / f"log{i}") for i in range(4)]
    procs = [
        CTX.Process(target=_stress_worker, args=(be.name, st.path, 1.5, i, logs[i]))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    samples = max_seen = 0
    with open(st.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        while any(p.is_alive() for p in procs):
            for slot, cap in slots.items():
                records = struct.unpack_from("<I", mm, HEADER + slot * DEST + 76)[0]
                assert records <= max(32, cap), (slot, records)  # what its capacity needs
                words = [struct.unpack_from("<Q", mm, offs[slot][j])[0] for j in range(records)]
                held = [w for w in words if w]
                assert len(held) <= cap, (slot, words)
                assert not any(words[cap:]), (slot, words)  # only the first `capacity` records
                max_seen = max(max_seen, len(held))
            samples += 1
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    entries = [e for log in logs for e in json.loads(Path(log).read_text())]
    assert len(entries) > 100 and samples > 10 and max_seen >= 1
    for e in entries:
        assert sum(e["freed"]) == len(e["leases"])  # every lease released exactly once
    ids = [tuple(x) for e in entries for x in e["leases"]]
    assert len(set(ids)) == len(ids)
    assert all(st.destination(n).busy == 0 for n in STRESS)
    assert all(w == 0 for slot in slots for w in held_words(st.path, st.destinations)[slot])


def _churn_worker(name: str, path: str, numbers: list[str], ready: Any) -> None:
    with _backend(name).State.open(path) as s:
        ready.put(True)
        while True:
            c = s.claim(numbers, f"churn-{os.getpid()}", all=True, lease=600)
            if c is not None:
                time.sleep(random.random() * 0.002)
                s.release(c)


def test_crashed_processes_leave_nothing_busy(be, st):
    churn = ["9101", "9102", "9103"]
    for n in churn:
        st.add_destination(n, capacity=2)
    mine = st.claim(["9201"], "parent", lease=600)
    ready = CTX.Queue()
    holder = CTX.Process(target=_hold_and_wait, args=(be.name, st.path, ["9202"], ready))
    holder.start()
    assert ready.get(timeout=10) == 1
    rng = random.Random(5)
    workers = [
        CTX.Process(target=_churn_worker, args=(be.name, st.path, churn, ready)) for _ in range(3)
    ]
    for p in workers:
        p.start()
    for _ in workers:
        ready.get(timeout=10)
    for p in workers:
        time.sleep(rng.uniform(0.01, 0.15))
        os.kill(p.pid, signal.SIGKILL)
        p.join(5)
    reaped = st.reap()
    # A worker killed between its CAS and its writes leaves a record whose fields are not its
    # own: reclaimed after 10 s. Age those by hand instead of waiting.
    words = held_words(st.path, st.destinations)
    for slot, row in enumerate(words):
        for j, w in enumerate(row):
            off = lease_off(slot, j, st.path)
            if w and peek(st.path, off + 8, "Q")[0] != w:
                poke(st.path, off, "Q", w - (11 << 32))
    reaped += st.reap()
    assert reaped >= 1  # the workers were killed holding leases (each holds ~95% of the time)
    assert [st.destination(n).busy for n in churn] == [0, 0, 0]
    assert st.destination("9201").busy == 1 and st.destination("9202").busy == 1  # undisturbed
    assert st.release(mine) == 1
    holder.kill()
    holder.join(5)


# -- call memory --------------------------------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


def at(zone: ZoneInfo, *args: int) -> float:
    return datetime(*args, tzinfo=zone).timestamp()


def test_memory_expires_at_midnight_in_shanghai(st):
    st.remember("4008001234", "13800138000", "02161234567", at(SH, 2025, 3, 10, 23, 59))
    assert st.recall("4008001234", "13800138000", at(SH, 2025, 3, 10, 23, 59, 30)) == "02161234567"
    assert st.recall("4008001234", "13800138000", at(SH, 2025, 3, 10, 0, 0, 1)) == "02161234567"
    assert st.recall("4008001234", "13800138000", at(SH, 2025, 3, 11, 0, 1)) is None
    assert st.recall("4008001234", "13900000000", at(SH, 2025, 3, 10, 23, 59)) is None
    assert st.recall("4008009999", "13800138000", at(SH, 2025, 3, 10, 23, 59)) is None
    st.remember("4008001234", "13800138000", "1002", at(SH, 2025, 3, 10, 23, 59, 40))
    assert st.recall("4008001234", "13800138000", at(SH, 2025, 3, 10, 23, 59, 50)) == "1002"


def test_memory_in_another_time_zone(st):
    ny = ZoneInfo("America/New_York")
    t = at(ny, 2025, 7, 1, 23, 0)  # already July 2nd, 11:00, in Shanghai
    st.remember("4008001234", "anonymous", "1001", t, tz="America/New_York")
    assert st.recall("4008001234", "anonymous", t + 1800, tz="America/New_York") == "1001"
    assert (
        st.recall("4008001234", "anonymous", at(ny, 2025, 7, 2, 0, 1), tz="America/New_York")
        is None
    )
    # The same instant is another day in Shanghai: no memory for that day.
    assert st.recall("4008001234", "anonymous", t + 1800) is None
    with pytest.raises(StateError):
        st.recall("4008001234", "anonymous", t, tz="Mars/Olympus")
    with pytest.raises(StateError):
        st.remember("4008001234", "anonymous", "1001", t, tz="Nowhere/Else")


def test_full_memory_gives_way_to_the_newest(be, path):
    with be.State.create(path, destinations=4, memory=8, numbers=1) as s:  # one probe window
        base = at(SH, 2025, 3, 10, 9, 0)
        callers = [f"1380000{i:04d}" for i in range(12)]
        for i, caller in enumerate(callers):
            s.remember("4008001234", caller, f"10{i:02d}", base + i)
        got = [s.recall("4008001234", c, base + 60) for c in callers]
        assert got == [None] * 4 + [f"10{i:02d}" for i in range(4, 12)]
        # Entries of an earlier day give way before the oldest of today.
        s.remember("4008001234", "13900000000", "2000", base + 86400)
        assert s.recall("4008001234", "13900000000", base + 86400) == "2000"
        assert sum(s.recall("4008001234", c, base + 60) is not None for c in callers) == 7


@pytest.mark.parametrize(
    "args",
    [
        ("400800123456789012", "1", "1001"),  # 400 number longer than 15
        ("40a", "1", "1001"),
        ("4008001234", "", "1001"),
        ("4008001234", "x" * 24, "1001"),
        ("4008001234", "1", "10"),
    ],
)
def test_memory_rejects_bad_keys(st, args):
    with pytest.raises(StateError):
        st.remember(*args, at(SH, 2025, 3, 10, 9, 0))


def test_memory_rejects_bad_times(st):
    for t in (float("nan"), float("inf"), 1e300):
        with pytest.raises(StateError):
            st.remember("4008001234", "1", "1001", t)


# -- counters -----------------------------------------------------------------------------


def test_branch_counts_by_day(st):
    d1 = at(SH, 2025, 3, 10, 23, 59)
    d2 = at(SH, 2025, 3, 11, 0, 1)
    for _ in range(2):
        st.count_branch("4008001234", 3, d1)
    st.count_branch("4008001234", 31, d1)
    st.count_branch("4008001234", 3, d2)
    c1 = st.branch_counts("4008001234", d1)
    assert c1.dtype == np.uint32 and c1.shape == (256,)
    assert c1[3] == 2 and c1[31] == 1 and c1.sum() == 3
    assert st.branch_counts("4008001234", d2).tolist() == [0, 0, 0, 1] + [0] * 252
    assert st.branch_counts("4008009999", d1).sum() == 0
    later = d1 + 8 * 86400  # the same day block, eight days on
    st.count_branch("4008001234", 5, later)
    assert st.branch_counts("4008001234", later)[5] == 1
    assert st.branch_counts("4008001234", d1).sum() == 0  # that day is no longer kept
    st.count_branch("4008001234", 3, d1)  # a late count for a day gone: dropped
    assert st.branch_counts("4008001234", later).tolist() == [0] * 5 + [1] + [0] * 250
    for bad in (256, -1):
        with pytest.raises(StateError):
            st.count_branch("4008001234", bad, d1)


def test_full_counter_table(be, path):
    with be.State.create(path, destinations=4, memory=8, numbers=2) as s:
        t = at(SH, 2025, 3, 10, 12, 0)
        s.count_branch("4001", 0, t)
        s.count_branch("4002", 0, t)
        with pytest.raises(StateError):
            s.count_branch("4003", 0, t)


def test_record_attempt(st):
    st.record_attempt("1001", answered=True, talk_seconds=42)
    st.record_attempt("1001", answered=False)
    st.record_attempt("1001", answered=True, talk_seconds=8)
    d = st.destination("1001")
    assert (d.offered, d.answered, d.unanswered, d.talk_seconds) == (3, 2, 1, 50)
    with pytest.raises(BAD_ARG):
        st.record_attempt("1001", answered=True, talk_seconds=-1)


def test_numpy_views_see_later_writes(st):
    counters = state_views.destination_counters(st)
    blocks = state_views.counter_blocks(st)  # live, like the others; branch_counts is a copy
    counts = state_views.branch_counts(st)
    days = state_views.counter_days(st)
    assert counters.shape == (16, 4) and counters.dtype == np.uint64
    assert counts.shape == (8, 8, 256) and counts.dtype == np.uint32
    assert blocks.shape == (SMALL_POOLS[1], 8, 8) and not blocks.flags.owndata
    assert not counters.flags.owndata and not counters.flags.writeable
    assert counters.sum() == 0 and counts.sum() == 0
    st.record_attempt("1001", answered=True, talk_seconds=30)
    st.record_attempt("1001", answered=False)
    t = at(SH, 2025, 3, 10, 12, 0)
    st.count_branch("4008001234", 7, t)
    st.count_branch("4008001234", 7, t)
    slot = st.claim(["1001"], "c").leases[0][0]
    assert counters[slot].tolist() == [2, 1, 1, 30]
    assert counters.sum() == 34
    rows = state_views.counter_numbers(st)
    row = rows.index("4008001234")
    assert sum(r is not None for r in rows) == 1
    day = (datetime(2025, 3, 10) - datetime(1970, 1, 1)).days
    assert days[row, day % 8] == day
    assert counts.sum() == 0, "a snapshot taken before the counts"
    block = state_views.row_blocks(st)[row, 0]  # the pool index of the row's branches 0-7
    assert block >= 0 and (state_views.row_blocks(st)[row, 1:] == -1).all()
    assert blocks[block, day % 8, 7] == 2 and blocks.sum() == 2
    counts = state_views.branch_counts(st)
    assert counts[row, day % 8, 7] == 2 and counts.sum() == 2


def test_views_reject_a_mismatched_object(st, tmp_path):
    class Fake:
        path = st.path
        destinations = 99
        memory = 16
        numbers = 8

    with pytest.raises(StateError):
        state_views.destination_counters(Fake())


def test_generation_range(st):
    st.set_generation(2**64 - 1)
    assert st.generation == 2**64 - 1
    for bad in (-1, 2**64):
        with pytest.raises(BAD_ARG):
            st.set_generation(bad)


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_probing_follows_the_spec(st):
    # Slots, memory entries and counter rows sit at `h mod size` when nothing collides; keys
    # are `h | 1`. Numbers with an even h tell `h mod D` from `(h | 1) mod D`.
    numbers, used = [], set()
    for i in range(1000, 2000):
        h = fnv1a64(str(i).encode())
        if h % 16 not in used and (h % 2 == 0 or len(numbers) % 2):
            numbers.append(str(i))
            used.add(h % 16)
        if len(numbers) == 4:
            break
    for number in numbers:
        h = fnv1a64(number.encode())
        c = st.claim([number], "c")
        assert c.leases[0][0] == h % 16
        assert peek(st.path, HEADER + (h % 16) * DEST, "QB")[:2] == (h | 1, len(number))
    mem = HEADER + 16 * DEST + SMALL_POOLS[0] * LEASE  # after the slots and the lease pool
    for caller in ("13800138000", "13800138001", "13800138002"):
        h = fnv1a64(b"4008001234\0" + caller.encode())
        st.remember("4008001234", caller, "1001", at(SH, 2025, 3, 10, 9, 0))
        assert peek(st.path, mem + (h % 16) * MEM + 8, "Q")[0] == h | 1
    rows = mem + 16 * MEM
    for did in ("4008001234", "4008001235", "4008001236"):
        h = fnv1a64(did.encode())
        if peek(st.path, rows + (h % 8) * ROW, "Q")[0] == 0:
            st.count_branch(did, 0, at(SH, 2025, 3, 10, 9, 0))
            assert peek(st.path, rows + (h % 8) * ROW, "QB")[:2] == (h | 1, len(did))


def _claim_with_inherited(state: Any, ready: Any) -> None:
    ready.put(state.claim(["8101"], "inherited") is not None)
    time.sleep(30)


def test_forked_child_claims_as_itself(st):
    # A State opened before fork: the child's leases carry the child's pid and start time (not
    # the parent's, cached), and the child takes the file lock as its own.
    mine = st.claim(["8102"], "parent")
    ready = CTX.Queue()
    p = CTX.Process(target=_claim_with_inherited, args=(st, ready))
    p.start()
    assert ready.get(timeout=10)
    owners = [
        peek(st.path, lease_off(s, j, st.path) + 16, "IIQ")
        for s, row in enumerate(held_words(st.path, st.destinations))
        for j, w in enumerate(row)
        if w
    ]
    ns = _pid_namespace()  # the owner's PID namespace, the same for both
    assert sorted(owners) == sorted(
        [(os.getpid(), ns, start_time(os.getpid())), (p.pid, ns, start_time(p.pid))]
    )
    os.kill(p.pid, signal.SIGKILL)
    p.join(5)
    assert st.reap() == 1 and st.release(mine) == 1


# -- layout version 3: capacity up to 100 and 256 branches from pools, round-robin cursors -----


def test_a_version_2_file_is_refused(be, path):
    good = _good(be, path)
    v2 = _with_crc(good[:4] + struct.pack("<H", 2) + good[6:])
    message = _expect_bad(be, path, v2)
    assert "layout version 2 is not supported (this build reads 3)" in message
    assert "remove the file and create it again" in message
    with pytest.raises(StateError, match="remove the file"):
        be.State.create(path, **SMALL)  # create opens the file that is there: refused too


def test_the_default_file_is_allocated_at_create_and_quick(be, path):
    # Every block is allocated by create (posix_fallocate), so a full file system is an error
    # there, never a SIGBUS at a later write into a hole.
    t = time.perf_counter()
    with be.State.create(path) as s:
        took = time.perf_counter() - t
        assert (s.destinations, s.memory, s.numbers) == (4096, 65536, 1024)
        assert (s.leases, s.counter_blocks) == (4196, 2080)
        assert os.path.getsize(path) == file_len(4096, 65536, 1024) == 8_198_528
        assert os.stat(path).st_blocks * 512 >= 8_198_528  # no hole left
        s.add_destination("01065528888", capacity=100)
        assert s.claim(["01065528888"], "c") is not None
    assert took < 1.0


def test_a_trunk_of_capacity_30(st):
    st.add_destination("01065528888", capacity=30)
    claims = [st.claim(["01065528888"], f"c{i}") for i in range(31)]
    assert [c is not None for c in claims] == [True] * 30 + [False]
    assert sorted(c.leases[0][1] for c in claims[:30]) == list(range(30))
    assert st.destination("01065528888").busy == 30
    assert st.idle(["01065528888"]) == [False]
    assert st.release(claims[12]) == 1
    again = st.claim(["01065528888"], "again")
    assert again is not None and again.leases[0][1] == 12
    assert st.claim(["01065528888"], "one too many") is None
    slot = again.leases[0][0]
    assert peek(st.path, HEADER + slot * DEST + 72, "I")[0] == 30  # used: the largest capacity
    # Lowering the capacity evicts nobody: the records above it still count, and are reaped.
    st.set_capacity("01065528888", 2)
    assert st.destination("01065528888").busy == 30
    poke(st.path, lease_off(slot, 29, st.path) + 32, "Q", 1)  # record 29's deadline long past
    assert st.reap() == 1 and st.destination("01065528888").busy == 29
    st.set_capacity("01065528888", 100)
    assert sum(st.claim(["01065528888"], f"d{i}") is not None for i in range(80)) == 71


def test_pools_fill_to_their_last_item_and_refuse_one_more(be, path):
    sizes = {**SMALL, "leases": 3, "counter_blocks": 4}
    with be.State.create(path, **sizes) as s:
        assert (s.leases, s.counter_blocks) == (3, 4)
        s.add_destination("1001", capacity=4)  # records 1-3: the whole pool
        assert peek(path, 96, "I")[0] == 3
        assert [s.claim(["1001"], f"c{i}") is not None for i in range(5)] == [True] * 4 + [False]
        with pytest.raises(StateError, match=error_match(be, r"lease pool is full \(3 lease")):
            s.add_destination("1002", capacity=2)
        assert s.destination("1002").capacity == 1 and peek(path, 96, "I")[0] == 3
        assert s.claim(["1002", "1003"], "phones", all=True) is not None  # need no pool
        t = at(SH, 2025, 3, 10, 12, 0)
        s.count_branch("4008001234", 31, t)  # blocks 0-3: the whole pool
        assert peek(path, 100, "I")[0] == 4
        with pytest.raises(StateError, match=error_match(be, "counter pool is full")):
            s.count_branch("4008005678", 0, t)
        assert peek(path, 100, "I")[0] == 4
        s.count_branch("4008001234", 0, t)
        assert s.branch_counts("4008001234", t)[[0, 31]].tolist() == [1, 1]
        assert s.pool_use() == (3, 4)  # what the header says was handed out


def test_capacity_101_is_refused(st):
    for bad in (101, 1000):
        with pytest.raises(StateError):
            st.add_destination("2101", capacity=bad)
    assert st.destination("2101") is None
    st.add_destination("2101", capacity=100)
    for bad in (101, 0):
        with pytest.raises(StateError):
            st.set_capacity("2101", bad)
    assert st.destination("2101").capacity == 100


def test_branch_255_is_counted_and_256_refused(be, st):
    t = at(SH, 2025, 3, 10, 12, 0)
    st.count_branch("4008001234", 255, t)
    st.count_branch("4008001234", 128, t)
    counts = st.branch_counts("4008001234", t)
    assert counts.shape == (256,) and counts[255] == 1 and counts[128] == 1 and counts.sum() == 2
    for bad in (256, 1000):
        with pytest.raises(StateError, match=error_match(be, r"0\.\.255")):
            st.count_branch("4008001234", bad, t)
    assert st.branch_counts("4008001234", t).sum() == 2
    views = state_views.branch_counts(st)
    assert views.shape == (8, 8, 256) and views.sum() == 2
    assert peek(st.path, 100, "I")[0] == 32, "branch 255 made the row hold all 32 blocks"
    row = state_views.counter_numbers(st).index("4008001234")
    assert views[row, local_day(t) % 8, 255] == 1


def local_day(t: float) -> int:
    return (datetime.fromtimestamp(t, SH).date() - datetime(1970, 1, 1).date()).days


def test_the_branch_bound_is_exported():
    assert routecore._native.STATE_BRANCHES == routecore.py.state.STATE_BRANCHES == BRANCHES
    assert routecore.backend.native.STATE_BRANCHES == routecore.py.STATE_BRANCHES == BRANCHES


def test_next_cursor_counts_up(st):
    assert [st.next_cursor("4008001234", "sales") for _ in range(3)] == [0, 1, 2]
    assert st.next_cursor("4008001234", "support") == 0  # another group
    assert st.next_cursor("4008005678", "sales") == 0  # the same group of another number
    assert st.next_cursor("4008001234", "Sales") == 0  # names are case-sensitive
    assert st.next_cursor("4008001234", "sales") == 3
    assert st.next_cursor("4008001234", "销售") == 0  # UTF-8 names
    assert st.next_cursor("4008005678", "sales") == 1


def test_next_cursor_follows_the_spec(st):
    base = HEADER + 16 * DEST + SMALL_POOLS[0] * LEASE + 16 * MEM + 8 * ROW
    base += SMALL_POOLS[1] * BLOCK  # after the counter rows and the counter blocks
    for group in ("sales", "support", "组" * 64):
        h = fnv1a64(b"4008001234\0" + group.encode())
        for _ in range(5):
            st.next_cursor("4008001234", group)
        i = h % (16 * 8)
        while peek(st.path, base + i * CURSOR, "Q")[0] != h | 1:
            i = (i + 1) % (16 * 8)  # a collision moved it on, within 16 entries
        assert (i - h) % (16 * 8) < 16
        assert peek(st.path, base + i * CURSOR, "QQ") == (h | 1, 5)
    # A value written into the file is the one handed out next (no cache in either backend).
    h = fnv1a64(b"4008001234\0sales")
    i = h % (16 * 8)
    while peek(st.path, base + i * CURSOR, "Q")[0] != h | 1:
        i = (i + 1) % (16 * 8)
    poke(st.path, base + i * CURSOR + 8, "Q", 2**64 - 1)
    assert st.next_cursor("4008001234", "sales") == 2**64 - 1
    assert st.next_cursor("4008001234", "sales") == 0  # wraps


def test_next_cursor_table_full(be, path):
    with be.State.create(path, destinations=4, memory=8, numbers=1) as s:  # 16 entries
        assert [s.next_cursor("4008001234", f"g{i}") for i in range(16)] == [0] * 16
        assert s.next_cursor("4008001234", "one more") is None
        assert s.next_cursor("4008009999", "g0") is None
        assert s.next_cursor("4008001234", "g5") == 1  # the ones in stay


@pytest.mark.parametrize(
    ("did", "group"),
    [("4008001234", ""), ("4008001234", "g" * 65), ("40a", "g"), ("4" * 16, "g"), ("12", "g")],
)
def test_next_cursor_rejects_bad_names(st, did, group):
    with pytest.raises(StateError):
        st.next_cursor(did, group)


def test_next_cursor_bad_types(st):
    with pytest.raises(BAD_ARG):
        st.next_cursor("4008001234", 7)
    with pytest.raises(BAD_ARG):
        st.next_cursor(4008001234, "g")


def test_cursors_survive_reopening(be, path):
    with be.State.create(path, **SMALL) as s:
        assert s.next_cursor("4008001234", "sales") == 0
        s.bump_generation()  # a publish
    with be.State.open(path) as s:
        assert s.next_cursor("4008001234", "sales") == 1


def _cursor_worker(name: str, path: str, barrier: Any, out: Any) -> None:
    with _backend(name).State.open(path) as s:
        barrier.wait()
        out.put([s.next_cursor("4008001234", "sales") for _ in range(200)])


def _two_processes(worker: Any, be: Any, st: Any) -> list[Any]:
    """Run ``worker`` in two processes on the same file; what both put, concatenated."""
    barrier, out = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=worker, args=(be.name, st.path, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results: list[Any] = out.get(timeout=30) + out.get(timeout=30)
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    return results


def test_two_processes_share_one_cursor(be, st):
    seen = _two_processes(_cursor_worker, be, st)
    assert sorted(seen) == list(range(400))  # every value exactly once
    assert st.next_cursor("4008001234", "sales") == 400


def _trunk_worker(name: str, path: str, barrier: Any, out: Any) -> None:
    with _backend(name).State.open(path) as s:
        barrier.wait()
        got = [s.claim(["01065528888"], f"w{os.getpid()}-{i}") for i in range(20)]
        out.put([list(c.leases[0]) for c in got if c is not None])
        barrier.wait()  # hold the leases until both are done: a dead owner's lease is stale


def test_two_processes_never_exceed_a_capacity_of_30(be, st):
    st.add_destination("01065528888", capacity=30)
    leases = _two_processes(_trunk_worker, be, st)
    assert len(leases) == 30  # 40 claims, exactly 30 successes
    assert sorted(j for _, j, _ in leases) == list(range(30))
    assert len({cid for _, _, cid in leases}) == 30


# -- hardening: half-failed claims, full file systems, files changed under a mapping, PID
# namespaces -------------------------------------------------------------------------------


def test_a_half_failed_claim_of_all_releases_the_leases_it_took(be, path):
    with be.State.create(path, destinations=2, memory=8, numbers=1) as s:
        s.add_destination("7001", capacity=1)
        s.add_destination("7002", capacity=2)  # the table is full now
        # 7001 and 7002 are claimed, then 7003 cannot be inserted: the claim raises, and the
        # two leases it took are free again at once (not held until they expire).
        with pytest.raises(StateError, match=error_match(be, "full")):
            s.claim(["7001", "7002", "7003"], "ring", all=True, lease=600)
        assert [d.busy for d in s.destinations_now()] == [0, 0]
        assert all(w == 0 for row in held_words(path, 2) for w in row)
        assert s.claim(["7001"], "next") is not None


# A child on a 4 MiB tmpfs of its own (a mount namespace of its own, so nothing outlives it)
# creates the default 8,198,528-byte file, then writes 2,048 destination slots.
_SMALL_TMPFS = r"""
import os, sys
import routecore.backend.native, routecore.py
from routecore.errors import StateError
be = routecore.backend.native if sys.argv[1] == "native" else routecore.py
folder = sys.argv[2]
try:
    s = be.State.create(os.path.join(folder, "state"))
except StateError as e:
    print("refused:", e)
    print("left:", sorted(os.listdir(folder)))
    sys.exit(0)
for i in range(2048):
    s.add_destination(f"138{i:08d}")
print("created and written")
"""


def test_create_on_a_full_tmpfs_is_a_state_error_not_a_sigbus(be, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    script = 'mount -t tmpfs -o size=4m tmpfs "$1" && echo mounted && exec "$2" -c "$3" "$4" "$1"'
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    try:
        r = subprocess.run(
            [*cmd, str(folder), sys.executable, _SMALL_TMPFS, be.name],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except FileNotFoundError:
        pytest.skip("no unshare command: a small tmpfs cannot be mounted here")
    if "mounted" not in r.stdout:
        pytest.skip(f"a tmpfs cannot be mounted here: {r.stderr.strip()}")
    assert r.returncode == 0, f"the child died (signal {-r.returncode}): {r.stdout} {r.stderr}"
    assert "refused:" in r.stdout and "cannot allocate" in r.stdout, r.stdout
    assert "8198528 bytes" in r.stdout, r.stdout
    assert "left: []" in r.stdout  # no temporary or partial file behind


_FILE_SIZE_LIMIT = r"""
import os, resource, signal, sys
import routecore.backend.native, routecore.py
from routecore.errors import StateError
be = routecore.backend.native if sys.argv[1] == "native" else routecore.py
folder = sys.argv[2]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    be.State.create(os.path.join(folder, "state"))
except StateError as e:
    print("refused:", e)
    print("left:", sorted(os.listdir(folder)))
"""


def test_create_beyond_the_file_size_limit_is_a_state_error(be, tmp_path):
    # Where no tmpfs can be mounted: a file-size limit makes the allocation fail (EFBIG).
    r = subprocess.run(
        [sys.executable, "-c", _FILE_SIZE_LIMIT, be.name, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, f"the child died (signal {-r.returncode}): {r.stderr}"
    assert "refused:" in r.stdout and "too large" in r.stdout.lower(), r.stdout
    assert "left: []" in r.stdout


def _ops_after(name: str, path: str, change: str, out: Any) -> None:
    """Open, claim, change the file under the mapping, then run the checked operations."""
    with _backend(name).State.open(path) as s:
        s.claim(["1001", "1002"], "c", all=True)
        if change == "truncate":
            os.truncate(path, 4096)
        results = []
        for op in ("reap", "destinations_now", "check"):
            try:
                getattr(s, op)()
                results.append(f"{op}: no error")
            except StateError as e:
                results.append(f"{op}: {e}")
        out.put(results)


def test_a_state_file_truncated_under_the_mapping_is_an_error_not_a_sigbus(be, path):
    be.State.create(path, **SMALL).close()
    out = CTX.Queue()
    p = CTX.Process(target=_ops_after, args=(be.name, path, "truncate", out))
    p.start()
    p.join(30)
    assert p.exitcode == 0, f"the process died (exit code {p.exitcode}; -7 is SIGBUS)"
    for result in out.get(timeout=1):
        assert "truncated to 4096 bytes" in result and "in place" in result, result


def test_a_state_file_copied_over_in_place_is_detected(be, path):
    s = be.State.create(path, **SMALL)
    s.claim(["1001"], "c")
    other = path + ".other"
    be.State.create(other, **SMALL).close()
    shutil.copyfile(other, path)  # as `cp other state` does: the same inode, other bytes
    for op in (s.check, s.reap, s.destinations_now):
        with pytest.raises(StateError, match="rewritten in place"):
            op()
    s.close()


def test_a_state_file_replaced_under_an_open_state_is_refused(be, path):
    s = be.State.create(path, **SMALL)
    s.claim(["1001"], "c")
    os.rename(path, path + ".old")
    be.State.create(path, **SMALL).close()  # a new file where the old one was
    for op in (s.check, s.reap, s.destinations_now):
        with pytest.raises(StateError, match="replaced by another file"):
            op()
    time.sleep(1.05)  # claims look at the file at most once a second
    with pytest.raises(StateError, match="replaced by another file"):
        s.claim(["1002"], "d")
    os.unlink(path)
    with pytest.raises(StateError, match="removed"):
        s.check()
    s.close()


def test_an_unchanged_state_file_passes_the_check(be, path):
    with be.State.create(path, **SMALL) as s:
        s.check()
        s.claim(["1001"], "c")
        s.bump_generation()  # the mutable header fields may change
        s.check()
        with be.State.open(path) as again:
            again.check()


def _pid_namespace() -> int:
    """This process's PID namespace id as a lease record stores it: the low 32 bits of the
    inode of /proc/self/ns/pid."""
    return os.stat("/proc/self/ns/pid").st_ino & 0xFFFFFFFF


def test_a_lease_records_its_owners_pid_namespace(be, path):
    with be.State.create(path, **SMALL) as s:
        c = s.claim(["8101"], "c")
        off = lease_off(*c.leases[0][:2])
        assert peek(path, off + 16, "II") == (os.getpid(), _pid_namespace())
        assert peek(path, 64, "Q")[0] == 0  # reserved: the header names no namespace
        assert peek(path, 72, "Q")[0] != 0  # the file id


def test_a_lease_of_another_pid_namespace_is_reclaimed_by_its_deadline_only(be, path):
    other = (_pid_namespace() + 1) & 0xFFFFFFFF or 1
    with be.State.create(path, **SMALL) as s:
        a = s.claim(["8102"], "a", lease=1.5)
        b = s.claim(["8103"], "b", lease=1.5)
        deadline = time.time() + 1.5
        offs = [lease_off(*c.leases[0][:2]) for c in (a, b)]
        gone = dead_pid()  # a dead pid here: in this namespace the leases would be stale at once
        for off in offs:
            poke(path, off + 16, "II", gone, other)
        assert s.reap() == 0
        assert s.idle(["8102", "8103"]) == [False, False]
        assert s.destination("8102").busy == 1
        assert s.claim(["8102"], "x") is None and s.claim(["8103"], "y") is None
        poke(path, offs[0] + 20, "I", 0)  # the owner's namespace unknown: judged by pid
        assert s.idle(["8102", "8103"]) == [True, False]
        poke(path, offs[0] + 20, "I", other)
        assert time.time() < deadline, "the checks above took longer than the lease"
        time.sleep(max(deadline - time.time(), 0) + 0.1)
        assert s.idle(["8102", "8103"]) == [True, True]
        assert s.destination("8102").busy == 0
        n = s.claim(["8102"], "next")  # reclaimed by a claim
        assert n is not None and n.leases[0][:2] == a.leases[0][:2]
        assert s.reap() == 1  # and by reap
        assert s.release(a) == 0 and s.release(b) == 0 and s.release(n) == 1


_HOLD_IN_CHILD = r"""
import json, os, sys
import routecore.backend.native, routecore.py
be = routecore.backend.native if sys.argv[1] == "native" else routecore.py
s = be.State.open(sys.argv[2])
c = s.claim(["9301"], "in-the-child", lease=60)
made = be.State.create(sys.argv[3], destinations=16, memory=16, numbers=8)
made.set_generation(5)
ns = os.stat("/proc/self/ns/pid").st_ino & 0xFFFFFFFF
print(json.dumps({"lease": c and list(c.leases[0]), "pid": os.getpid(), "ns": ns}), flush=True)
sys.stdin.readline()
print(json.dumps({"released": s.release(c)}), flush=True)
"""


def test_a_process_in_another_pid_namespace_shares_the_file(be, path):
    be.State.create(path, **SMALL).close()
    made = path + ".made"
    unshare = ["unshare", "--pid", "--fork", "--mount-proc"]
    try:
        child = subprocess.Popen(
            [*unshare, sys.executable, "-c", _HOLD_IN_CHILD, be.name, path, made],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except FileNotFoundError:
        pytest.skip("no unshare command")
    try:
        assert child.stdout is not None and child.stdin is not None
        ready, _, _ = select.select([child.stdout], [], [], 60)
        line = child.stdout.readline() if ready else ""
        if not line:
            child.kill()
            _, err = child.communicate(timeout=30)
            if "Traceback" in err:
                raise AssertionError(err)
            pytest.skip(f"no PID namespace can be made here: {err.strip()}")
        got = json.loads(line)
        assert got["lease"] is not None, "the child in its own namespace opened and claimed"
        assert got["ns"] != _pid_namespace(), "the child is in another PID namespace"
        slot, j, _ = got["lease"]
        off = lease_off(slot, j)
        # Its pid (1 in its namespace) names another process here: judged by deadline alone.
        assert peek(path, off + 16, "II") == (got["pid"], got["ns"])
        with be.State.open(path) as s:
            assert s.reap() == 0
            assert s.idle(["9301"]) == [False]
            assert s.destination("9301").busy == 1
            assert s.claim(["9301"], "in-the-parent") is None
            s.check()
        with be.State.open(made) as m:  # a file created in the other namespace opens here
            m.check()
            assert m.generation == 5
            assert m.claim(["9302"], "here") is not None
        child.stdin.write("\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=60)
        assert json.loads(out.strip().splitlines()[-1]) == {"released": 1}, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_relative_path_survives_a_change_of_directory(be, tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    here = os.getcwd()
    os.chdir(work)
    try:
        s = be.State.create("st.shm", **SMALL)
        monkeypatch.setenv("ROUTECORE_STATE", "env.shm")
        e = be.State.create(None, **SMALL)
        assert s.path == str(work / "st.shm") and e.path == str(work / "env.shm")
        os.chdir(elsewhere)
        for state in (s, e):
            state.check()
            assert state.reap() == 0
            assert state.destinations_now() == []
        time.sleep(1.05)  # claims look at the file at most once a second: this one looks
        for state in (s, e):
            c = state.claim(["1001"], "c")
            assert c is not None and state.release(c) == 1
            state.close()
        with be.State.open("../work/st.shm") as again:
            assert os.path.isabs(again.path) and os.path.samefile(again.path, work / "st.shm")
            again.check()
    finally:
        os.chdir(here)


def test_a_failed_check_fails_claims_only_while_the_file_is_wrong(be, path):
    with be.State.create(path, **SMALL) as s:
        os.rename(path, path + ".away")
        time.sleep(1.05)  # claims look at the file at most once a second
        for _ in range(2):  # looked at again by every claim while it is wrong, not waved through
            with pytest.raises(StateError, match="removed"):
                s.claim(["1001"], "c")
        os.rename(path + ".away", path)
        c = s.claim(["1001"], "c")
        assert c is not None and s.release(c) == 1
        s.check()
