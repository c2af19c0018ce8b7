"""One outbound event-socket connection from FreeSWITCH (``socket 127.0.0.1:PORT async full``).

A reader task reads the socket continuously and parses it with :class:`FrameReader`. Replies
(``command/reply``, ``api/response``) resolve the oldest pending command (FreeSWITCH answers
commands in order). Events go to a bounded queue. When the queue is full the reader stops
reading until a consumer takes an event: this is backpressure, not loss. Memory stays bounded,
and FreeSWITCH buffers the events on its side (it drops events only for a socket left unread for
a long time). The catch: a command whose reply is queued behind a full event queue waits until
someone consumes events. :meth:`EslConnection.execute` consumes them as it goes.

Errors: a timeout or a malformed frame raises :class:`ProtocolError`; a closed socket raises
:class:`ChannelGone`. After a malformed frame or the socket's end, pending commands fail at once,
and event consumers fail once they have taken the events that arrived before. The connection
then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable

from routecore.adapter.control import fresh
from routecore.adapter.errors import AdapterError, ChannelGone, ProtocolError

from .codec import Event, Frame, FrameReader, command, sendmsg_execute, sendmsg_hangup

__all__ = ["EVENT_QUEUE_SIZE", "READ_SIZE", "EslConnection"]

EVENT_QUEUE_SIZE = 1024
"""Events held before the reader stops reading (backpressure)."""
READ_SIZE = 65536
"""Bytes asked of the socket per read."""

NOTICE_GRACE = 2.0
"""Seconds an application still waiting for its completion is given after the disconnect
notice (FreeSWITCH sends it after the channel's last events): then it never ran."""
_REPLY_TYPES = ("command/reply", "api/response")
_HANGUP_EVENTS = ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE")

# A queued item: (replies received when the event arrived, event), or the end of the stream.
_Item = tuple[int, Event] | AdapterError


@contextlib.asynccontextmanager
async def _deadline(when: float | None, what: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout_at(when):
            yield
    except TimeoutError as exc:
        raise ProtocolError(f"{what}: FreeSWITCH did not answer in time") from exc


class EslConnection:
    """An outbound ESL session over an asyncio stream pair: build it inside the server's
    connection handler (a running loop is needed), then :meth:`connect`.

    Attributes: ``channel_data`` and ``channel_uuid`` (set by :meth:`connect`); ``hung_up``
    (a CHANNEL_HANGUP or CHANNEL_HANGUP_COMPLETE of this channel, or the disconnect notice, was
    seen); ``disconnected`` (``text/disconnect-notice`` seen) and ``linger`` (that notice said
    ``Content-Disposition: linger``, so the remaining events still come). One consumer of events
    at a time: do not run :meth:`execute`, :meth:`next_event`, :meth:`wait_disconnect` or
    :meth:`wait_closed_or_timeout` concurrently on one connection (commands such as ``api …``
    may be sent while one of them waits).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        max_events: int = EVENT_QUEUE_SIZE,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader()
        self._pending: deque[tuple[asyncio.Future[tuple[int, Frame]], bool]] = deque()
        self._replies = 0
        self._events: asyncio.Queue[_Item] = asyncio.Queue(max_events)
        self._end: AdapterError | None = None  # why the stream ended, once it did
        self._end_queued = False
        self._end_taken = False
        self._closed = False
        self.channel_data: dict[str, str] = {}
        self.channel_uuid = ""
        self.hung_up = False
        self.disconnected = False
        self.linger = False
        self._notice = asyncio.Event()  # set by the disconnect notice or the stream's end
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    # --- public API ---------------------------------------------------------------------------

    async def connect(self, timeout: float | None) -> dict[str, str]:
        """Send ``connect``; return the channel data (URL-decoded headers of the reply)."""
        _, reply = await self._request(command("connect"), self._when(timeout), connect=True)
        data = reply.channel_data()
        if reply.content_type != "command/reply" or not data.get("Reply-Text", "").startswith(
            "+OK"
        ):
            raise ProtocolError(f"connect refused: {data.get('Reply-Text', '')[:200]!r}")
        if not self.channel_uuid:
            raise ProtocolError("connect reply carries no Unique-ID")
        return data

    async def command(self, text: str, timeout: float | None) -> Frame:
        """Send a one-line command (``myevents``, ``linger``, ``api …``); return its reply.
        An error reply (Reply-Text starting with ``-``, or an api/response body starting with
        ``-ERR``) raises ProtocolError with FreeSWITCH's text."""
        _, reply = await self._request(command(text), self._when(timeout))
        _raise_for(reply, text)
        return reply

    async def execute(
        self,
        app: str,
        arg: str = "",
        *,
        timeout: float | None,
        reply_timeout: float | None = None,
        on_event: Callable[[Event], object] | None = None,
        event_lock: bool = True,
    ) -> Event:
        """Run dialplan application ``app`` with ``arg`` and wait until it completes.

        The sendmsg carries a fresh ``Event-UUID`` and ``event-lock: true`` (unless
        ``event_lock`` is False: applications FreeSWITCH queues on the channel meanwhile, such
        as a bridge's announcement, then run during this one). Returns the
        CHANNEL_EXECUTE_COMPLETE whose ``Application-UUID`` is that uuid. Every other event of
        this channel that arrives after the command's reply is passed to ``on_event`` first (e.g.
        CHANNEL_ANSWER or CHANNEL_BRIDGE: the answer moment). Events queued before the reply
        are discarded. A hangup of the channel sets :attr:`hung_up` but the wait goes on, because
        FreeSWITCH still sends the completion. ``timeout`` bounds the whole run (None: no bound,
        for a bridge or a conference), ``reply_timeout`` the wait for the sendmsg's ``+OK``:
        ProtocolError when one elapses. ChannelGone if the channel was already hung up or the
        socket closes first.
        """
        if self.hung_up:
            raise ChannelGone(f"cannot execute {app}: the channel has hung up")
        app_uuid = str(uuid.uuid4())
        data = sendmsg_execute(app, arg, event_uuid=app_uuid, event_lock=event_lock)
        when = self._when(timeout)
        replied = self._when(reply_timeout)
        if replied is None or (when is not None and when < replied):
            replied = when
        index, reply = await self._request(data, replied)
        _raise_for(reply, f"execute {app}")
        while True:
            limit = when
            if self.disconnected:  # the channel is gone: its last events are in, or nearly
                grace = asyncio.get_running_loop().time() + NOTICE_GRACE
                limit = grace if limit is None else min(limit, grace)
            try:
                stamp, event = await self._next(limit, f"execute {app}", notice=True)
            except ProtocolError:
                if self.disconnected:  # FreeSWITCH took the sendmsg but never ran it
                    raise ChannelGone(f"{app} did not run: the channel is gone") from None
                raise
            if stamp < index:
                continue
            if event.name == "CHANNEL_EXECUTE_COMPLETE" and event.application_uuid == app_uuid:
                return event
            if on_event is not None and event.uuid == self.channel_uuid:
                on_event(event)

    async def hangup(self, cause: str = "NORMAL_CLEARING", timeout: float | None = 5.0) -> None:
        """Hang the channel up with ``cause``. Does nothing when it has already hung up or the
        socket is gone. A ``-ERR`` reply or a timeout raises ProtocolError."""
        if self.hung_up or self._end is not None or self._closed:
            return
        with contextlib.suppress(ChannelGone):
            _, reply = await self._request(sendmsg_hangup(cause), self._when(timeout))
            _raise_for(reply, "hangup")

    async def next_event(self, timeout: float | None) -> Event:
        """The next event, in order. ChannelGone once the socket has closed and the earlier
        events are taken; ProtocolError on a timeout or after a malformed frame."""
        _, event = await self._next(self._when(timeout), "next event")
        return event

    async def wait_closed_or_timeout(
        self, timeout: float, *, on_event: Callable[[Event], object] | None = None
    ) -> bool:
        """Take (and hand to ``on_event``) the remaining events until FreeSWITCH closes the
        socket: True, or ``timeout`` elapses first: False. Never raises the connection's errors.
        """
        when = self._when(timeout)
        while True:
            try:
                _, event = await self._next(when, "wait for close")
            except ChannelGone:
                return True
            except ProtocolError:
                return self._end is not None
            if on_event is not None:
                on_event(event)

    async def wait_disconnect(
        self, timeout: float, *, on_event: Callable[[Event], object] | None = None
    ) -> bool:
        """Take (and hand to ``on_event``) the remaining events until FreeSWITCH's
        ``text/disconnect-notice`` has arrived or the stream has ended: True; False when
        ``timeout`` elapses first. After ``linger`` FreeSWITCH keeps the socket open once the
        notice is sent (``Linger-Time: -1``): the server closes it. Never raises the
        connection's errors."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                item = self._events.get_nowait()
            except asyncio.QueueEmpty:
                if self.disconnected or self._end is not None:
                    return True
                left = deadline - loop.time()
                if left <= 0:
                    return False
                getter = loop.create_task(self._events.get())
                notice = loop.create_task(self._notice.wait())
                await asyncio.wait(
                    {getter, notice}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                notice.cancel()
                if not getter.done():
                    getter.cancel()
                await asyncio.wait({getter, notice})
                if getter.cancelled():
                    continue
                item = getter.result()
            if isinstance(item, AdapterError):
                self._end_taken = True
                return True
            if on_event is not None and item[1] is not _NOTICE:
                on_event(item[1])

    async def close(self) -> None:
        """Stop reading, fail pending commands with ChannelGone, close the socket. Never raises;
        calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._stop(ChannelGone("the connection was closed"))
            if not self._end_queued and self._end is not None:
                while self._events.full():  # room for the end: closing drops unread events
                    self._events.get_nowait()
                self._events.put_nowait(self._end)
                self._end_queued = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except Exception:  # close() must never raise
            pass

    @property
    def queued_events(self) -> int:
        """Events received and not yet taken (at most ``max_events``)."""
        marker = self._end_queued and not self._end_taken  # the end-of-stream item
        return self._events.qsize() - (1 if marker else 0)

    @property
    def closed(self) -> bool:
        """True once the stream has ended (peer closed, malformed frame) or close() ran."""
        return self._closed or self._end is not None

    # --- internals ----------------------------------------------------------------------------

    @staticmethod
    def _when(timeout: float | None) -> float | None:
        return None if timeout is None else asyncio.get_running_loop().time() + timeout

    async def _request(
        self, data: bytes, when: float | None, *, connect: bool = False
    ) -> tuple[int, Frame]:
        """Send ``data``; return (index of its reply, reply)."""
        if self._end is not None:
            raise fresh(self._end)
        if self._closed:
            raise ChannelGone("the connection was closed")
        future: asyncio.Future[tuple[int, Frame]] = asyncio.get_running_loop().create_future()
        self._pending.append((future, connect))
        what = data.split(b"\n", 1)[0].decode()
        try:
            async with _deadline(when, what):
                try:
                    self._writer.write(data)
                    await self._writer.drain()
                except OSError as exc:
                    raise ChannelGone(f"{what}: the socket is gone ({exc})") from exc
                return await future
        finally:
            # Unanswered (timeout, write error): the cancelled future keeps its place in the
            # FIFO, so a late reply is matched to it and dropped.
            future.cancel()

    async def _next(
        self, when: float | None, what: str, *, notice: bool = False
    ) -> tuple[int, Event]:
        """The next event (``notice``: the disconnect notice's marker too, see ``_NOTICE``)."""
        while True:
            if self._end_taken and self._end is not None:
                raise fresh(self._end)
            async with _deadline(when, what):
                item = await self._events.get()
            if isinstance(item, AdapterError):
                self._end_taken = True
                raise fresh(item)
            if notice or item[1] is not _NOTICE:
                return item

    async def _read_loop(self) -> None:
        end: AdapterError
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    self._frames.eof()
                    raise ChannelGone("FreeSWITCH closed the socket")
                self._frames.feed(data)
                while (frame := self._frames.next_frame()) is not None:
                    await self._dispatch(frame)
        except AdapterError as exc:
            end = exc
        except OSError as exc:
            end = ChannelGone(f"the socket failed: {exc}")
        except Exception as exc:  # a bug must not leave waiters hanging
            end = ProtocolError(f"ESL reader failed: {exc!r}")
            end.__cause__ = exc
        self._stop(end)
        await self._events.put(end)
        self._end_queued = True

    async def _dispatch(self, frame: Frame) -> None:
        kind = frame.content_type
        if kind in _REPLY_TYPES:
            if not self._pending:
                raise ProtocolError(f"unexpected {kind} with no command pending")
            self._replies += 1
            future, connect = self._pending.popleft()
            if connect:
                self.channel_data = frame.channel_data()
                self.channel_uuid = self.channel_data.get("Unique-ID", "")
            if not future.done():
                future.set_result((self._replies, frame))
        elif kind == "text/event-plain":
            event = frame.event()
            assert event is not None
            if event.name in _HANGUP_EVENTS and event.uuid and event.uuid == self.channel_uuid:
                self.hung_up = True
            await self._events.put((self._replies, event))
        elif kind == "text/disconnect-notice":
            self.disconnected = True
            self.hung_up = True
            self.linger = frame.headers.get("Content-Disposition") == "linger"
            self._notice.set()
            await self._events.put((self._replies, _NOTICE))  # wakes an execute that waits
        # log/data, text/rude-rejection and unknown types: nothing waits for them.

    def _stop(self, end: AdapterError) -> None:
        """The stream has ended: remember why, fail pending commands, close the socket."""
        if self._end is None:
            self._end = end
        self._notice.set()
        while self._pending:
            future, _ = self._pending.popleft()
            if not future.done():
                future.set_exception(fresh(self._end))
        with contextlib.suppress(Exception):
            self._writer.close()


_NOTICE = Event("\nEvent-Name: DISCONNECT_NOTICE\n")
"""Not a FreeSWITCH event: the disconnect notice's place among the events, for waiters."""


def _raise_for(reply: Frame, what: str) -> None:
    """ProtocolError when FreeSWITCH answered ``what`` with an error."""
    if reply.content_type == "api/response":
        if reply.body.startswith(b"-ERR"):
            text = reply.body.decode("utf-8", errors="replace").strip()
            raise ProtocolError(f"{what}: {text[:200]}")
    elif reply.reply_text.startswith("-"):
        raise ProtocolError(f"{what}: {reply.reply_text[:200]}")
