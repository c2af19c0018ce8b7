"""How the Redis store reaches its server: its URL (routecore's own query parameters apart,
the password hidden in what is shown), connections closed by a reset, the Functions library,
and which errors mean that Redis cannot be used now (the fail open / closed rule applies)."""

from __future__ import annotations

import hashlib
import math
import socket
import struct
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

from routecore.errors import StateError

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_TIMEOUT",
    "FUNCTION_PREFIX",
    "LIBRARY",
    "load_library",
    "redact",
    "split_url",
]

DEFAULT_TIMEOUT = 0.1  # seconds: socket and connect timeouts of every command
DEFAULT_RETRY_AFTER = 0.5  # seconds without trying after Redis could not be used
_OWN_PARAMS = ("prefix", "fail", "timeout", "retry_after")

# Errors that mean "Redis cannot be used now": the rule of fail open / closed applies.
UNUSABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # refused, reset, closed, loading, authentication
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica after a failover
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    OSError,
)
BUSY = ("BUSY", "MASTERDOWN", "NOREPLICAS", "LOADING")  # replies of a server not ready


class Unusable(Exception):
    """Redis could not be used for one operation. ``sent``: the command may have run."""

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


_NO_LINGER = struct.pack("ii", 1, 0)


class _Abortive:
    """A TCP connection closed by a reset (SO_LINGER 0): the request in its send buffer when
    it timed out is dropped, never delivered once the network is back (the kernel would go on
    retransmitting it after a graceful close), so a call given up on takes nothing later."""

    def _connect(self) -> socket.socket:
        sock: socket.socket = super()._connect()  # type: ignore[misc]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _NO_LINGER)
        return sock


class _TCP(_Abortive, Connection):
    pass


class _TLS(_Abortive, SSLConnection):
    pass


def connection_class(url: str) -> type[Any]:
    scheme = url.split(":", 1)[0].lower()
    return {"rediss": _TLS, "unix": UnixDomainSocketConnection}.get(scheme, _TCP)


def load_library() -> tuple[str, str, str]:
    """routecore's Redis Functions library: (its name, its functions' prefix, its code). Both
    names carry a digest of the code's text, so another version of routecore never calls
    these functions, nor these processes another version's."""
    text = resources.files("routecore.state").joinpath("redis_functions.lua").read_text("utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    name, prefix = f"routecore_{digest}", f"rc{digest}_"
    return name, prefix, text.replace("__LIBRARY__", name).replace("__F__", prefix)


LIBRARY, FUNCTION_PREFIX, _CODE = load_library()
"""The library's name (``routecore_`` and 12 hex digits of the code's digest) and prefix."""


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """(the URL for redis-py, routecore's own query parameters: prefix, fail, timeout,
    retry_after)."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    own = {k: v for k, v in pairs if k in _OWN_PARAMS}
    rest = [(k, v) for k, v in pairs if k not in _OWN_PARAMS]
    return (f"{base}?{urlencode(rest)}" if rest else base), own


def redact(url: str) -> str:
    """The URL without its password (in the authority or a ``password=`` parameter)."""
    parts = urlsplit(url)
    if "password=" in parts.query:
        query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
        parts = parts._replace(query=urlencode(query, safe="*"))
        url = urlunsplit(parts)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


def positive(value: object, what: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StateError(f"{what} must be a number of seconds > 0, not {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise StateError(f"{what} must be a number of seconds > 0, not {value!r}")
    return seconds
