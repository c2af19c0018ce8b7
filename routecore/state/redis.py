"""The shared call state of many hosts, on Redis (or Valkey): the API of ``routecore.State``
(B9, B11, V3).

``RedisState(url)`` is what :func:`routecore.open_state` returns for ``redis://host:port/db``,
``rediss://…`` (TLS) and ``unix:///path?db=N``. It keeps the semantics of the state file
(``routecore/py/state/`` is the reference) on a server every host shares: every
read-modify-write is one Redis Function (``redis_functions.lua``, loaded when the store opens
and again after "Function not found"); a lease is a member of its destination's sorted set
scored by its deadline on the server's clock, with an owner and a fencing token that release
and extend require; call memory expires at 24:00 of the number's zone; branch counters are one
hash per number and day. When Redis cannot be used, a call waits at most about ``timeout``
seconds, then ``fail="open"`` (the default) rings in the group's order without claims and
``fail="closed"`` finds everyone busy; each such event is counted and logged, administrative
calls raise :class:`StateUnavailable`. ``docs/state-redis.md`` has the keys, the functions and
the whole rule.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.connection import UnixDomainSocketConnection
from redis.retry import Retry

from routecore.errors import StateError
from routecore.state.checks import (
    check_capacity,
    check_claim,
    check_seconds,
    number_bytes,
)
from routecore.state.process import own_namespace, own_start_time, pid_alive, process_start_time
from routecore.state.redis_daily import DailyKeys
from routecore.state.redis_hosts import HostKeys
from routecore.state.redis_link import (
    DEFAULT_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    LIBRARY,
    UNUSABLE,
    Unusable,
    connection_class,
    load_library,
    positive,
    redact,
    split_url,
)
from routecore.state.redis_values import (
    MALFORMED,
    RedisClaim,
    RedisDestination,
    RedisLease,
    StateUnavailable,
    claimed,
    destination_row,
    host_id,
    int_or_zero,
    leases_of,
    text_of,
)
from routecore.state.redis_values import (
    owner as lease_owner,
)

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_TIMEOUT",
    "LIBRARY",
    "RedisClaim",
    "RedisDestination",
    "RedisLease",
    "RedisState",
    "StateUnavailable",
]

log = logging.getLogger("routecore.state")

DEFAULT_PREFIX = "rc:"
LOG_EVERY = 10.0  # seconds between two log lines about an unusable Redis
MAX_GENERATION = (1 << 63) - 1  # a Redis integer is signed 64-bit
_CHUNK = 512  # destinations per function call of the whole-table reads

T = TypeVar("T")

Fail = Literal["open", "closed"]


class RedisState(DailyKeys, HostKeys):
    """The shared call state on a Redis server (see the module).

    ``url``: ``redis://[user:password@]host:port/db``, ``rediss://…`` or
    ``unix:///path?db=N``; its query may also give ``prefix``, ``fail``, ``timeout`` and
    ``retry_after`` (keyword arguments given here win). ``prefix`` starts every key (``rc:``;
    use a hash tag such as ``{rc}:`` on a Redis Cluster). ``client``: a ready ``redis.Redis``
    to use instead of one made from ``url`` (its timeouts are then its own).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str | None = None,
        fail: Fail | None = None,
        timeout: float | None = None,
        retry_after: float | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise StateError(f"a Redis URL must be a string, not {url!r}")
        plain, own = split_url(url)
        chosen_fail = fail if fail is not None else own.get("fail", "open")
        if chosen_fail not in ("open", "closed"):
            raise StateError(f"fail must be 'open' or 'closed', not {chosen_fail!r}")
        self._fail: Fail = "open" if chosen_fail == "open" else "closed"
        self._prefix = prefix if prefix is not None else own.get("prefix", DEFAULT_PREFIX)
        if not isinstance(self._prefix, str):
            raise StateError(f"prefix must be a string, not {self._prefix!r}")
        self.timeout = positive(
            timeout if timeout is not None else own.get("timeout", DEFAULT_TIMEOUT), "timeout"
        )
        self.retry_after = positive(
            retry_after if retry_after is not None else own.get("retry_after", DEFAULT_RETRY_AFTER),
            "retry_after",
        )
        self._url = url
        self._path = redact(url)
        if client is None:
            try:
                cls = connection_class(plain)
                tcp = {} if cls is UnixDomainSocketConnection else {"socket_keepalive": True}
                client = redis.Redis.from_url(
                    plain,
                    connection_class=cls,
                    socket_timeout=self.timeout,
                    socket_connect_timeout=self.timeout,
                    retry=Retry(NoBackoff(), 0),
                    **tcp,
                )
            except ValueError as e:
                raise StateError(f"{self._path}: not a Redis URL: {e}") from None
        self._r: redis.Redis | None = client
        self._host = host_id()
        p = self._prefix.encode()
        self._k_seq = p + b"seq"
        self._k_gen = p + b"gen"
        self._k_dests = p + b"dests"
        self._k_hosts = p + b"hosts"
        self._p_dest = p + b"d:"
        self._p_lease = p + b"l:"
        self._p_memory = p + b"m:"
        self._p_count = p + b"c:"
        self._p_cursor = p + b"r:"
        self.degraded_count = 0
        """How many operations went by the unreachable rule (fail open or closed)."""
        self.reasserted_count = 0
        """Leases a keep-alive found gone (Redis lost them) and took again."""
        self.lost_count = 0
        """Leases a keep-alive found gone and taken by another call meanwhile."""
        self._down_until = -math.inf  # monotonic time before which Redis is not tried
        self._logged_at = -math.inf
        self._unlogged = 0
        self._generation = 0  # the last generation read: served while Redis cannot be used
        self._orphans: list[tuple[tuple[str, ...], str]] = []  # claims whose reply was lost
        self._lock = threading.Lock()
        self._library_name, self._f, self._library = load_library()
        try:
            self._do(self._load, force=True)
        except Unusable as e:
            self._degraded("loading the functions", e)  # loaded at the first call that can

    # -- the connection --------------------------------------------------------------------

    def _client(self) -> redis.Redis:
        r = self._r
        if r is None:
            raise StateError(f"{self._path}: the state is closed")
        return r

    def _cmd(self, *args: Any) -> Any:
        return self._client().execute_command(*args)  # type: ignore[no-untyped-call]

    def _load(self) -> None:
        """Load routecore's library unless Redis has it with this very code, then check that
        what Redis holds under its name is this code: a library of another content under the
        name is replaced; one still not ours after that makes Redis unusable, never used."""
        if self._library_code() == self._library:
            return
        self._cmd("FUNCTION", "LOAD", "REPLACE", self._library)
        if self._library_code() != self._library:
            self._down_until = time.monotonic() + self.retry_after
            raise Unusable(f"the library {self._library_name} in Redis is not routecore's", False)

    def _library_code(self) -> str | None:
        """The code Redis holds under the library's name (None: none)."""
        found = self._cmd("FUNCTION", "LIST", "LIBRARYNAME", self._library_name, "WITHCODE")
        for entry in found:  # redis-py gives each library as a dict (RESP2: pairs)
            fields = (
                entry
                if isinstance(entry, dict)
                else dict(zip(entry[::2], entry[1::2], strict=False))
            )
            name = fields.get(b"library_name", fields.get("library_name"))
            if name is not None and text_of(name) == self._library_name:
                code = fields.get(b"library_code", fields.get("library_code"))
                return None if code is None else text_of(code)
        return None

    def _do(self, fn: Callable[[], T], *, force: bool = False) -> T:
        """``fn()`` against Redis (its reply read inside ``fn``). A connection the server closed
        (a restart) is retried once at once (redis-py reconnects); anything that says Redis
        cannot be used now raises Unusable and keeps Redis untried for ``retry_after`` seconds
        (unless ``force``): unreachable, not ready, a command Redis refuses (an ACL without
        FCALL, MISCONF, OOM, a read-only replica, a key of another type), and a reply that is
        not what routecore's functions answer (a server answering garbage)."""
        if not force and time.monotonic() < self._down_until:
            raise Unusable("unusable moments ago; not tried", sent=False)
        try:
            try:
                return fn()
            except redis.ConnectionError as e:
                if isinstance(e, redis.exceptions.BusyLoadingError | redis.AuthenticationError):
                    raise
                return fn()  # a pooled connection closed by the server: once more, anew
        except UNUSABLE as e:
            self._down_until = time.monotonic() + self.retry_after
            # a failed connect sent nothing; any other failure may follow a request that ran
            unsent = "connecting to" in str(e) or "refused" in str(e)
            raise Unusable(f"{type(e).__name__}: {e}", sent=not unsent) from e
        except redis.RedisError as e:  # refused (ResponseError) or not understood
            self._down_until = time.monotonic() + self.retry_after
            raise Unusable(f"{type(e).__name__}: {e}", sent=True) from e
        except MALFORMED as e:  # a reply of another shape than routecore's functions give
            self._down_until = time.monotonic() + self.retry_after
            raise Unusable(f"a malformed reply ({type(e).__name__}: {e})", sent=True) from e

    def _fcall(
        self,
        name: str,
        keys: Sequence[bytes],
        args: Sequence[Any],
        ro: bool = False,
        parse: Callable[[Any], T] | None = None,
    ) -> Any:
        """Call function ``name``; its reply through ``parse`` (inside :meth:`_do`, so a reply
        of another shape is Unusable like any other failure)."""
        command = "FCALL_RO" if ro else "FCALL"
        call = (command, self._f + name, len(keys), *keys, *args)

        def run() -> Any:
            try:
                reply = self._cmd(*call)
            except redis.ResponseError as e:
                if "function not found" not in str(e).lower():
                    raise
                self._load()  # a Redis that lost its functions (restarted, FUNCTION FLUSH)
                reply = self._cmd(*call)
            return reply if parse is None else parse(reply)

        return self._do(run)

    def _degraded(self, what: str, error: BaseException) -> None:
        """Count (and log, at most once every LOG_EVERY seconds) one operation that went by
        the unreachable rule."""
        with self._lock:
            self.degraded_count += 1
            self._unlogged += 1
            now = time.monotonic()
            if now - self._logged_at < LOG_EVERY:
                return
            self._logged_at, n, self._unlogged = now, self._unlogged, 0
        rule = "failing open" if self._fail == "open" else "failing closed"
        log.warning(
            "%s: Redis cannot be used (%s): %s, %s; %d such operation(s) since the last message",
            self._path,
            error,
            what,
            rule,
            n,
        )

    def _unavailable(self, what: str, error: Unusable) -> StateUnavailable:
        return StateUnavailable(f"{self._path}: Redis cannot be used to {what}: {error}")

    # -- keys ------------------------------------------------------------------------------

    def _pair(self, raw: bytes) -> tuple[bytes, bytes]:
        return self._p_dest + raw, self._p_lease + raw

    def _pairs(self, raws: Sequence[bytes]) -> list[bytes]:
        keys: list[bytes] = []
        for raw in raws:
            keys.extend(self._pair(raw))
        return keys

    # -- opening and closing ---------------------------------------------------------------

    @property
    def path(self) -> str:
        """The URL this store was opened with, without its password."""
        return self._path

    @property
    def location(self) -> str:
        return self._path

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def fail(self) -> Fail:
        return self._fail

    @property
    def client(self) -> redis.Redis:
        """The redis-py client (for tools and tests)."""
        return self._client()

    def check(self) -> None:
        """StateUnavailable unless Redis answers now (tried even within ``retry_after``)."""
        self._client()
        try:
            self._do(lambda: self._cmd("PING"), force=True)
        except Unusable as e:
            raise self._unavailable("answer a PING", e) from None
        self._down_until = -math.inf

    def close(self) -> None:
        r, self._r = self._r, None
        if r is not None:
            r.close()

    def __enter__(self) -> RedisState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        closed = "" if self._r is not None else ", closed"
        return f"RedisState({self._path!r}, prefix={self._prefix!r}, fail={self._fail!r}{closed})"

    # -- generation ------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """The published image's generation (the last one read while Redis cannot be used)."""
        self._client()
        try:
            value = self._do(lambda: int_or_zero(self._cmd("GET", self._k_gen)))
        except Unusable as e:
            self._degraded("generation", e)
            return self._generation
        self._generation = value
        return self._generation

    def set_generation(self, generation: int) -> None:
        if (
            not isinstance(generation, int)
            or isinstance(generation, bool)
            or not 0 <= generation <= MAX_GENERATION
        ):
            raise StateError(
                f"generation must be an integer in 0..2**63-1 (a Redis integer), not {generation!r}"
            )
        try:
            self._do(lambda: self._cmd("SET", self._k_gen, generation))
        except Unusable as e:
            raise self._unavailable("set the generation", e) from None
        self._generation = generation

    def bump_generation(self) -> int:
        try:
            g = self._do(lambda: int(self._cmd("INCR", self._k_gen)))
        except Unusable as e:
            raise self._unavailable("bump the generation", e) from None
        self._generation = g
        return g

    # -- destinations ----------------------------------------------------------------------

    def add_destination(self, number: str, *, capacity: int = 1, online: bool = True) -> None:
        """Insert the destination, or update its capacity and online flag. Dropped (counted)
        while Redis cannot be used: the next call's claim inserts it."""
        raw = number_bytes(number)
        cap = check_capacity(capacity)
        keys = (self._p_dest + raw, self._k_dests)
        try:
            self._fcall("set", keys, ("add", raw, cap, 1 if online else 0))
        except Unusable as e:
            self._degraded("add_destination", e)

    def _set(self, number: str, what: str, value: int) -> None:
        raw = number_bytes(number)
        keys = (self._p_dest + raw, self._k_dests)
        try:
            done = self._fcall("set", keys, (what, raw, value))
        except Unusable as e:
            raise self._unavailable(f"set the {what} of {number}", e) from None
        if not done:
            raise StateError(f"unknown destination {number!r}")

    def set_online(self, number: str, online: bool) -> None:
        self._set(number, "online", 1 if online else 0)

    def set_capacity(self, number: str, capacity: int) -> None:
        number_bytes(number)
        self._set(number, "capacity", check_capacity(capacity))

    def _read(self, raws: Sequence[bytes]) -> list[RedisDestination | None]:
        out: list[RedisDestination | None] = []
        for i in range(0, len(raws), _CHUNK):
            chunk = raws[i : i + _CHUNK]

            def parse(rows: Any, chunk: Sequence[bytes] = chunk) -> list[RedisDestination | None]:
                return [destination_row(raw, row) for raw, row in zip(chunk, rows, strict=True)]

            out += self._fcall("destinations", self._pairs(chunk), (), ro=True, parse=parse)
        return out

    def destination(self, number: str) -> RedisDestination | None:
        """The destination as read now; None when unknown (or while Redis cannot be used)."""
        raw = number_bytes(number)
        try:
            return self._read([raw])[0]
        except Unusable as e:
            self._degraded("destination", e)
            return None

    def _numbers(self) -> list[bytes]:
        return self._do(lambda: sorted(bytes(n) for n in self._cmd("SMEMBERS", self._k_dests)))

    def destinations_now(self) -> list[RedisDestination]:
        """Every destination, by number. StateUnavailable while Redis cannot be used."""
        try:
            return [d for d in self._read(self._numbers()) if d is not None]
        except Unusable as e:
            raise self._unavailable("read the destinations", e) from None

    def idle(self, numbers: Sequence[str]) -> list[bool]:
        """Whether each number has room now: online with fewer live leases than its capacity.
        An unknown number counts as idle; so does every number while Redis cannot be used."""
        if isinstance(numbers, str | bytes):
            raise StateError("numbers must be a sequence of numbers, not one string")
        numbers = list(numbers)
        asked: list[bytes] = []
        where: list[int] = []
        for i, number in enumerate(numbers):
            try:
                asked.append(number_bytes(number))
                where.append(i)
            except StateError:
                pass  # never inserted: idle
        out = [True] * len(numbers)
        if not asked:
            return out
        try:
            got = self._fcall(
                "idle",
                self._pairs(asked),
                (),
                ro=True,
                parse=lambda flags: list(zip(where, flags, strict=True)),
            )
        except Unusable as e:
            self._degraded("idle", e)
            return out
        for i, flag in got:
            out[i] = flag == 1
        return out

    def record_attempt(self, number: str, *, answered: bool, talk_seconds: int = 0) -> None:
        """Count one attempt on ``number`` (an unknown number is inserted, as ``claim`` does).
        Dropped (counted) while Redis cannot be used."""
        raw = number_bytes(number)
        if (
            not isinstance(talk_seconds, int)
            or isinstance(talk_seconds, bool)
            or not 0 <= talk_seconds <= 0xFFFFFFFF
        ):
            raise StateError(f"talk_seconds must be an integer in 0..2**32-1, not {talk_seconds!r}")
        keys = (self._p_dest + raw, self._k_dests)
        try:
            self._fcall("attempt", keys, (raw, 1 if answered else 0, talk_seconds))
        except Unusable as e:
            self._degraded("record_attempt", e)

    # -- leases ----------------------------------------------------------------------------

    def claim(
        self,
        candidates: Sequence[str],
        call_id: str,
        *,
        lease: float = 600.0,
        all: bool = False,
    ) -> RedisClaim | None:
        """Take a lease on the first candidate with room (or, ``all=True``, on every one).

        A candidate has room when it is online and holds fewer live leases than its capacity
        (expired ones are dropped on the way). Unknown candidates are inserted (capacity 1,
        online); a candidate given twice counts once. None if none has room. While Redis
        cannot be used: a degraded claim (fail open) or None (fail closed).
        """
        wanted = check_claim(candidates, call_id)
        seconds = check_seconds(lease, "lease")
        if not wanted:
            return None
        if self._orphans:
            self._forget_orphans()
        owner = lease_owner(self._host, call_id)
        raws = list(wanted.values())
        keys = [self._k_seq, self._k_dests, *self._pairs(raws)]
        args = (max(int(seconds * 1000), 1), 1 if all else 0, owner, *raws)
        try:
            got = self._fcall("claim", keys, args, parse=claimed)
        except Unusable as e:
            self._degraded("claim", e)
            numbers = tuple(wanted) if all else (next(iter(wanted)),)
            if self._fail == "closed":
                if e.sent:
                    self._orphans.append((tuple(wanted), owner))
                return None
            return RedisClaim(numbers, call_id, (), True, owner if e.sent else "")
        if got is None:
            return None
        token, numbers = got
        return RedisClaim(numbers, call_id, tuple((0, 0, token) for _ in numbers))

    def _tokens(self, claim: Any, keep: str | None) -> dict[int, list[bytes]]:
        """The destinations of ``claim`` but ``keep``, by token."""
        by_token: dict[int, list[bytes]] = {}
        try:
            pairs = list(zip(claim.numbers, claim.leases, strict=False))
        except (AttributeError, TypeError):
            raise StateError(f"not a claim: {claim!r}") from None
        for number, lease in pairs:
            if number == keep or not isinstance(number, str):
                continue
            try:
                raw, token = number_bytes(number), int(lease[2])
            except (StateError, TypeError, ValueError, IndexError):
                continue  # cannot be held here
            by_token.setdefault(token, []).append(raw)
        return by_token

    def release(self, claim: Any, *, keep: str | None = None) -> int:
        """Free every lease of ``claim`` but the one on ``keep``; how many were freed.

        Only leases still held by the claim's token are freed: releasing again frees 0, and so
        does the release of a lease that expired and was claimed by another call since.
        """
        if getattr(claim, "degraded", False):
            orphan = getattr(claim, "orphan", "")
            if orphan:
                numbers = [n for n in claim.numbers if n != keep]
                self._forget(numbers, orphan)
            return 0
        released = getattr(claim, "released", None)
        if isinstance(released, set):
            released.update(n for n in claim.numbers if n != keep)
        freed = 0
        for token, raws in self._tokens(claim, keep).items():
            try:
                freed += self._fcall("release", self._pairs(raws), (token,), parse=int)
            except Unusable as e:
                self._degraded("release", e)  # the leases expire by their deadline
        return freed

    def extend(self, claim: Any, seconds: float) -> int:
        """Set the deadline of every lease the claim still holds to now + ``seconds`` (server
        time); how many. A lease Redis no longer has (a restart that lost its data) is taken
        again when its destination has room, else it is lost to another call: both counted
        (``reasserted_count``, ``lost_count``) and logged."""
        by_token = {} if getattr(claim, "degraded", False) else self._tokens(claim, None)
        released: set[str] = getattr(claim, "released", set())
        ms = int(check_seconds(seconds, "seconds") * 1000)
        done = 0
        for token, raws in by_token.items():
            held = [r for r in raws if r.decode("ascii") not in released]
            if not held:
                continue
            try:
                extended = self._fcall("extend", self._pairs(held), (token, ms), parse=int)
                if extended < len(held):
                    extended += self._reassert(claim, token, held, ms)
            except Unusable as e:
                self._degraded("extend", e)
                continue
            done += extended
        return done

    def _reassert(self, claim: Any, token: int, raws: list[bytes], ms: int) -> int:
        """Take again the leases of ``claim`` Redis lost; how many it got back."""
        owner = lease_owner(self._host, claim.call_id)
        keys = [self._k_dests, *self._pairs(raws)]
        back: int
        lost: int
        back, lost = self._fcall(
            "reassert", keys, (token, ms, owner, *raws), parse=lambda r: (int(r[0]), int(r[1]))
        )
        with self._lock:
            self.reasserted_count += back
            self.lost_count += lost
        log.warning(
            "%s: call %s: %d lease(s) Redis had lost taken again, %d taken by another call"
            " meanwhile",
            self._path,
            claim.call_id,
            back,
            lost,
        )
        return back

    def _forget(self, numbers: Sequence[str], owner: str) -> int:
        raws = [number_bytes(n) for n in numbers]
        if not raws:
            return 0
        try:
            return int(self._fcall("forget", self._pairs(raws), (owner,), parse=int))
        except Unusable as e:
            self._degraded("release", e)
            return 0

    def _forget_orphans(self) -> None:
        """Free the leases of fail-closed claims whose reply was lost (once Redis answers)."""
        while self._orphans and time.monotonic() >= self._down_until:
            numbers, owner = self._orphans[0]
            try:
                self._fcall("forget", self._pairs([number_bytes(n) for n in numbers]), (owner,))
            except Unusable:
                return
            self._orphans.pop(0)

    def leases(self, number: str) -> list[RedisLease]:
        """The live leases of ``number`` with their owners (a look for tools and tests)."""
        raw = number_bytes(number)
        try:
            found: list[RedisLease] = self._fcall(
                "leases", self._pair(raw), (), ro=True, parse=leases_of
            )
        except Unusable as e:
            raise self._unavailable(f"read the leases of {number}", e) from None
        return found

    def reap(self) -> int:
        """Drop every expired lease, the leases of processes of this host (and PID namespace)
        that are gone, and those of hosts whose heartbeat stopped more than
        :data:`HOST_DEAD_SECONDS` ago (:meth:`heartbeat`; a host that never beat is left to its
        leases' deadlines); how many. StateUnavailable while Redis cannot be used."""
        try:
            numbers = self._numbers()
            dead = self._dead_hosts()
            reaped = 0
            for i in range(0, len(numbers), _CHUNK):
                reaped += self._fcall("reap", self._pairs(numbers[i : i + _CHUNK]), (), parse=int)
            for number in numbers:
                reaped += self._reap_dead(number, dead)
        except Unusable as e:
            raise self._unavailable("reap leases", e) from None
        return reaped

    def _reap_dead(self, raw: bytes, dead_hosts: set[str]) -> int:
        pair = self._pair(raw)
        leases: list[RedisLease] = self._fcall("leases", pair, (), ro=True, parse=leases_of)
        mine = own_namespace()
        freed = 0
        for lease in leases:
            host, pid, start, ns = lease.host, lease.pid, lease.start, lease.namespace
            if host in dead_hosts:  # a host whose heartbeat stopped: its calls are gone
                freed += self._fcall("release", pair, (lease.token,), parse=int)
                continue
            if host != self._host or not pid or (ns and mine and ns != mine):
                continue  # another host's, or another PID namespace's: its deadline frees it
            if pid == os.getpid() and start == own_start_time():
                continue
            running = process_start_time(pid) if pid_alive(pid) else None
            if running is None or (start and running != start):
                freed += self._fcall("release", pair, (lease.token,), parse=int)
        return freed
