"""asyncio transport of AGI (FastAGI): :class:`AgiStream` over a StreamReader/StreamWriter pair.

Bytes are read in chunks and fed to :class:`~routecore_asterisk.codec.AgiReader`, which enforces
the protocol's bounds (not the StreamReader's limit). What arrives is read only while waiting
for the environment or a reply, so :attr:`AgiStream.hung_up` reflects the inline ``HANGUP``
lines read so far. After Asterisk's ``HANGUP`` it never closes the socket: call
:meth:`AgiStream.close`.
"""

from __future__ import annotations

import asyncio
import contextlib

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_asterisk.codec import AgiEnvironment, AgiSession, Reply

__all__ = ["AgiStream"]

CHUNK = 65536
"""Bytes asked of the StreamReader per read."""
CLOSE_WAIT = 1.0
"""Seconds :meth:`AgiStream.close` waits for the socket to close before aborting it."""


class AgiStream:
    """One AGI conversation over an asyncio stream pair (see :class:`AgiSession` for the
    rules: one command at a time, inline ``HANGUP`` is not a reply, 511 is ChannelGone)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._session = AgiSession()

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said ``HANGUP`` (or answered 511) in what was read so far."""
        return self._session.hung_up

    async def read_environment(self, timeout: float) -> AgiEnvironment:
        """The environment block; ProtocolError if it is malformed or not complete within
        ``timeout`` seconds, ChannelGone if the peer closes before it."""
        try:
            async with asyncio.timeout(timeout):
                while (env := self._session.environment) is None:
                    await self._fill()
        except TimeoutError:
            raise ProtocolError(f"no AGI environment within {timeout} s") from None
        except ProtocolError:
            # a malformed line after a whole environment (in the same read): the call exists
            # and ends as a protocol error at its first command, with its record
            if (env := self._session.reader.environment) is None:
                raise
        return env

    async def send(self, cmd: bytes, timeout: float | None, *, after_hangup: bool = False) -> Reply:
        """Write ``cmd`` (one command line), drain, and return its 200 reply.

        ChannelGone without sending once hung up (unless ``after_hangup``, for commands
        Asterisk answers on a dead channel), on a 511 reply and when the peer closes;
        ProtocolError on 510/520 replies, malformed input or no reply within ``timeout``
        seconds (None: no limit). After a timeout or a cancellation the conversation is out of
        step and every later ``send`` raises ProtocolError: close the stream.
        """
        out = self._session.start(cmd, after_hangup=after_hangup)
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(out)
                await self._writer.drain()
                while (reply := self._session.poll()) is None:
                    await self._fill()
        except TimeoutError:
            raise ProtocolError(f"no reply to {cmd!r} within {timeout} s") from None
        except OSError as exc:
            self._session.connection_lost()
            raise ChannelGone(f"AGI connection lost: {exc}") from None
        return reply

    async def close(self) -> None:
        """Close the connection (aborting it after :data:`CLOSE_WAIT` s); never raises."""
        with contextlib.suppress(Exception):
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), CLOSE_WAIT)
            except TimeoutError:
                self._writer.transport.abort()

    async def _fill(self) -> None:
        try:
            data = await self._reader.read(CHUNK)
        except OSError as exc:
            self._session.connection_lost()
            raise ChannelGone(f"AGI connection lost: {exc}") from None
        if data:
            self._session.reader.feed(data)
        else:
            self._session.reader.eof()
