"""Which hosts are alive, for the Redis state: each adapter server's heartbeat (server time,
in one hash), the lead of a periodic job held by one host at a time, and the hosts whose
heartbeat stopped, whose leases another host's reap frees, as a part of
:class:`routecore.state.redis.RedisState` (B9).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from routecore.state.checks import check_seconds
from routecore.state.redis_link import Unusable
from routecore.state.redis_values import text_of

__all__ = ["HOST_DEAD_SECONDS", "HostKeys"]

T = TypeVar("T")

HOST_DEAD_SECONDS = 90.0
"""A host whose heartbeat is older than this is gone: another host's reap frees its leases."""
FORGET_SECONDS = 86_400.0
"""A host silent this long is dropped from the hash (its leases have long expired)."""


class HostKeys:
    """Heartbeats and leads of a RedisState (which has the keys and the ways to reach Redis
    declared here)."""

    _host: str
    _prefix: str
    _k_hosts: bytes

    if TYPE_CHECKING:

        def _do(self, fn: Callable[[], T], *, force: bool = False) -> T: ...
        def _cmd(self, *args: Any) -> Any: ...
        def _fcall(self, name: str, keys: Sequence[bytes], args: Sequence[Any]) -> Any: ...
        def _degraded(self, what: str, error: BaseException) -> None: ...

    def heartbeat(self) -> None:
        """Say this host is alive now (server time), for other hosts' :meth:`reap`. The
        adapters' servers beat every :data:`routecore.adapter.reaper.EVERY` seconds. Dropped
        (counted) while Redis cannot be used."""

        def beat() -> None:
            self._cmd("HSET", self._k_hosts, self._host, self._server_ms())

        try:
            self._do(beat)
        except Unusable as e:
            self._degraded("heartbeat", e)

    def lead(self, name: str, seconds: float) -> bool:
        """Whether this host holds (or now takes) the lead of ``name`` for ``seconds`` (one
        host at a time does a periodic job; the lead passes on when its holder stops renewing
        it). False while Redis cannot be used."""
        key = self._prefix.encode() + b"lead:" + name.encode()
        ms = max(int(check_seconds(seconds, "seconds") * 1000), 1)

        try:
            return bool(self._fcall("lead", [key], (self._host, ms)))
        except Unusable as e:
            self._degraded("lead", e)
            return False

    def _server_ms(self) -> int:
        seconds, micros = self._cmd("TIME")
        return int(seconds) * 1000 + int(micros) // 1000

    def _dead_hosts(self) -> set[str]:
        """Hosts whose last heartbeat is older than HOST_DEAD_SECONDS (a host gone for a day
        is forgotten: its leases have long expired)."""

        def read() -> set[str]:
            now = self._server_ms()
            beats = {text_of(h): int(ms) for h, ms in self._cmd("HGETALL", self._k_hosts).items()}
            old = [h for h, ms in beats.items() if now - ms > FORGET_SECONDS * 1000]
            if old:
                self._cmd("HDEL", self._k_hosts, *old)
            dead = {h for h, ms in beats.items() if now - ms > HOST_DEAD_SECONDS * 1000}
            return dead - {self._host}

        return self._do(read)
