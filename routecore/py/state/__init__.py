"""The shared call state, plainly: mirrors ``crates/routecore-core/src/state/mod.rs``, the twin
of the whole ``state/`` (same file, same API).

One file (``docs/state-format.md``, ``RCST`` layout version 3) mapped read-write by every routing
process of a host: destination claims with leases, call memory, counters, round-robin cursors and
the published image generation. The compiled core changes it with atomics; this twin holds an
exclusive ``flock`` on the file around every operation that reads then writes (the kernel drops
it when the holder dies), and still writes the fields in the order of the spec, so a lock-free
reader could follow.
Readers (``destination``, ``recall``, ``branch_counts``, ``generation``) do not lock.

Split as the Rust state is: ``header`` (the layout, the header, and the pools of lease records
and counter blocks handed out in extents), ``dest`` (destinations and their claims), ``memory``
(call memory), ``counters`` (branch counters), ``cursors`` (round-robin cursors), ``process``
(process identity); here the file is opened, created, checked and locked, and :class:`State`
gathers the operations of those modules as its methods.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from routecore.errors import StateError
from routecore.py.state import counters as _counters
from routecore.py.state import cursors as _cursors
from routecore.py.state import dest as _dest
from routecore.py.state import memory as _memory
from routecore.py.state.dest import Claim, Destination
from routecore.py.state.header import (
    _U64,
    BLOCK_POOL,
    FNV_OFFSET,
    FNV_PRIME,
    LEASE_POOL,
    fnv1a64,
    handed_out,
)
from routecore.py.state.memory import MEM_PROBES
from routecore.py.state.process import (
    namespace_id,
    own_namespace,
    own_start_time,
    pid_alive,
    pid_namespace,
    process_start_time,
)
from routecore.state.checks import (
    GROUP_CAP,
    MAX_TIME,
    caller_bytes,
    did_bytes,
    local_day,
    number_bytes,
)
from routecore.state.format import (
    BLOCK,
    BLOCK_BRANCHES,
    BRANCHES,
    CURSOR,
    CURSORS_PER_ROW,
    DAYS,
    DEFAULT_PATH,
    DEST,
    HEADER_LEN,
    LEASE,
    LEASES,
    MAGIC,
    MASK32,
    MASK64,
    MAX_COUNTER_BLOCKS,
    MAX_DESTINATIONS,
    MAX_LEASES,
    MAX_MEMORY,
    MAX_NUMBERS,
    MEM,
    OFF_BLOCKS_HANDED,
    OFF_CLAIMS,
    OFF_FILE_ID,
    OFF_FIXED_TAIL,
    OFF_GENERATION,
    OFF_LEASES_HANDED,
    PATH_ENV,
    ROW,
    SLOT_USED,
    STATE_BRANCHES,
    UNWRITTEN_GRACE,
    VERSION,
    Sizes,
    blocks_offset,
    check_header,
    check_sizes,
    cursors_offset,
    default_sizes,
    file_length,
    fixed_bytes,
    header_bytes,
    leases_offset,
    memory_offset,
    rows_offset,
)

if TYPE_CHECKING:
    from routecore.state.protocol import StateStore

__all__ = [
    "BLOCK",
    "BLOCK_BRANCHES",
    "BRANCHES",
    "CHECK_INTERVAL",
    "CURSOR",
    "CURSORS_PER_ROW",
    "DAYS",
    "DEFAULT_PATH",
    "DEST",
    "FNV_OFFSET",
    "FNV_PRIME",
    "GROUP_CAP",
    "HEADER_LEN",
    "LEASE",
    "LEASES",
    "MAGIC",
    "MASK32",
    "MASK64",
    "MAX_COUNTER_BLOCKS",
    "MAX_DESTINATIONS",
    "MAX_LEASES",
    "MAX_MEMORY",
    "MAX_NUMBERS",
    "MAX_TIME",
    "MEM",
    "MEM_PROBES",
    "OFF_BLOCKS_HANDED",
    "OFF_CLAIMS",
    "OFF_FILE_ID",
    "OFF_FIXED_TAIL",
    "OFF_GENERATION",
    "OFF_LEASES_HANDED",
    "PATH_ENV",
    "ROW",
    "SLOT_USED",
    "STATE_BRANCHES",
    "UNWRITTEN_GRACE",
    "VERSION",
    "Claim",
    "Destination",
    "Sizes",
    "State",
    "blocks_offset",
    "caller_bytes",
    "check_header",
    "check_sizes",
    "cursors_offset",
    "default_sizes",
    "did_bytes",
    "file_length",
    "fnv1a64",
    "header_bytes",
    "leases_offset",
    "local_day",
    "memory_offset",
    "namespace_id",
    "number_bytes",
    "own_namespace",
    "own_start_time",
    "pid_alive",
    "pid_namespace",
    "process_start_time",
    "resolve_path",
    "rows_offset",
]

CHECK_INTERVAL = 1.0  # seconds: a claim looks at the file (State.check) at most this often


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


class State:
    """The shared state file of one host, mapped read-write.

    Open it with :meth:`create` (creates the file if missing) or :meth:`open`.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        mm: mmap.mmap,
        sizes: Sizes,
        identity: tuple[int, int, bytes],
    ) -> None:
        self._path = path
        self._fd = fd
        self._mm: mmap.mmap | None = mm
        self._sizes = sizes
        self._d, self._r, self._m, self._n, self._p = sizes
        # (device, inode, fixed header bytes) of the file mapped: see check()
        self._dev, self._ino, self._fixed = identity
        self._next_check = time.time() + CHECK_INTERVAL
        self._leases_off = leases_offset(sizes)
        self._mem_off = memory_offset(sizes)
        self._rows_off = rows_offset(sizes)
        self._blocks_off = blocks_offset(sizes)
        self._cursors_off = cursors_offset(sizes)
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
        leases: int | None = None,
        counter_blocks: int | None = None,
    ) -> State:
        """Open the state file at ``path``, creating it first if it is missing.

        ``leases`` (lease records in the pool) defaults to 2·destinations + 100 and
        ``counter_blocks`` (blocks of 8 branches in the pool) to 2·numbers + 32.
        A new file is written whole under a temporary name in the same directory, every block
        allocated (a file system without room for it is a StateError here, never a SIGBUS at a
        later write), then linked to ``path`` (which fails if another process got there first):
        racing creators end with one valid file. An existing file must have the asked sizes,
        all five (else StateError).
        """
        p = resolve_path(path)
        sizes = default_sizes(destinations, memory, numbers, leases, counter_blocks)
        if not os.path.exists(p):
            _create_file(p, sizes)
        state = cls.open(p)
        asked, have = sizes._asdict(), state._sizes._asdict()
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
        return cls(p, fd, mm, sizes, (st.st_dev, st.st_ino, fixed_bytes(head)))

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
        if fixed_bytes(mm[:HEADER_LEN]) != self._fixed:
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
            f"State({self._path!r}, destinations={self._d}, leases={self._r},"
            f" memory={self._m}, numbers={self._n}, counter_blocks={self._p}"
            f"{'' if self._mm is not None else ', closed'})"
        )

    @property
    def path(self) -> str:
        return self._path

    @property
    def destinations(self) -> int:
        return self._d

    @property
    def leases(self) -> int:
        """Lease records in the pool (R), handed to destinations as their capacities need."""
        return self._r

    @property
    def memory(self) -> int:
        return self._m

    @property
    def numbers(self) -> int:
        return self._n

    @property
    def counter_blocks(self) -> int:
        """Counter blocks of 8 branches in the pool (P), handed to 400 numbers as they count."""
        return self._p

    def pool_use(self) -> tuple[int, int]:
        """(lease records, counter blocks) handed out from the pools so far."""
        mm = self._map()
        return handed_out(mm, LEASE_POOL), handed_out(mm, BLOCK_POOL)

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

    # -- destinations and their claims (dest.py) ---------------------------------------------

    add_destination = _dest.add_destination
    set_online = _dest.set_online
    set_capacity = _dest.set_capacity
    destination = _dest.destination
    destinations_now = _dest.destinations_now
    idle = _dest.idle
    record_attempt = _dest.record_attempt
    claim = _dest.claim
    release = _dest.release
    extend = _dest.extend
    reap = _dest.reap

    # -- call memory (memory.py) -------------------------------------------------------------

    remember = _memory.remember
    recall = _memory.recall

    # -- counters (counters.py) --------------------------------------------------------------

    count_branch = _counters.count_branch
    branch_counts = _counters.branch_counts

    # -- round-robin cursors (cursors.py) ----------------------------------------------------

    next_cursor = _cursors.next_cursor


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


def _create_file(path: str, sizes: Sizes) -> None:
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
            _allocate(fd, path, file_length(sizes))
            head = header_bytes(sizes, secrets.randbits(64))
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


if TYPE_CHECKING:  # the twin's State satisfies the Protocol of every state store: mypy checks it

    def _a_store(s: State) -> StateStore:
        return s
