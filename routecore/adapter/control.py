"""What the PBX control clients share (``routecore_asterisk.ami``,
``routecore_freeswitch.inbound``) and the servers' sockets: the hang-ups a connection heard,
TCP keep-alive, and an error raised afresh for each waiter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import OrderedDict, deque
from typing import Any

from routecore.adapter.errors import AdapterError

__all__ = ["RECENT_HANGUPS", "Hangups", "fresh", "keep_alive"]

log = logging.getLogger("routecore.adapter")

RECENT_HANGUPS = 10_000
"""Channel ids remembered as hung up, so a listing taken a moment late leaves them out."""


def fresh(error: AdapterError) -> AdapterError:
    """A new exception like ``error``, so that each waiter raises its own instance."""
    copy = type(error)(*error.args)
    copy.__cause__ = error.__cause__
    return copy


def keep_alive(writer: asyncio.StreamWriter) -> None:
    """TCP keep-alive on the socket (60 s idle, then 6 probes 10 s apart): a peer host that
    vanished ends the connection within ~2 minutes instead of never."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 6)


class Hangups:
    """The hang-ups a control connection heard, in order, for ``next_hangup``: at most
    ``most`` queued (the oldest dropped beyond, with a warning; :attr:`dropped` counts them),
    and the last :data:`RECENT_HANGUPS` ids remembered (:meth:`heard`)."""

    def __init__(self, peer: str, most: int) -> None:
        self.peer = peer
        self.most = max(1, most)
        self.dropped = 0
        self._queue: deque[str] = deque()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def heard(self, channel: str) -> bool:
        """Whether ``channel``'s hang-up has arrived (lately)."""
        return channel in self._recent

    def add(self, channel: str) -> None:
        if not channel:
            return
        self._recent[channel] = None
        if len(self._recent) > RECENT_HANGUPS:
            self._recent.popitem(last=False)
        if len(self._queue) >= self.most:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "%s: hang-up queue full (%d): dropped the oldest (%d so far)",
                    self.peer,
                    self.most,
                    self.dropped,
                )
        self._queue.append(channel)
        self._wakeup.set()

    def wake(self) -> None:
        """Wake a waiter (the connection has ended)."""
        self._wakeup.set()

    async def next(self, timeout: float, end: Any) -> str | None:
        """The next hang-up; None when ``timeout`` s pass first; once the queue is empty and
        ``end()`` names why the connection ended, that error (afresh)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._queue:
                return self._queue.popleft()
            ended = end()
            if ended is not None:
                raise fresh(ended)
            left = deadline - loop.time()
            if left <= 0:
                return None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._wakeup.wait()
