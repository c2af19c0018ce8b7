"""Blocking transport of AGI: :class:`AgiStream` over two file descriptors.

For a process-per-call AGI these are stdin (Asterisk → script) and stdout (script → Asterisk);
it works over a socket's descriptor too. Reads use ``select`` for timeouts and ``os.read`` in
chunks fed to :class:`~routecore_asterisk.codec.AgiReader`, which enforces the bounds.

Asterisk tells a process-per-call AGI that the caller hung up with SIGHUP, not with a
``HANGUP`` line: :func:`install_sighup` makes SIGHUP mark the stream hung up, and interrupts a
wait in progress (the wait for the environment, or for the reply of a command not sent with
``after_hangup=True``) with ChannelGone. This module does not import asyncio.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import TYPE_CHECKING, Any, Protocol

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_asterisk.codec import AgiEnvironment, AgiSession, Reply

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = ["AgiStream", "install_sighup"]

CHUNK = 65536
"""Bytes asked of ``os.read`` per read."""
_SLICE = 0.25  # longest single select(), so a SIGHUP taken by another thread is seen soon
_DRAIN_CHUNKS = 16  # most chunks read without waiting before a command is sent


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


class _Interrupted(ChannelGone):
    """Raised by the SIGHUP handler inside an interruptible wait."""


class AgiStream:
    """One AGI conversation over a readable and a writable descriptor (or objects with
    ``fileno()``, e.g. ``sys.stdin`` and ``sys.stdout``: nothing else may write to the latter).
    Same rules and API as ``routecore_asterisk.aio.AgiStream``, blocking."""

    def __init__(self, rfile: int | _HasFileno, wfile: int | _HasFileno) -> None:
        self._rfd = rfile if isinstance(rfile, int) else rfile.fileno()
        self._wfd = wfile if isinstance(wfile, int) else wfile.fileno()
        self._session = AgiSession()
        self._sighup = False
        self._interruptible = False

    @property
    def hung_up(self) -> bool:
        """True once SIGHUP arrived, or Asterisk said ``HANGUP`` or answered 511."""
        return self._session.hung_up

    def read_environment(self, timeout: float) -> AgiEnvironment:
        """The environment block; ProtocolError if malformed or not complete within
        ``timeout`` seconds, ChannelGone if the peer closes (or SIGHUP comes) before it."""
        deadline = time.monotonic() + timeout
        try:
            self._drain()  # what Asterisk wrote before hanging up still makes a call (a record)
            while (env := self._session.environment) is None:
                self._fill(deadline, interruptible=True)
        except ProtocolError:
            # a malformed line after a whole environment: the call exists and ends as a
            # protocol error at its first command, with its record
            if (env := self._session.reader.environment) is None:
                raise
        return env

    def send(self, cmd: bytes, timeout: float | None, *, after_hangup: bool = False) -> Reply:
        """Write ``cmd`` (one command line) and return its 200 reply.

        Whatever can be read without waiting is read first, so a ``HANGUP`` already sent is
        seen. ChannelGone without sending once hung up (unless ``after_hangup``), on a 511
        reply, when the peer closes, and on SIGHUP during the wait (unless ``after_hangup``;
        a reply already in the pipe is still returned); ProtocolError on 510/520 replies,
        malformed input or no reply within ``timeout`` seconds (None: no limit), and for every
        later ``send`` after such a timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._drain()
        self._write(self._session.start(cmd, after_hangup=after_hangup))
        while (reply := self._session.poll()) is None:
            try:
                self._fill(deadline, interruptible=not after_hangup)
            except _Interrupted:
                self._drain()
                if (reply := self._session.poll()) is not None:
                    return reply
                self._session.abandon()
                raise ChannelGone("SIGHUP: the caller hung up") from None
        return reply

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        self._sighup = True
        self._session.hung_up = True
        if self._interruptible:
            self._interruptible = False
            raise _Interrupted("SIGHUP: the caller hung up")

    def _fill(self, deadline: float | None, *, interruptible: bool) -> None:
        """Wait (until ``deadline``) for data, read one chunk and feed it."""
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            wait = _SLICE if left is None else max(0.0, min(_SLICE, left))
            self._interruptible = interruptible
            try:
                if interruptible and self._sighup:
                    raise _Interrupted("SIGHUP: the caller hung up")
                ready = select.select([self._rfd], [], [], wait)[0]
            finally:
                self._interruptible = False
            if ready:
                self._read()
                return
            if left is not None and left <= _SLICE:
                raise ProtocolError("nothing from Asterisk within the timeout")

    def _drain(self) -> None:
        """Read what is there without waiting (at most :data:`_DRAIN_CHUNKS` chunks)."""
        for _ in range(_DRAIN_CHUNKS):
            if self._session.reader.finished or not select.select([self._rfd], [], [], 0)[0]:
                return
            self._read()

    def _read(self) -> None:
        try:
            data = os.read(self._rfd, CHUNK)
        except OSError as exc:
            self._session.connection_lost()
            raise ChannelGone(f"AGI input lost: {exc}") from None
        if data:
            self._session.reader.feed(data)
        else:
            self._session.reader.eof()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._wfd, view) :]
        except OSError as exc:
            self._session.connection_lost()
            raise ChannelGone(f"AGI output lost: {exc}") from None


def install_sighup(stream: AgiStream) -> Callable[[int, FrameType | None], Any] | int | None:
    """Make SIGHUP mark ``stream`` hung up (and interrupt its wait, see :class:`AgiStream`),
    taking over a SIGHUP the package caught earlier (``routecore_asterisk._early``); return the
    previous handler. Call from the main thread."""
    from routecore_asterisk import _early

    previous = signal.signal(signal.SIGHUP, stream._on_sighup)
    if _early.hung_up:  # it came before this handler: the call is over already
        stream._sighup = True
        stream._session.hung_up = True
    return previous
