"""Mirrors ``crates/routecore-core/src/state/dest.rs``: destinations and their claims, one slot
per phone number, leases taken on its records (record 0 in the slot, the others handed from the
lease pool as its capacity needs them) and reclaimed when the owner is dead or the lease has
expired.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from routecore.errors import StateError
from routecore.py.state.header import (
    _U32,
    _U64,
    DEST,
    HEADER_LEN,
    LEASE_POOL,
    LEASES,
    MASK32,
    MASK64,
    OFF_CLAIMS,
    UNWRITTEN_GRACE,
    _probe,
    fnv1a64,
    hand,
    item_off,
    number_bytes,
)
from routecore.state.checks import check_capacity, check_claim, check_seconds
from routecore.state.format import SLOT_RECORDS, SLOT_USED
from routecore.state.process import own_namespace, own_start_time, pid_alive, process_start_time

if TYPE_CHECKING:
    from routecore.py.state import State

_SLOT_NUMBER = struct.Struct("<B23s")  # at 8
_SLOT_FLAGS = struct.Struct("<II")  # capacity, online at 32
_SLOT_COUNTERS = struct.Struct("<QQQQ")  # at 40
# at 8: fields id, owner pid, owner's PID namespace id, owner start time, deadline
_LEASE_FIELDS = struct.Struct("<QIIQQ")
_LEASE_BODY = struct.Struct("<IIQQB23s")  # at 16: pid, PID namespace, start, deadline, call id
_LEASE_HEAD = struct.Struct("<QQ")  # a lease record's claim word, then its fields id


@dataclass(frozen=True)
class Destination:
    """One destination slot as read now."""

    number: str
    capacity: int
    online: bool
    busy: int  # active, non-stale leases
    offered: int
    answered: int
    unanswered: int
    talk_seconds: int


@dataclass(frozen=True)
class Claim:
    """Leases taken by one ``State.claim``: ``leases[i]`` is on destination ``numbers[i]``.

    Each lease is (slot index, lease index, claim id); the leases of one claim share its id.
    """

    numbers: tuple[str, ...]
    call_id: str
    leases: tuple[tuple[int, int, int], ...]


def _find_slot(self: State, mm: mmap.mmap, raw: bytes, h: int) -> tuple[int, bool]:
    """(slot, True) holding ``raw``; else (first empty slot on its probe path, False);
    (-1, False) if the table is full. Slots are never emptied, so an empty one ends a probe.
    """
    return _probe(mm, HEADER_LEN, DEST, self._d, raw, h)


def _slot_for(self: State, mm: mmap.mmap, raw: bytes) -> int:
    """The slot of ``raw``, inserted if missing (the caller holds the lock): ``records`` 1 (its
    own record 0, in the slot: nothing from the pool), number, capacity 1, online, used 1, and
    the key last."""
    h = fnv1a64(raw)
    i, found = _find_slot(self, mm, raw, h)
    if found:
        return i
    if i < 0:
        raise StateError(
            f"{self._path}: the destination table is full ({self._d} slots):"
            f" cannot add {raw.decode()}"
        )
    off = HEADER_LEN + i * DEST
    hand(mm, LEASE_POOL, off, 1, self._r, self._path)
    _SLOT_NUMBER.pack_into(mm, off + 8, len(raw), raw)
    _SLOT_FLAGS.pack_into(mm, off + 32, 1, 1)
    _U32.pack_into(mm, off + SLOT_USED, 1)
    _U64.pack_into(mm, off, h | 1)  # the key last: readers match only complete slots
    return i


def _lease_off(self: State, mm: mmap.mmap, off: int, j: int) -> int:
    """File offset of lease record ``j`` of the slot at ``off``: record 0 in the slot, the
    others in the pool through the slot's extents; -1 for a record the slot does not hold (or
    one a damaged file puts beyond the pool)."""
    if not 0 <= j < LEASES:
        return -1
    return item_off(mm, LEASE_POOL, off, j, self._leases_off, self._r)


def _set_capacity(self: State, mm: mmap.mmap, off: int, capacity: int) -> None:
    """Hand the slot the records ``capacity`` needs (a full pool is a StateError and changes
    nothing), raise its ``used`` to it, then store it: no record at or above
    ``max(used, capacity)`` was ever claimed, and every one below lies in a handed extent."""
    if _U32.unpack_from(mm, off + SLOT_RECORDS)[0] < capacity:
        hand(mm, LEASE_POOL, off, capacity, self._r, self._path)
    _raise_used(mm, off, capacity)
    _U32.pack_into(mm, off + 32, capacity)


def add_destination(self: State, number: str, *, capacity: int = 1, online: bool = True) -> None:
    """Insert the destination, or update its capacity and online flag.

    A new one is inserted first (capacity 1): should the lease pool lack the records of a
    larger ``capacity``, the StateError leaves it inserted with capacity 1.
    """
    raw = number_bytes(number)
    cap = check_capacity(capacity)
    with self._locked() as mm:
        off = HEADER_LEN + _slot_for(self, mm, raw) * DEST
        _set_capacity(self, mm, off, cap)
        _U32.pack_into(mm, off + 36, 1 if online else 0)


def set_online(self: State, number: str, online: bool) -> None:
    raw = number_bytes(number)
    with self._locked() as mm:
        off = _known(self, mm, raw, number)
        _U32.pack_into(mm, off + 36, 1 if online else 0)


def set_capacity(self: State, number: str, capacity: int) -> None:
    raw = number_bytes(number)
    cap = check_capacity(capacity)
    with self._locked() as mm:
        _set_capacity(self, mm, _known(self, mm, raw, number), cap)


def _known(self: State, mm: mmap.mmap, raw: bytes, number: str) -> int:
    i, found = _find_slot(self, mm, raw, fnv1a64(raw))
    if not found:
        raise StateError(f"unknown destination {number!r}")
    return HEADER_LEN + i * DEST


def destination(self: State, number: str) -> Destination | None:
    raw = number_bytes(number)
    mm = self._map()
    i, found = _find_slot(self, mm, raw, fnv1a64(raw))
    return _read_destination(self, mm, HEADER_LEN + i * DEST) if found else None


def destinations_now(self: State) -> list[Destination]:
    """Every inserted destination, in slot order (``destinations`` is the slot count).

    Checks the file first (:meth:`check`).
    """
    self.check()
    mm = self._map()
    out = []
    for i in range(self._d):
        off = HEADER_LEN + i * DEST
        if _U64.unpack_from(mm, off)[0]:
            out.append(_read_destination(self, mm, off))
    return out


def idle(self: State, numbers: Sequence[str]) -> list[bool]:
    """Whether each number has room now: online with a free (or stale) lease among its
    first ``capacity``. An unknown number counts as idle."""
    if isinstance(numbers, str | bytes):
        raise StateError("numbers must be a sequence of numbers, not one string")
    mm = self._map()
    now = time.time()
    now_ms, now_s = int(now * 1000), int(now)
    out = []
    for number in numbers:
        raw = number.encode() if isinstance(number, str) and number.isascii() else b""
        i, found = _find_slot(self, mm, raw, fnv1a64(raw)) if raw else (0, False)
        if not found:
            out.append(True)
            continue
        off = HEADER_LEN + i * DEST
        capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
        room = False
        for rec in _records(self, mm, off, min(max(capacity, 1), LEASES)):
            word = _U64.unpack_from(mm, rec)[0]
            if word == 0 or _stale(mm, rec, word, now_ms, now_s):
                room = True
                break
        out.append(bool(online) and room)
    return out


def _records(self: State, mm: mmap.mmap, off: int, count: int) -> Iterator[int]:
    """File offsets of the slot's first ``count`` lease records that it holds."""
    for j in range(count):
        rec = _lease_off(self, mm, off, j)
        if rec >= 0:
            yield rec


