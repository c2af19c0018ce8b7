"""What the Redis store hands out: its claims, destinations and leases, and the owner a lease
carries (host id, pid, process start time, PID namespace, call id) (B9)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from routecore.errors import StateError
from routecore.state.process import own_namespace, own_start_time

__all__ = [
    "HOST_ENV",
    "RedisClaim",
    "RedisDestination",
    "RedisLease",
    "StateUnavailable",
    "host_id",
    "owner",
    "parse_owner",
]

HOST_ENV = "ROUTECORE_HOST_ID"


class StateUnavailable(StateError):
    """Redis cannot be used now (an administrative call; calls fail open or closed)."""


@dataclass(frozen=True)
class RedisClaim:
    """Leases taken by one :meth:`RedisState.claim`: ``numbers[i]`` is held by ``leases[i]``,
    ``(0, 0, token)`` (the token is the claim's fencing number, the same for each lease).

    ``degraded``: taken while Redis could not be used (fail open): it holds no lease and its
    release and extend do nothing.
    """

    numbers: tuple[str, ...]
    call_id: str
    leases: tuple[tuple[int, int, int], ...]
    degraded: bool = False
    # The owner of a degraded claim whose command may have run (a timeout after sending): its
    # release frees whatever that owner got (the reply that would have named the token is lost).
    orphan: str = field(default="", repr=False)

    @property
    def token(self) -> int:
        """The fencing token (0 for a degraded claim)."""
        return self.leases[0][2] if self.leases else 0


@dataclass(frozen=True)
class RedisDestination:
    """One destination as read now (``busy``: its live leases)."""

    number: str
    capacity: int
    online: bool
    busy: int
    offered: int
    answered: int
    unanswered: int
    talk_seconds: int


@dataclass(frozen=True)
class RedisLease:
    """A live lease: its token, deadline (unix seconds, server time) and owner."""

    token: int
    deadline: float
    host: str
    pid: int
    start: int
    namespace: int
    call_id: str


def host_id() -> str:
    """This host's id in lease owners: ``$ROUTECORE_HOST_ID`` or the host name."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


def owner(host: str, call_id: str) -> str:
    return f"{host}\t{os.getpid()}\t{own_start_time()}\t{own_namespace()}\t{call_id}"


def parse_owner(raw: str) -> tuple[str, int, int, int, str]:
    parts = raw.split("\t", 4)
    if len(parts) != 5:
        return raw, 0, 0, 0, ""
    host, pid, start, ns, call_id = parts
    try:
        return host, int(pid), int(start), int(ns), call_id
    except ValueError:
        return host, 0, 0, 0, call_id
