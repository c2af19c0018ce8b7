"""The shared call state, whichever store holds it: :func:`open_state` and the Protocol.

A location is a path (the state file of one host, ``docs/state-format.md``; the default) or a
Redis URL (the store of many hosts, ``docs/state-redis.md``): ``redis://host:port/db``,
``rediss://…`` (TLS), ``unix:///path/to/redis.sock?db=N``. The same goes for
``$ROUTECORE_STATE``, the command's ``--state`` and the adapters' ``--state``. Both stores satisfy
:class:`StateStore`, so the engine never knows which one it uses.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from routecore.errors import StateError
from routecore.state.format import DEFAULT_PATH, PATH_ENV
from routecore.state.protocol import ClaimLike, DestinationLike, StateStore

if TYPE_CHECKING:
    from routecore.state.redis import RedisState

__all__ = [
    "DEFAULT_PATH",
    "PATH_ENV",
    "URL_SCHEMES",
    "ClaimLike",
    "DestinationLike",
    "RedisState",
    "StateStore",
    "is_url",
    "open_state",
]

URL_SCHEMES = ("redis://", "rediss://", "unix://")


def is_url(location: str) -> bool:
    """Whether ``location`` names a Redis store rather than a state file."""
    return location.lower().startswith(URL_SCHEMES)


def resolve(location: str | os.PathLike[str] | None = None) -> str:
    """The location to open: ``location``, else ``$ROUTECORE_STATE``, else the default path."""
    if location is None:
        return os.environ.get(PATH_ENV) or DEFAULT_PATH
    return os.fspath(location)


def open_state(
    location: str | os.PathLike[str] | None = None,
    *,
    fail: Literal["open", "closed"] | None = None,
    backend: str | None = None,
) -> StateStore:
    """Open the shared state at ``location`` (default ``$ROUTECORE_STATE``, then
    ``/dev/shm/routecore-state``).

    A path opens the state file with the chosen backend's ``State`` (``backend``, default
    ``$ROUTECORE_BACKEND``, then native), made with the default sizes when there is none yet.
    A Redis URL opens a :class:`~routecore.state.redis.RedisState`; ``fail`` is what a call does
    while Redis cannot be used: ``"open"`` (the default; also ``?fail=`` in the URL) rings in the
    group's order without claims, ``"closed"`` finds everyone busy. A state file ignores it.
    """
    where = resolve(location)
    if fail not in (None, "open", "closed"):
        raise StateError(f"fail must be 'open' or 'closed', not {fail!r}")
    if is_url(where):
        from routecore.state.redis import RedisState

        return RedisState(where, fail=fail)
    if not where:
        raise StateError("an empty state location: give a path or a redis:// URL")
    from routecore.backend import get_backend

    state_cls: Any = get_backend(backend).State
    if not os.path.exists(where):
        try:
            state: StateStore = state_cls.create(where)
            return state
        except StateError:
            pass  # another process made it first: open theirs
    opened: StateStore = state_cls.open(where)
    return opened


def __getattr__(name: str) -> Any:
    if name == "RedisState":  # redis-py is loaded only when a Redis store is used
        from routecore.state.redis import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
