"""What the Redis store hands out: its claims, destinations and leases, and the owner a lease
carries (host id, pid, process start time, PID namespace, call id) (B9)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from routecore.errors import StateError
from routecore.state.process import own_namespace, own_start_time

__all__ = [
    "HOST_ENV",
    "MALFORMED",
    "RedisClaim",
    "RedisDestination",
    "RedisLease",
    "StateUnavailable",
    "claimed",
    "destination_row",
    "host_id",
    "int_or_zero",
    "leases_of",
    "owner",
    "parse_owner",
    "text_of",
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
    # The numbers released so far (an answer keeps the winner): a keep-alive re-asserts only
    # the leases the claim still holds.
    released: set[str] = field(default_factory=set, compare=False, repr=False)

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


def text_of(raw: Any) -> str:
    """A reply's bytes as text (bytes that are not UTF-8 kept as surrogates)."""
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)


MALFORMED = (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError)
"""What reading a reply of another shape raises (UnicodeError is a ValueError)."""


def int_or_zero(raw: Any) -> int:
    return 0 if raw is None else int(raw)


def destination_row(raw: bytes, row: Any) -> RedisDestination | None:
    """One row of ``rc_destinations``: None for an unknown destination."""
    if not row:
        return None
    capacity, online, offered, answered, unanswered, talk, busy = (int(v) for v in row)
    return RedisDestination(
        raw.decode("ascii"), capacity, online == 1, busy, offered, answered, unanswered, talk
    )


def claimed(reply: Any) -> tuple[int, tuple[str, ...]] | None:
    """``rc_claim``'s reply: None, or the token and the numbers leased."""
    if reply is None:
        return None
    numbers = tuple(text_of(n) for n in reply[1:])
    if not numbers or isinstance(reply, bytes | str):
        raise ValueError(f"a claim reply without numbers: {reply!r:.80}")
    return int(reply[0]), numbers


def leases_of(reply: Any) -> list[RedisLease]:
    """``rc_leases``'s reply: (count, then token, deadline ms, owner per lease)."""
    if isinstance(reply, bytes | str | int):
        raise ValueError(f"a leases reply that is not a list: {reply!r:.80}")
    out = []
    for i in range(1, len(reply), 3):
        host, pid, start, ns, call_id = parse_owner(text_of(reply[i + 2]))
        deadline = int(float(reply[i + 1])) / 1000
        out.append(RedisLease(int(reply[i]), deadline, host, pid, start, ns, call_id))
    return out