def _read_destination(self: State, mm: mmap.mmap, off: int) -> Destination:
    n, digits = _SLOT_NUMBER.unpack_from(mm, off + 8)
    capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
    offered, answered, unanswered, talk = _SLOT_COUNTERS.unpack_from(mm, off + 40)
    now = time.time()
    now_ms, now_s = int(now * 1000), int(now)
    busy = 0
    for rec in _records(self, mm, off, _held(mm, off)):
        word = _U64.unpack_from(mm, rec)[0]
        if word and not _stale(mm, rec, word, now_ms, now_s):
            busy += 1
    return Destination(
        number=digits[: min(n, 23)].decode("ascii", "replace"),
        capacity=capacity,
        online=bool(online),
        busy=busy,
        offered=offered,
        answered=answered,
        unanswered=unanswered,
        talk_seconds=talk,
    )


def record_attempt(self: State, number: str, *, answered: bool, talk_seconds: int = 0) -> None:
    """Count one attempt on ``number``: offered + 1, answered or not answered + 1, talk time.

    An unknown number is inserted (capacity 1, online), as ``claim`` does.
    """
    raw = number_bytes(number)
    if (
        not isinstance(talk_seconds, int)
        or isinstance(talk_seconds, bool)
        or not 0 <= talk_seconds <= MASK32
    ):
        raise StateError(f"talk_seconds must be an integer in 0..2**32-1, not {talk_seconds!r}")
    with self._locked() as mm:
        off = HEADER_LEN + _slot_for(self, mm, raw) * DEST
        _add_u64(mm, off + 40, 1)
        _add_u64(mm, off + (48 if answered else 56), 1)
        if talk_seconds:
            _add_u64(mm, off + 64, talk_seconds)


