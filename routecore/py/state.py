"""The shared call state, plainly: the twin of ``crates/routecore-core/src/state/`` (same file,
same API).

One file (``docs/state-format.md``, ``RCST`` layout version 2) mapped read-write by every routing
process of a host: destination claims with leases, call memory, counters, round-robin cursors and
the published image generation. The compiled core changes it with atomics; this twin holds an
exclusive ``flock`` on the file around every operation that reads then writes (the kernel drops
it when the holder dies), and still writes the fields in the order of the spec, so a lock-free
reader could follow.
Readers (``destination``, ``recall``, ``branch_counts``, ``generation``) do not lock.
"""

from __future__ import annotations

import errno
import fcntl
import math
import mmap
import os
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import TracebackType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from routecore.errors import StateError
from routecore.rules import DEFAULT_TZ

DEFAULT_PATH = "/dev/shm/routecore-state"
PATH_ENV = "ROUTECORE_STATE"

MAGIC = b"RCST"
VERSION = 2
HEADER_LEN = 128
LEASES = 100  # L: lease records per destination, the largest capacity
BRANCHES = 256  # B
STATE_BRANCHES = BRANCHES  # a branch is 0..STATE_BRANCHES-1 (as routecore._native.STATE_BRANCHES)
DAYS = 8  # K
LEASE = 64
DEST = 96 + LEASE * LEASES  # 6496
MEM = 96
ROW = 24 + 8 * DAYS + 4 * BRANCHES * DAYS  # 8280
CURSORS_PER_ROW = 16  # round-robin cursor entries per counter row, and the probes of one
CURSOR = 16
GROUP_CAP = 64  # characters of a group name
MEM_PROBES = 8
MAX_DESTINATIONS = 1 << 24
MAX_MEMORY = 1 << 26
MAX_NUMBERS = 1 << 20
MAX_TIME = 1e13
UNWRITTEN_GRACE = 10  # seconds: a claim whose fields never got written, or an odd seqlock

OFF_GENERATION = 48
OFF_CLAIMS = 56
OFF_FIXED_TAIL = 64  # the header's second run of fixed bytes: a reserved u64 (0), the file id
OFF_FILE_ID = 72  # u64: a random id chosen at creation
CHECK_INTERVAL = 1.0  # seconds: a claim looks at the file (State.check) at most this often

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

_HEADER = struct.Struct("<4sHHIIIIIIQ")  # bytes [0, 40), covered by the CRC
_HEADER_TAIL = struct.Struct("<IIQQ")  # CRC, 0, generation, claim counter
_IDS = struct.Struct("<QQ")  # at 64: 0 (reserved), file id
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_SLOT_NUMBER = struct.Struct("<B23s")  # at 8
_SLOT_FLAGS = struct.Struct("<II")  # capacity, online at 32
_SLOT_COUNTERS = struct.Struct("<QQQQ")  # at 40
SLOT_USED = 72  # u32: the largest capacity the destination ever had
# at 8: fields id, owner pid, owner's PID namespace id, owner start time, deadline
_LEASE_FIELDS = struct.Struct("<QIIQQ")
_LEASE_BODY = struct.Struct("<IIQQB23s")  # at 16: pid, PID namespace, start, deadline, call id
_MEM_HEAD = struct.Struct("<QQ")  # seq, key
_MEM_BODY = struct.Struct("<QB15sB23sB23siIQ")  # at 8: key, did, caller, destination, day, 0, when
_ROW_NUMBER = struct.Struct("<B15s")  # at 8
_COUNTS = struct.Struct(f"<{BRANCHES}I")

_EPOCH = date(1970, 1, 1).toordinal()


def file_length(destinations: int, memory: int, numbers: int) -> int:
    """Bytes of a state file with these sizes."""
    return cursors_offset(destinations, memory, numbers) + CURSORS_PER_ROW * numbers * CURSOR


def memory_offset(destinations: int) -> int:
    return HEADER_LEN + destinations * DEST


def rows_offset(destinations: int, memory: int) -> int:
    return HEADER_LEN + destinations * DEST + memory * MEM


def cursors_offset(destinations: int, memory: int, numbers: int) -> int:
    return rows_offset(destinations, memory) + numbers * ROW


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def header_bytes(destinations: int, memory: int, numbers: int, file_id: int = 0) -> bytes:
    """The 128-byte header of a new file (generation 0, claim counter 0), naming the file's id."""
    length = file_length(destinations, memory, numbers)
    head = _HEADER.pack(
        MAGIC, VERSION, HEADER_LEN, destinations, LEASES, memory, numbers, BRANCHES, DAYS, length
    )
    crc = zlib.crc32(head) & MASK32
    return head + _HEADER_TAIL.pack(crc, 0, 0, 0) + _IDS.pack(0, file_id) + bytes(48)


