"""What every shared-state store offers: the typed Protocol the engine is written against.

Two stores satisfy it: the state file of one host (``routecore.State`` of either backend, see
``docs/state-format.md``) and the Redis store of many hosts (:class:`routecore.state.redis.
RedisState`, see ``docs/state-redis.md``). :func:`routecore.open_state` opens either from a
location. The engine (``routecore.engine.dialer``), the live image (``routecore.state.live``), the
adapters (``routecore.adapter``) and the command line use nothing else of a state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from routecore.rules import DEFAULT_TZ

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ClaimLike", "DestinationLike", "StateStore"]


class ClaimLike(Protocol):
    """The leases one ``claim`` took: ``numbers[i]`` is held by ``leases[i]``.

    A lease is ``(slot, record, id)``: in the state file the destination slot, the lease record
    and the claim id; in Redis ``(0, 0, token)`` with the fencing token of the claim.
    """

    @property
    def numbers(self) -> tuple[str, ...]: ...
    @property
    def call_id(self) -> str: ...
    @property
    def leases(self) -> Sequence[tuple[int, int, int]]: ...


class DestinationLike(Protocol):
    """One destination as read now (``busy``: its live leases)."""

    @property
    def number(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def online(self) -> bool: ...
    @property
    def busy(self) -> int: ...
    @property
    def offered(self) -> int: ...
    @property
    def answered(self) -> int: ...
    @property
    def unanswered(self) -> int: ...
    @property
    def talk_seconds(self) -> int: ...


@runtime_checkable
class StateStore(Protocol):
    """A shared call state: claims with capacity and leases, idle/busy, online/offline, call
    memory until 24:00 in the number's zone, branch and destination counters, round-robin
    cursors and the published image generation. Bad arguments raise ``StateError``."""

    @property
    def path(self) -> str:
        """Where the state is: the file's absolute path, or the Redis URL (no password)."""
        ...

    # -- destinations ----------------------------------------------------------------------
    def add_destination(self, number: str, *, capacity: int = 1, online: bool = True) -> None: ...
    def set_online(self, number: str, online: bool) -> None: ...
    def set_capacity(self, number: str, capacity: int) -> None: ...
    def destination(self, number: str) -> DestinationLike | None: ...
    def destinations_now(self) -> Sequence[DestinationLike]: ...
    def idle(self, numbers: Sequence[str]) -> list[bool]: ...
    def record_attempt(self, number: str, *, answered: bool, talk_seconds: int = 0) -> None: ...

    # -- leases ----------------------------------------------------------------------------
    def claim(
        self, candidates: Sequence[str], call_id: str, *, lease: float = 600.0, all: bool = False
    ) -> ClaimLike | None: ...
    def release(self, claim: Any, *, keep: str | None = None) -> int: ...
    def extend(self, claim: Any, seconds: float) -> int: ...
    def reap(self) -> int: ...

    # -- call memory, counters, cursors ----------------------------------------------------
    def remember(
        self, did: str, caller: str, destination: str, at: float, *, tz: str = DEFAULT_TZ
    ) -> None: ...
    def recall(self, did: str, caller: str, at: float, *, tz: str = DEFAULT_TZ) -> str | None: ...
    def count_branch(self, did: str, branch: int, at: float, *, tz: str = DEFAULT_TZ) -> None: ...
    def branch_counts(
        self, did: str, at: float, *, tz: str = DEFAULT_TZ
    ) -> npt.NDArray[np.uint32]: ...
    def next_cursor(self, did: str, group: str) -> int | None: ...

    # -- the published image's generation --------------------------------------------------
    @property
    def generation(self) -> int: ...
    def set_generation(self, generation: int) -> None: ...
    def bump_generation(self) -> int: ...

    # -- the store itself ------------------------------------------------------------------
    def check(self) -> None:
        """StateError when the store is not usable as opened (a file changed under its map,
        an unreachable Redis)."""
        ...

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, a: Any, b: Any, c: Any, /) -> None: ...


if TYPE_CHECKING:  # every store satisfies the Protocol: mypy checks these two (the twin's
    # State checks itself, in routecore.py.state: nothing outside the twin imports it)
    from routecore._native import State as _NativeState
    from routecore.state.redis import RedisState as _RedisState

    def _native(s: _NativeState) -> StateStore:
        return s

    def _redis(s: _RedisState) -> StateStore:
        return s