def _stale(mm: mmap.mmap, rec: int, word: int, now_ms: int, now_s: int) -> bool:
    fields_id, pid, owner_ns, start, deadline = _LEASE_FIELDS.unpack_from(mm, rec + 8)
    if fields_id != word:  # the owner died between the CAS and the writes, or is writing
        return bool(now_s - (word >> 32) > UNWRITTEN_GRACE)
    if deadline and deadline < now_ms:  # 0: no deadline
        return True
    mine = own_namespace()
    if owner_ns and mine and owner_ns != mine:
        return False  # a pid of another PID namespace: its holder renews the deadline
    if pid == os.getpid() and start == own_start_time():
        return False  # this process's own lease: alive, no system call needed
    if not pid_alive(pid):
        return True
    running = process_start_time(pid)  # start 0: unknown where it was written
    return start != 0 and running is not None and running != start


def _next_claim_id(mm: mmap.mmap, now_s: int) -> int:
    counter = _U64.unpack_from(mm, OFF_CLAIMS)[0]
    _U64.pack_into(mm, OFF_CLAIMS, (counter + 1) & MASK64)
    cid = ((now_s & MASK32) << 32) | (counter & MASK32)
    return cid or 1


def claim(
    self: State,
    candidates: Sequence[str],
    call_id: str,
    *,
    lease: float = 600.0,
    all: bool = False,
) -> Claim | None:
    """Take a lease on the first candidate with room (or, ``all=True``, on every one).

    A candidate has room when it is online and one of its first ``capacity`` lease records
    is free (stale ones met on the way are reclaimed). Unknown candidates are inserted
    (capacity 1, online); a candidate given twice counts once. None if none has room.
    """
    wanted = check_claim(candidates, call_id)
    cid_raw = call_id.encode("utf-8", "surrogatepass")[:23]
    seconds = check_seconds(lease, "lease")
    numbers: list[str] = []
    leases: list[tuple[int, int, int]] = []
    with self._locked() as mm:
        now = time.time()
        self._watch(mm, now)
        now_ms, now_s = int(now * 1000), int(now)
        deadline = min(now_ms + max(int(seconds * 1000), 1), MASK64)
        claim_id = 0
        try:
            for number, raw in wanted.items():
                slot = _slot_for(self, mm, raw)
                off = HEADER_LEN + slot * DEST
                capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
                if not online:
                    continue
                j, rec = _room(self, mm, off, min(max(capacity, 1), LEASES), now_ms, now_s)
                if j < 0:
                    continue
                if not claim_id:
                    claim_id = _next_claim_id(mm, now_s)
                _U64.pack_into(mm, rec, claim_id)  # the claim itself (a CAS 0 -> id)
                _LEASE_BODY.pack_into(
                    mm, rec + 16, os.getpid(), own_namespace(), own_start_time(), deadline,
                    len(cid_raw), cid_raw,
                )  # fmt: skip
                _U64.pack_into(mm, rec + 8, claim_id)  # fields id last
                numbers.append(number)
                leases.append((slot, j, claim_id))
                if not all:
                    break
        except BaseException:
            # Part way (a full table): free what was taken before raising, not at expiry.
            for slot, j, cid in leases:
                rec = _lease_off(self, mm, HEADER_LEN + slot * DEST, j)
                if rec >= 0 and _U64.unpack_from(mm, rec)[0] == cid:
                    _U64.pack_into(mm, rec, 0)  # CAS id -> 0
            raise
    if not leases:
        return None
    return Claim(tuple(numbers), call_id, tuple(leases))