def _fixed(head: bytes) -> bytes:
    """The header bytes that never change once the file is made: [0, 48) and [64, 80)."""
    return bytes(head[:48]) + bytes(head[OFF_FIXED_TAIL : OFF_FILE_ID + 8])


def pid_namespace() -> int:
    """The PID namespace of this process: the inode of ``/proc/self/ns/pid`` (0 if unreadable).

    Pids (and so lease owners) mean the same process only within one PID namespace.
    """
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def namespace_id(inode: int) -> int:
    """The id a lease record stores for a PID namespace: the low 32 bits of its inode (0 =
    unknown)."""
    return inode & MASK32


def check_sizes(destinations: object, memory: object, numbers: object) -> None:
    for name, value, top in (
        ("destinations", destinations, MAX_DESTINATIONS),
        ("memory", memory, MAX_MEMORY),
        ("numbers", numbers, MAX_NUMBERS),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise StateError(f"{name} must be an integer in 1..{top}, not {value!r}")


def check_header(head: bytes, size: int, path: str) -> tuple[int, int, int]:
    """(destinations, memory, numbers) of a state file whose first bytes are ``head``.

    ``size`` is the file's length; raises StateError for anything but a sound RCST v2 file of
    exactly the length its header gives.
    """
    if size == 0:
        raise StateError(f"{path}: the state file is empty")
    lead = head[:4]
    if lead != MAGIC[: len(lead)]:
        raise StateError(f"{path}: not a routecore state file: magic is {lead!r}, not {MAGIC!r}")
    if size < HEADER_LEN or len(head) < HEADER_LEN:
        raise StateError(
            f"{path}: truncated state file: {size} bytes, shorter than the {HEADER_LEN}-byte header"
        )
    _, version, hlen, d, lease, m, n, b, k, length = _HEADER.unpack_from(head, 0)
    crc = _U32.unpack_from(head, 40)[0]
    if version != VERSION:
        raise StateError(
            f"{path}: layout version {version} is not supported (this build reads {VERSION}):"
            " remove the file and create it again"
        )
    actual = zlib.crc32(head[:40]) & MASK32
    if crc != actual:
        raise StateError(
            f"{path}: corrupt state header: CRC mismatch:"
            f" stored {crc:#010x}, computed {actual:#010x}"
        )
    if hlen != HEADER_LEN:
        raise StateError(f"{path}: corrupt state header: header length {hlen}, not {HEADER_LEN}")
    for name, got, want in (("lease records", lease, LEASES), ("branches", b, BRANCHES)):
        if got != want:
            raise StateError(f"{path}: corrupt state header: {name} {got}, not {want}")
    if k != DAYS:
        raise StateError(f"{path}: corrupt state header: days kept {k}, not {DAYS}")
    try:
        check_sizes(d, m, n)
    except StateError as e:
        raise StateError(f"{path}: corrupt state header: {e}") from None
    want_len = file_length(d, m, n)
    if length != want_len:
        raise StateError(
            f"{path}: corrupt state header: length {length}, but its sizes make {want_len} bytes"
        )
    if size != length:
        what = "truncated state file" if size < length else "state file too long"
        raise StateError(f"{path}: {what}: {size} bytes, the header says {length}")
    return d, m, n


def resolve_path(path: str | os.PathLike[str] | None) -> str:
    """The path to open: ``$ROUTECORE_STATE`` or the default when None, made absolute against
    the current directory (a process that changes directory later still checks the file it
    opened)."""
    p = (os.environ.get(PATH_ENV) or DEFAULT_PATH) if path is None else os.fspath(path)
    if p and not os.path.isabs(p):
        try:
            return os.path.join(os.getcwd(), p)
        except OSError:
            return p  # the current directory is gone: the path as given
    return p


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks since boot), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = raw[raw.rfind(b")") + 1 :].split()
    try:
        return int(rest[22 - 3])  # rest[0] is field 3
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """``kill(pid, 0)``: False only when the process is gone (ESRCH) or the pid is impossible."""
    if not 0 < pid <= 0x7FFFFFFF:
        return False  # 0 would signal our own process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


_own: tuple[int, int, int] = (0, 0, 0)  # pid, start time, PID namespace id


def _own_process() -> tuple[int, int, int]:
    global _own
    pid = os.getpid()
    if _own[0] != pid:
        _own = (pid, process_start_time(pid) or 0, namespace_id(pid_namespace()))
    return _own


def own_start_time() -> int:
    """This process's start time (0 where /proc is missing); recomputed after a fork."""
    return _own_process()[1]