def _room(
    self: State, mm: mmap.mmap, off: int, capacity: int, now_ms: int, now_s: int
) -> tuple[int, int]:
    """(index, file offset) of the first free record among the first ``capacity`` the slot
    holds, reclaiming stale ones met before it; (-1, -1) if none."""
    for j in range(capacity):
        rec = _lease_off(self, mm, off, j)
        if rec < 0:
            continue
        word = _U64.unpack_from(mm, rec)[0]
        if word == 0:
            return j, rec
        if _stale(mm, rec, word, now_ms, now_s):
            _U64.pack_into(mm, rec, 0)  # reclaimed: CAS stale id -> 0
            return j, rec
    return -1, -1


def _claim_leases(
    self: State, claim: Claim, keep: str | None
) -> list[tuple[int, int, int]]:  # (slot, lease, claim id)
    """The leases of ``claim`` but the one on ``keep``; those out of this file's range are
    skipped (they cannot be held here)."""
    return [
        (slot, j, cid)
        for number, (slot, j, cid) in zip(claim.numbers, claim.leases, strict=False)
        if number != keep and 0 <= slot < self._d and 0 <= j < LEASES
    ]


def _held_records(
    self: State, mm: mmap.mmap, leases: list[tuple[int, int, int]]
) -> Iterator[tuple[int, int]]:  # (record offset, claim id)
    """Where each lease lies, through its slot's extents; a record the slot does not hold
    (or beyond the pool) is skipped."""
    for slot, j, cid in leases:
        rec = _lease_off(self, mm, HEADER_LEN + slot * DEST, j)
        if rec >= 0:
            yield rec, cid


def release(self: State, claim: Claim, *, keep: str | None = None) -> int:
    """Free every lease of ``claim`` but the one on ``keep``; how many were freed.

    Releasing again frees 0 (harmless, and reported by the 0).
    """
    leases = _claim_leases(self, claim, keep)
    freed = 0
    with self._locked() as mm:
        for rec, cid in _held_records(self, mm, leases):
            if _U64.unpack_from(mm, rec)[0] == cid:
                _U64.pack_into(mm, rec, 0)  # CAS id -> 0
                freed += 1
    return freed


def extend(self: State, claim: Claim, seconds: float) -> int:
    """Set the deadline of every lease still held to now + ``seconds``; how many."""
    leases = _claim_leases(self, claim, None)
    secs = check_seconds(seconds, "seconds")
    done = 0
    with self._locked() as mm:
        deadline = min(int(time.time() * 1000) + int(secs * 1000), MASK64)
        for rec, cid in _held_records(self, mm, leases):
            word, fields_id = _LEASE_HEAD.unpack_from(mm, rec)
            if word == cid and fields_id == cid:
                _U64.pack_into(mm, rec + 32, deadline)
                done += 1
    return done


def reap(self: State) -> int:
    """Reclaim every stale lease of every destination; how many. Checks the file first."""
    reaped = 0
    with self._locked() as mm:
        self._check_file(mm)
        now = time.time()
        now_ms, now_s = int(now * 1000), int(now)
        for i in range(self._d):
            off = HEADER_LEN + i * DEST
            if not _U64.unpack_from(mm, off)[0]:
                continue
            for rec in _records(self, mm, off, _held(mm, off)):
                word = _U64.unpack_from(mm, rec)[0]
                if word and _stale(mm, rec, word, now_ms, now_s):
                    _U64.pack_into(mm, rec, 0)
                    reaped += 1
    return reaped


def _raise_used(mm: mmap.mmap, off: int, capacity: int) -> None:
    """Raise the slot's ``used`` (the largest capacity ever) to ``capacity``."""
    if _U32.unpack_from(mm, off + SLOT_USED)[0] < capacity:
        _U32.pack_into(mm, off + SLOT_USED, capacity)


def _held(mm: mmap.mmap, off: int) -> int:
    """How many of the slot's lease records may be held: ``max(used, capacity)``, 1..L."""
    used: int = _U32.unpack_from(mm, off + SLOT_USED)[0]
    capacity: int = _U32.unpack_from(mm, off + 32)[0]
    return min(max(used, capacity, 1), LEASES)


def _add_u64(mm: mmap.mmap, off: int, value: int) -> None:
    _U64.pack_into(mm, off, (_U64.unpack_from(mm, off)[0] + value) & MASK64)