def own_namespace() -> int:
    """This process's PID namespace id as a lease record stores it (0 where /proc is missing);
    recomputed after a fork (a child forked into a new PID namespace has its own)."""
    return _own_process()[2]


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local_day(at: float, tz: str) -> int:
    """Days since 1970-01-01 of the local date of unix time ``at`` in zone ``tz``."""
    at = _time(at)
    if not isinstance(tz, str):
        raise StateError(f"time zone must be a string, not {tz!r}")
    try:
        zone = _zone(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise StateError(f"unknown time zone {tz!r}") from e
    try:
        local = datetime.fromtimestamp(math.floor(at), zone)
    except (OverflowError, OSError, ValueError) as e:
        raise StateError(f"time {at!r} is out of range") from e
    return local.toordinal() - _EPOCH


def _time(at: object) -> float:
    if (
        isinstance(at, bool)
        or not isinstance(at, int | float)
        or not math.isfinite(at)
        or abs(at) > MAX_TIME
    ):
        raise StateError(f"time {at!r} is out of range (finite unix seconds, |at| <= 1e13)")
    return float(at)


def _seconds(value: object, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise StateError(f"{what} must be finite seconds >= 0, not {value!r}")
    return float(value)


def _digits(number: object, lo: int, hi: int, what: str) -> bytes:
    if (
        not isinstance(number, str)
        or not lo <= len(number) <= hi
        or not number.isascii()
        or not number.isdigit()
    ):
        raise StateError(f"{what} must be {lo}-{hi} ASCII digits, not {number!r}")
    return number.encode()


def number_bytes(number: object) -> bytes:
    """A destination number: 3-20 ASCII digits."""
    return _digits(number, 3, 20, "a destination number")


def did_bytes(did: object) -> bytes:
    """A 400 number (the key of call memory and counters): 3-15 ASCII digits."""
    return _digits(did, 3, 15, "a 400 number")


def caller_bytes(caller: object) -> bytes:
    """A caller as the PBX gave it: 1-23 bytes of UTF-8 (digits, '+', 'anonymous', ...)."""
    raw = caller.encode("utf-8", "surrogatepass") if isinstance(caller, str) else b""
    if not 1 <= len(raw) <= 23:
        raise StateError(f"a caller must be 1-23 bytes of UTF-8, not {caller!r}")
    return raw


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


class State:
    """The shared state file of one host, mapped read-write.

    Open it with :meth:`create` (creates the file if missing) or :meth:`open`.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        mm: mmap.mmap,
        sizes: tuple[int, int, int],
        identity: tuple[int, int, bytes],
    ) -> None:
        self._path = path
        self._fd = fd
        self._mm: mmap.mmap | None = mm
        self._d, self._m, self._n = sizes
        # (device, inode, fixed header bytes) of the file mapped: see check()
        self._dev, self._ino, self._fixed = identity
        self._next_check = time.time() + CHECK_INTERVAL
        self._mem_off = memory_offset(self._d)
        self._rows_off = rows_offset(self._d, self._m)
        self._cursors_off = cursors_offset(self._d, self._m, self._n)
        self._pid = os.getpid()
        self._tlock = threading.Lock()  # flock is per open file: threads sharing it need this

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        destinations: int = 4096,
        memory: int = 65536,
        numbers: int = 1024,
    ) -> State:
        """Open the state file at ``path``, creating it first if it is missing.

        A new file is written whole under a temporary name in the same directory, every block
        allocated (a file system without room for it is a StateError here, never a SIGBUS at a
        later write), then linked to ``path`` (which fails if another process got there first):
        racing creators end with one valid file. An existing file must have the asked sizes
        (else StateError).
        """
        p = resolve_path(path)
        check_sizes(destinations, memory, numbers)
        if not os.path.exists(p):
            _create_file(p, destinations, memory, numbers)
        state = cls.open(p)
        asked = {"destinations": destinations, "memory": memory, "numbers": numbers}
        have = {"destinations": state._d, "memory": state._m, "numbers": state._n}
        diffs = [f"{k} {have[k]} (asked {v})" for k, v in asked.items() if have[k] != v]
        if diffs:
            state.close()
            raise StateError(f"{p}: the existing state file has other sizes: {', '.join(diffs)}")
        return state

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> State:
        """Open an existing state file; StateError if it is missing, truncated or foreign.

        A relative ``path`` is made absolute first (:attr:`path` gives it so)."""
        p = resolve_path(path)
        try:
            fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StateError(f"{p}: no state file (State.create makes one)") from None
        except OSError as e:
            raise StateError(f"{p}: cannot open the state file: {e.strerror}") from e
        try:
            st = os.fstat(fd)
            size = st.st_size
            head = os.pread(fd, HEADER_LEN, 0) if size else b""
            sizes = check_header(head, size, p)
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            os.close(fd)
            raise StateError(f"{p}: cannot map the state file: {e.strerror}") from e
        except BaseException:
            os.close(fd)
            raise
        return cls(p, fd, mm, sizes, (st.st_dev, st.st_ino, _fixed(head)))

    def check(self) -> None:
        """StateError if the file is no longer the one mapped, as mapped.

        Truncated or grown (a page past a file's end kills the process that touches it with
        SIGBUS), rewritten in place (``cp`` over it), removed, or replaced by another file at
        ``path`` (this process would no longer share its state with the others). Two ``stat``
        calls and a 64-byte compare; the map is read only once its length is found unchanged.
        """
        with self._tlock:
            self._check_file(self._map())

    def _check_file(self, mm: mmap.mmap) -> None:
        restart = (
            "never copy over, truncate or rewrite a live state file; restart the processes"
            " that use it"
        )
        size = os.fstat(self._fd).st_size
        if size != len(mm):
            how = "truncated" if size < len(mm) else "grown"
            raise StateError(
                f"{self._path}: the state file was {how} to {size} bytes in place while this"
                f" process maps {len(mm)} bytes: {restart}"
            )
        if _fixed(mm[:HEADER_LEN]) != self._fixed:
            raise StateError(
                f"{self._path}: the state file was rewritten in place (its header changed):"
                f" {restart}"
            )
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise StateError(
                f"{self._path}: the state file was removed since this process opened it: this"
                " process no longer shares its state with the others; restart it"
            ) from None
        except OSError as e:
            raise StateError(f"{self._path}: {e.strerror}") from e
        if (st.st_dev, st.st_ino) != (self._dev, self._ino):
            raise StateError(
                f"{self._path}: the state file was replaced by another file since this process"
                " opened it: this process no longer shares its state with the others; reopen"
                " the state (restart the process)"
            )

    def _watch(self, mm: mmap.mmap, now: float) -> None:
        """``_check_file`` at most once a second (the caller holds the lock)."""
        if now >= self._next_check:
            self._check_file(mm)
            self._next_check = now + CHECK_INTERVAL

    def close(self) -> None:
        with self._tlock:
            if self._mm is not None:
                self._mm.close()
                self._mm = None
                os.close(self._fd)

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"State({self._path!r}, destinations={self._d}, memory={self._m},"
            f" numbers={self._n}{'' if self._mm is not None else ', closed'})"
        )

    @property
    def path(self) -> str:
        return self._path

    @property
    def destinations(self) -> int:
        return self._d

    @property
    def memory(self) -> int:
        return self._m

    @property
    def numbers(self) -> int:
        return self._n

    def _map(self) -> mmap.mmap:
        mm = self._mm
        if mm is None:
            raise StateError(f"{self._path}: the state is closed")
        return mm

    @contextmanager
    def _locked(self) -> Iterator[mmap.mmap]:
        with self._tlock:
            mm = self._map()
            if self._pid != os.getpid():
                self._reopen()  # after fork the fd shares the parent's lock: take our own
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield mm
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _reopen(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise StateError(f"{self._path}: cannot reopen the state file: {e.strerror}") from e
        old = os.fstat(self._fd)
        new = os.fstat(fd)
        if (old.st_dev, old.st_ino) != (new.st_dev, new.st_ino):
            os.close(fd)
            raise StateError(f"{self._path}: the state file was replaced since it was opened")
        os.close(self._fd)
        self._fd = fd
        self._pid = os.getpid()

    # -- generation --------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return int(_U64.unpack_from(self._map(), OFF_GENERATION)[0])

    def set_generation(self, generation: int) -> None:
        if (
            not isinstance(generation, int)
            or isinstance(generation, bool)
            or not 0 <= generation <= MASK64
        ):
            raise StateError(f"generation must be an integer in 0..2**64-1, not {generation!r}")
        with self._locked() as mm:
            _U64.pack_into(mm, OFF_GENERATION, generation)

    def bump_generation(self) -> int:
        with self._locked() as mm:
            g = (_U64.unpack_from(mm, OFF_GENERATION)[0] + 1) & MASK64
            _U64.pack_into(mm, OFF_GENERATION, g)
        return int(g)

    # -- destinations ------------------------------------------------------------------------

    def _find_slot(self, mm: mmap.mmap, raw: bytes, h: int) -> tuple[int, bool]:
        """(slot, True) holding ``raw``; else (first empty slot on its probe path, False);
        (-1, False) if the table is full. Slots are never emptied, so an empty one ends a probe.
        """
        return _probe(mm, HEADER_LEN, DEST, self._d, raw, h)

    def _slot_for(self, mm: mmap.mmap, raw: bytes, capacity: int = 1, online: bool = True) -> int:
        """The slot of ``raw``, inserted if missing (the caller holds the lock)."""
        h = fnv1a64(raw)
        i, found = self._find_slot(mm, raw, h)
        if found:
            return i
        if i < 0:
            raise StateError(
                f"{self._path}: the destination table is full ({self._d} slots):"
                f" cannot add {raw.decode()}"
            )
        off = HEADER_LEN + i * DEST
        _SLOT_NUMBER.pack_into(mm, off + 8, len(raw), raw)
        _SLOT_FLAGS.pack_into(mm, off + 32, capacity, 1 if online else 0)
        _U32.pack_into(mm, off + SLOT_USED, capacity)
        _U64.pack_into(mm, off, h | 1)  # the key last: readers match only complete slots
        return i

    def add_destination(self, number: str, *, capacity: int = 1, online: bool = True) -> None:
        """Insert the destination, or update its capacity and online flag."""
        raw = number_bytes(number)
        cap = _capacity(capacity)
        with self._locked() as mm:
            off = HEADER_LEN + self._slot_for(mm, raw, cap, online) * DEST
            _raise_used(mm, off, cap)
            _SLOT_FLAGS.pack_into(mm, off + 32, cap, 1 if online else 0)

    def set_online(self, number: str, online: bool) -> None:
        raw = number_bytes(number)
        with self._locked() as mm:
            off = self._known(mm, raw, number)
            _U32.pack_into(mm, off + 36, 1 if online else 0)

    def set_capacity(self, number: str, capacity: int) -> None:
        raw = number_bytes(number)
        cap = _capacity(capacity)
        with self._locked() as mm:
            off = self._known(mm, raw, number)
            _raise_used(mm, off, cap)
            _U32.pack_into(mm, off + 32, cap)

    def _known(self, mm: mmap.mmap, raw: bytes, number: str) -> int:
        i, found = self._find_slot(mm, raw, fnv1a64(raw))
        if not found:
            raise StateError(f"unknown destination {number!r}")
        return HEADER_LEN + i * DEST

    def destination(self, number: str) -> Destination | None:
        raw = number_bytes(number)
        mm = self._map()
        i, found = self._find_slot(mm, raw, fnv1a64(raw))
        return self._read_destination(mm, HEADER_LEN + i * DEST) if found else None

    def destinations_now(self) -> list[Destination]:
        """Every inserted destination, in slot order (``destinations`` is the slot count).

        Checks the file first (:meth:`check`).
        """
        self.check()
        mm = self._map()
        out = []
        for i in range(self._d):
            off = HEADER_LEN + i * DEST
            if _U64.unpack_from(mm, off)[0]:
                out.append(self._read_destination(mm, off))
        return out

    def idle(self, numbers: Sequence[str]) -> list[bool]:
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
            i, found = self._find_slot(mm, raw, fnv1a64(raw)) if raw else (0, False)
            if not found:
                out.append(True)
                continue
            off = HEADER_LEN + i * DEST
            capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
            room = False
            for j in range(min(max(capacity, 1), LEASES)):
                rec = off + 96 + j * LEASE
                word = _U64.unpack_from(mm, rec)[0]
                if word == 0 or self._stale(mm, rec, word, now_ms, now_s):
                    room = True
                    break
            out.append(bool(online) and room)
        return out

    def _read_destination(self, mm: mmap.mmap, off: int) -> Destination:
        n, digits = _SLOT_NUMBER.unpack_from(mm, off + 8)
        capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
        offered, answered, unanswered, talk = _SLOT_COUNTERS.unpack_from(mm, off + 40)
        now = time.time()
        now_ms, now_s = int(now * 1000), int(now)
        busy = 0
        for j in range(_held(mm, off)):
            rec = off + 96 + j * LEASE
            word = _U64.unpack_from(mm, rec)[0]
            if word and not self._stale(mm, rec, word, now_ms, now_s):
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

    def record_attempt(self, number: str, *, answered: bool, talk_seconds: int = 0) -> None:
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
            off = HEADER_LEN + self._slot_for(mm, raw) * DEST
            _add_u64(mm, off + 40, 1)
            _add_u64(mm, off + (48 if answered else 56), 1)
            if talk_seconds:
                _add_u64(mm, off + 64, talk_seconds)

    # -- leases ------------------------------------------------------------------------------

    def _stale(self, mm: mmap.mmap, rec: int, word: int, now_ms: int, now_s: int) -> bool:
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

    def _next_claim_id(self, mm: mmap.mmap, now_s: int) -> int:
        counter = _U64.unpack_from(mm, OFF_CLAIMS)[0]
        _U64.pack_into(mm, OFF_CLAIMS, (counter + 1) & MASK64)
        cid = ((now_s & MASK32) << 32) | (counter & MASK32)
        return cid or 1

    def claim(
        self,
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
        if isinstance(candidates, str | bytes):
            raise StateError("candidates must be a sequence of numbers, not one string")
        wanted: dict[str, bytes] = {}
        for number in candidates:
            raw = number_bytes(number)
            wanted.setdefault(number, raw)
        if not isinstance(call_id, str):
            raise StateError(f"call_id must be a string, not {call_id!r}")
        cid_raw = call_id.encode("utf-8", "surrogatepass")[:23]
        seconds = _seconds(lease, "lease")
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
                    slot = self._slot_for(mm, raw)
                    off = HEADER_LEN + slot * DEST
                    capacity, online = _SLOT_FLAGS.unpack_from(mm, off + 32)
                    if not online:
                        continue
                    j = self._room(mm, off, min(max(capacity, 1), LEASES), now_ms, now_s)
                    if j < 0:
                        continue
                    if not claim_id:
                        claim_id = self._next_claim_id(mm, now_s)
                    rec = off + 96 + j * LEASE
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
                    rec = HEADER_LEN + slot * DEST + 96 + j * LEASE
                    if _U64.unpack_from(mm, rec)[0] == cid:
                        _U64.pack_into(mm, rec, 0)  # CAS id -> 0
                raise
        if not leases:
            return None
        return Claim(tuple(numbers), call_id, tuple(leases))

    def _room(self, mm: mmap.mmap, off: int, capacity: int, now_ms: int, now_s: int) -> int:
        """Index of the first free record among the first ``capacity``, reclaiming stale ones
        met before it; -1 if none."""
        for j in range(capacity):
            rec = off + 96 + j * LEASE
            word = _U64.unpack_from(mm, rec)[0]
            if word == 0:
                return j
            if self._stale(mm, rec, word, now_ms, now_s):
                _U64.pack_into(mm, rec, 0)  # reclaimed: CAS stale id -> 0
                return j
        return -1

    def _claim_leases(
        self, claim: Claim, keep: str | None
    ) -> Iterator[tuple[str, int, int]]:  # (number, record offset, claim id)
        """Leases out of this file's range are skipped (they cannot be held here)."""
        for number, (slot, j, cid) in zip(claim.numbers, claim.leases, strict=False):
            if number != keep and 0 <= slot < self._d and 0 <= j < LEASES:
                yield number, HEADER_LEN + slot * DEST + 96 + j * LEASE, cid

    def release(self, claim: Claim, *, keep: str | None = None) -> int:
        """Free every lease of ``claim`` but the one on ``keep``; how many were freed.

        Releasing again frees 0 (harmless, and reported by the 0).
        """
        leases = list(self._claim_leases(claim, keep))
        freed = 0
        with self._locked() as mm:
            for _, rec, cid in leases:
                if _U64.unpack_from(mm, rec)[0] == cid:
                    _U64.pack_into(mm, rec, 0)  # CAS id -> 0
                    freed += 1
        return freed

    def extend(self, claim: Claim, seconds: float) -> int:
        """Set the deadline of every lease still held to now + ``seconds``; how many."""
        leases = list(self._claim_leases(claim, None))
        secs = _seconds(seconds, "seconds")
        done = 0
        with self._locked() as mm:
            deadline = min(int(time.time() * 1000) + int(secs * 1000), MASK64)
            for _, rec, cid in leases:
                word, fields_id = _MEM_HEAD.unpack_from(mm, rec)
                if word == cid and fields_id == cid:
                    _U64.pack_into(mm, rec + 32, deadline)
                    done += 1
        return done

    def reap(self) -> int:
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
                for j in range(_held(mm, off)):
                    rec = off + 96 + j * LEASE
                    word = _U64.unpack_from(mm, rec)[0]
                    if word and self._stale(mm, rec, word, now_ms, now_s):
                        _U64.pack_into(mm, rec, 0)
                        reaped += 1
        return reaped

    # -- call memory -------------------------------------------------------------------------

    def _mem_probes(self, h: int) -> list[int]:
        m = self._m
        return [self._mem_off + ((h + j) % m) * MEM for j in range(min(MEM_PROBES, m))]

    def remember(
        self, did: str, caller: str, destination: str, at: float, *, tz: str = DEFAULT_TZ
    ) -> None:
        """Remember that ``caller``'s call to ``did`` was answered by ``destination`` at ``at``.

        The memory answers ``recall`` until 24:00 of that day in ``tz``.
        """
        d, c, dest = did_bytes(did), caller_bytes(caller), number_bytes(destination)
        day = local_day(at, tz)
        when = max(int(at * 1000), 0)
        h = fnv1a64(d + b"\0" + c)
        key = h | 1
        with self._locked() as mm:
            now_s = int(time.time())
            same = free = oldest = -1
            oldest_when = 0
            for off in self._mem_probes(h):
                seq = _U64.unpack_from(mm, off)[0]
                if seq & 1 and now_s - (seq >> 32) <= UNWRITTEN_GRACE:
                    continue  # being written (or its writer died less than 10 s ago)
                k, dn, draw, cn, craw, _, _, eday, _, ewhen = _MEM_BODY.unpack_from(mm, off + 8)
                if k == key and draw[:dn] == d and craw[:cn] == c:
                    same = off
                    break
                if free < 0 and (k == 0 or eday < day):
                    free = off
                if oldest < 0 or ewhen < oldest_when:
                    oldest, oldest_when = off, ewhen
            target = same if same >= 0 else free if free >= 0 else oldest
            if target < 0:
                return  # every probed entry is being written: the memory is a hint, skip it
            seq = _U64.unpack_from(mm, target)[0]
            low = seq & MASK32
            low = (low + 1 if low % 2 == 0 else low + 2) & MASK32
            odd = ((now_s & MASK32) << 32) | low
            _U64.pack_into(mm, target, odd)
            _MEM_BODY.pack_into(
                mm, target + 8, key, len(d), d, len(c), c, len(dest), dest, day, 0, when
            )
            _U64.pack_into(mm, target, (odd + 1) & MASK64)

    def recall(self, did: str, caller: str, at: float, *, tz: str = DEFAULT_TZ) -> str | None:
        """The destination remembered for (``did``, ``caller``) on the day of ``at``, or None."""
        d, c = did_bytes(did), caller_bytes(caller)
        day = local_day(at, tz)
        h = fnv1a64(d + b"\0" + c)
        key = h | 1
        mm = self._map()
        for off in self._mem_probes(h):
            seq = _U64.unpack_from(mm, off)[0]
            if seq & 1:
                continue
            k, dn, draw, cn, craw, tn, traw, eday, _, _ = _MEM_BODY.unpack_from(mm, off + 8)
            if _U64.unpack_from(mm, off)[0] != seq:
                continue  # written meanwhile: a miss
            if k == key and draw[:dn] == d and craw[:cn] == c:
                if eday != day or not 3 <= tn <= 20:
                    return None
                return bytes(traw[:tn]).decode("ascii", "replace")
        return None

    # -- counters ----------------------------------------------------------------------------

    def _find_row(self, mm: mmap.mmap, raw: bytes, h: int) -> tuple[int, bool]:
        """(offset of the counter row of ``raw`` or of the empty row that would take it, found)."""
        i, found = _probe(mm, self._rows_off, ROW, self._n, raw, h)
        return (self._rows_off + i * ROW if i >= 0 else -1), found

    def count_branch(self, did: str, branch: int, at: float, *, tz: str = DEFAULT_TZ) -> None:
        """Count one call of ``did`` to ``branch`` (0..255) on the local day of ``at``.

        A count for a day older than the one its day block holds now is dropped (that day is
        no longer kept).
        """
        raw = did_bytes(did)
        b = _branch(branch)
        day = local_day(at, tz)
        h = fnv1a64(raw)
        with self._locked() as mm:
            off, found = self._find_row(mm, raw, h)
            if not found:
                if off < 0:
                    raise StateError(
                        f"{self._path}: the counter table is full ({self._n} rows):"
                        f" cannot add {did}"
                    )
                _ROW_NUMBER.pack_into(mm, off + 8, len(raw), raw)
                _U64.pack_into(mm, off, h | 1)  # the key last
            block = day % DAYS
            stamp_off = off + 24 + 8 * block
            stamp = _I32.unpack_from(mm, stamp_off)[0]
            counts = off + 24 + 8 * DAYS + 4 * BRANCHES * block
            if stamp != day:
                if stamp > day:
                    return
                _I32.pack_into(mm, stamp_off, day)
                mm[counts : counts + 4 * BRANCHES] = bytes(4 * BRANCHES)
            at_b = counts + 4 * b
            _U32.pack_into(mm, at_b, (_U32.unpack_from(mm, at_b)[0] + 1) & MASK32)

    def branch_counts(self, did: str, at: float, *, tz: str = DEFAULT_TZ) -> npt.NDArray[np.uint32]:
        """The counts of ``did``'s branches on the local day of ``at`` (zeros if none)."""
        raw = did_bytes(did)
        day = local_day(at, tz)
        mm = self._map()
        off, found = self._find_row(mm, raw, fnv1a64(raw))
        out = np.zeros(BRANCHES, dtype=np.uint32)
        if found:
            block = day % DAYS
            if _I32.unpack_from(mm, off + 24 + 8 * block)[0] == day:
                out[:] = _COUNTS.unpack_from(mm, off + 24 + 8 * DAYS + 4 * BRANCHES * block)
        return out

    # -- round-robin cursors -----------------------------------------------------------------

    def next_cursor(self, did: str, group: str) -> int | None:
        """The round-robin cursor of ``group`` on ``did``: its value now, and 1 more after.

        Successive calls, from any process, return 0, 1, 2, ... A cursor is looked for in 16
        entries from ``h mod C``; a missing one is inserted there. None when those 16 entries
        all hold other cursors: the caller then rotates by a seed of its own.
        """
        raw = did_bytes(did)
        if not isinstance(group, str) or not 1 <= len(group) <= GROUP_CAP:
            raise StateError(f"a group name must be 1 to {GROUP_CAP} characters, not {group!r}")
        h = fnv1a64(raw + b"\0" + group.encode("utf-8", "surrogatepass"))
        key = h | 1
        count = CURSORS_PER_ROW * self._n
        with self._locked() as mm:
            for j in range(CURSORS_PER_ROW):
                off = self._cursors_off + ((h + j) % count) * CURSOR
                k = _U64.unpack_from(mm, off)[0]
                if k == 0:
                    _U64.pack_into(mm, off, key)  # a CAS 0 -> key
                    k = key
                if k == key:
                    value = _U64.unpack_from(mm, off + 8)[0]
                    _U64.pack_into(mm, off + 8, (value + 1) & MASK64)  # a fetch-add
                    return int(value)
        return None


def _probe(
    mm: mmap.mmap, base: int, stride: int, count: int, raw: bytes, h: int
) -> tuple[int, bool]:
    """Linear probing from ``h mod count`` over records of ``stride`` bytes at ``base`` whose
    key is a u64 at 0 and whose name (length byte, bytes) at 8: (index of the record holding
    ``raw`` or of the first empty one, found); (-1, False) if the table is full. Records are
    never emptied, so an empty one ends a probe."""
    key = h | 1
    i = h % count
    n = len(raw)
    for _ in range(count):
        off = base + i * stride
        k = _U64.unpack_from(mm, off)[0]
        if k == 0:
            return i, False
        if k == key and mm[off + 8] == n and mm[off + 9 : off + 9 + n] == raw:
            return i, True
        i = i + 1 if i + 1 < count else 0
    return -1, False


def _raise_used(mm: mmap.mmap, off: int, capacity: int) -> None:
    """Raise the slot's ``used`` (the largest capacity ever) to ``capacity``."""
    if _U32.unpack_from(mm, off + SLOT_USED)[0] < capacity:
        _U32.pack_into(mm, off + SLOT_USED, capacity)


def _held(mm: mmap.mmap, off: int) -> int:
    """How many of the slot's lease records may be held: ``max(used, capacity)``, 1..L."""
    used: int = _U32.unpack_from(mm, off + SLOT_USED)[0]
    capacity: int = _U32.unpack_from(mm, off + 32)[0]
    return min(max(used, capacity, 1), LEASES)


def _capacity(capacity: object) -> int:
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= LEASES:
        raise StateError(f"capacity must be an integer in 1..{LEASES}, not {capacity!r}")
    return capacity


def _branch(branch: object) -> int:
    if not isinstance(branch, int) or isinstance(branch, bool) or not 0 <= branch < BRANCHES:
        raise StateError(f"branch must be an integer in 0..{BRANCHES - 1}, not {branch!r}")
    return branch


def _add_u64(mm: mmap.mmap, off: int, value: int) -> None:
    _U64.pack_into(mm, off, (_U64.unpack_from(mm, off)[0] + value) & MASK64)


def _allocate(fd: int, path: str, length: int) -> None:
    """Give the file all its ``length`` bytes now, so that a full file system is an error here
    and never a SIGBUS at the first write into a page it could not back (a file system without
    ``fallocate`` gets the length only)."""
    try:
        os.posix_fallocate(fd, 0, length)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            os.ftruncate(fd, length)
            return
        hint = (
            "; free room on its file system or give it more (a tmpfs such as /dev/shm holds at"
            " most its size= mount option), or create a smaller file"
            if e.errno in (errno.ENOSPC, errno.EDQUOT)
            else ""
        )
        raise StateError(
            f"{path}: cannot allocate the state file's {length} bytes: {e.strerror}{hint}"
        ) from e


def _create_file(path: str, destinations: int, memory: int, numbers: int) -> None:
    """Write a whole new file under a temporary name, then link it to ``path`` unless one is
    there already (a racing creator won: its file is as good)."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise StateError(f"{path}: cannot create the state file: {e.strerror}") from e
    try:
        try:
            _allocate(fd, path, file_length(destinations, memory, numbers))
            head = header_bytes(destinations, memory, numbers, secrets.randbits(64))
            os.pwrite(fd, head, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    except OSError as e:
        raise StateError(f"{path}: cannot create the state file: {e.strerror}") from e
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
