"""FreeSWITCH inbound event socket client: which calls are up, which ended, and call control.

A restarted adapter server asks FreeSWITCH which channels are still up
(:meth:`InboundEsl.live_calls`) and hears them end (:meth:`InboundEsl.next_hangup`);
:meth:`~InboundEsl.uuid_kill`, :meth:`~InboundEsl.originate` and
:meth:`~InboundEsl.uuid_transfer` control calls.

The wire (as a real FreeSWITCH 1.10 speaks it, ``adapters/transcripts/
freeswitch-1.10-esl-inbound.log``), framed as in :mod:`routecore_freeswitch.codec`: on connection
FreeSWITCH sends ``Content-Type: auth/request``; ``auth <password>`` is answered
``command/reply`` with ``Reply-Text: +OK accepted``, or ``-ERR invalid`` followed by a
``text/disconnect-notice`` and the socket's end. ``event plain CHANNEL_HANGUP_COMPLETE`` answers
``+OK event listener enabled plain``; from then on each such event arrives as a
``text/event-plain`` frame. ``api <command>`` is answered by an ``api/response`` whose body is
the command's output (``-ERR …`` on failure). Replies come in the order of the commands; events
may come between them. ``exit`` answers ``+OK bye``, then the disconnect notice.

``show channels`` reads FreeSWITCH's core database, which its SQL thread updates a moment after
the channel itself: on the harness a new channel appeared there 30-70 ms after its originate's
``+OK``, and a killed one stayed listed about 200 ms after its CHANNEL_HANGUP_COMPLETE had been
sent. :meth:`InboundEsl.live_calls` leaves out the channels whose hang-up has already arrived;
a channel created in the last instant may be missing from it.

Errors: :class:`~routecore.adapter.errors.ProtocolError` for malformed, oversized or missing input
(a timeout), with :class:`LoginRefused` and :class:`ApiFailed` below it;
:class:`~routecore.adapter.errors.ChannelGone` once the connection is lost;
:class:`~routecore.adapter.errors.UnsafeValue` for a value that cannot go into a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self, TypeVar

from routecore.adapter.control import Hangups, fresh, keep_alive
from routecore.adapter.errors import AdapterError, ChannelGone, ProtocolError, UnsafeValue
from routecore.adapter.values import checked

from .codec import Frame, FrameReader, command

__all__ = [
    "EVENT_QUEUE_SIZE",
    "HANGUP_EVENT",
    "MAX_API_BODY",
    "ApiFailed",
    "InboundEsl",
    "LoginRefused",
    "connect_inbound",
]

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
"""A channel variable's name as ``originate`` sets it."""
log = logging.getLogger(__name__)

HANGUP_EVENT = "CHANNEL_HANGUP_COMPLETE"
"""The event subscribed to at login: one per channel, after it has hung up."""
MAX_API_BODY = 16 * 1024 * 1024
"""Largest body of a frame on this connection: ``show channels as json`` takes ~1 KB a channel,
more than the codec's default bound allows on a busy switch."""
EVENT_QUEUE_SIZE = 4096
"""Hang-ups kept for :meth:`InboundEsl.next_hangup`; beyond, the oldest are dropped (logged)."""
LIST_TIMEOUT = 10.0
"""Seconds :meth:`InboundEsl.live_calls` waits for the channel list."""
ORIGINATE_SLACK = 5.0
"""Seconds :meth:`InboundEsl.originate` waits for its answer beyond the ring timeout."""
READ_SIZE = 65536
"""Bytes asked of the socket per read."""
CLOSE_WAIT = 1.0
"""Seconds :meth:`InboundEsl.close` gives the ``exit`` and the socket's closing."""

_T = TypeVar("_T")
_REPLY_TYPES = ("command/reply", "api/response")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ERRORS = ("-ERR", "-USAGE")


class LoginRefused(ProtocolError):
    """FreeSWITCH refused the password (``Reply-Text: -ERR invalid``) or, by its ACL, the
    connection itself (``text/rude-rejection``)."""


class ApiFailed(ProtocolError):
    """An ``api`` command answered ``-ERR …`` (or ``-USAGE …``); ``reply`` is the whole body."""

    def __init__(self, message: str, reply: str = "") -> None:
        super().__init__(message)
        self.reply = reply


class InboundEsl:
    """One inbound event-socket session over an asyncio stream pair (use
    :func:`connect_inbound`, which also authenticates and subscribes; build it directly only
    inside a running loop, over a fresh connection: it expects the ``auth/request`` first).

    A reader task reads continuously. Replies (``command/reply``, ``api/response``) go to the
    oldest command waiting (FreeSWITCH answers in order; the answer to a command that timed out
    is dropped when it comes). Of the events only CHANNEL_HANGUP_COMPLETE is kept: its
    ``Unique-ID`` goes to a queue of at most ``max_events`` (the oldest dropped beyond, with a
    warning; :attr:`dropped` counts them) for :meth:`next_hangup`. A malformed frame, a
    ``text/disconnect-notice`` or the socket's end fails every waiting command at once and ends
    the session.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: str = "FreeSWITCH",
        max_events: int = EVENT_QUEUE_SIZE,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.peer = peer
        self.list_timeout = LIST_TIMEOUT
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader(max_body=MAX_API_BODY)
        self._greeting: asyncio.Future[Frame] = loop.create_future()
        self._pending: deque[asyncio.Future[Frame]] = deque()
        self._hangups = Hangups(peer, max_events)
        self._end: AdapterError | None = None
        self._closed = False
        self._task = loop.create_task(self._read_loop())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- commands -------------------------------------------------------------------------

    async def api(self, command: str, timeout: float = 5.0) -> str:
        """Run ``api <command>`` and return the body of its ``api/response`` as sent (UTF-8,
        undecodable bytes replaced; most end with a line feed). A body starting ``-ERR`` or
        ``-USAGE`` raises ApiFailed; no answer within ``timeout`` seconds raises ProtocolError;
        a control character in ``command`` raises UnsafeValue before anything is sent.

        FreeSWITCH runs an ``api`` command on the connection's own thread: while one runs (an
        ``originate`` rings for up to its timeout) the connection answers nothing else and its
        events wait."""
        if not isinstance(command, str) or not command.strip():
            raise UnsafeValue(f"not an api command: {command!r:.80}")
        name = command.split(" ", 1)[0]
        reply = await self._command(f"api {command}", timeout, f"api {name}")
        if reply.content_type != "api/response":
            raise ProtocolError(f"{self.peer}: api {name} answered {reply.content_type!r}")
        text = reply.body.decode("utf-8", errors="replace")
        if text.startswith(_ERRORS):
            raise ApiFailed(f"{self.peer}: api {name}: {text.strip()[:200]}", text)
        return text

    async def live_calls(self) -> set[str]:
        """The ``uuid`` of every channel up now (``show channels as json``; both legs of a call
        count), less the channels whose CHANNEL_HANGUP_COMPLETE has already arrived.
        ProtocolError for an answer that is not the expected JSON, or none within
        :attr:`list_timeout` seconds."""
        text = await self.api("show channels as json", self.list_timeout)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise ProtocolError(f"{self.peer}: show channels is not JSON: {text[:80]!r}") from None
        rows = data.get("rows", []) if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("row_count"), int):
            raise ProtocolError(f"{self.peer}: show channels has no row_count: {text[:80]!r}")
        if not isinstance(rows, list):
            raise ProtocolError(f"{self.peer}: show channels rows are not a list")
        uuids: set[str] = set()
        for row in rows:
            uuid = row.get("uuid") if isinstance(row, dict) else None
            if not isinstance(uuid, str) or not uuid:
                raise ProtocolError(f"{self.peer}: a show channels row without uuid")
            uuids.add(uuid)
        return {uuid for uuid in uuids if not self._hangups.heard(uuid)}

    async def next_hangup(self, timeout: float) -> str | None:
        """The ``Unique-ID`` of the next CHANNEL_HANGUP_COMPLETE, in the order FreeSWITCH sent
        them; None when ``timeout`` seconds pass first. Once the connection is lost and the
        hang-ups that arrived before are taken: ChannelGone (closed, disconnect notice) or
        ProtocolError (malformed input)."""
        return await self._hangups.next(timeout, lambda: self._end)

    async def uuid_kill(self, uuid: str, cause: str | None = None, timeout: float = 5.0) -> bool:
        """Hang channel ``uuid`` up with ``cause`` (a FreeSWITCH cause name such as
        ``USER_BUSY``; None: FreeSWITCH's default, NORMAL_CLEARING). True when FreeSWITCH hung
        it up, False when it had no such channel (already gone)."""
        words = ["uuid_kill", checked(uuid, "uuid")]
        if cause is not None:
            if not isinstance(cause, str) or not _CAUSE.fullmatch(cause):
                raise UnsafeValue(f"not a hangup cause name: {cause!r:.80}")
            words.append(cause)
        try:
            await self.api(" ".join(words), timeout)
        except ApiFailed as exc:
            if "No such channel" in exc.reply:
                return False
            raise
        return True

    async def originate(
        self,
        target: str,
        destination: str,
        *,
        context: str = "default",
        dialplan: str = "XML",
        caller_id: str | None = None,
        ring_timeout: int = 30,
        variables: Mapping[str, str] | None = None,
    ) -> str:
        """Call ``target`` (a dial string: ``sofia/external/13800138000@10.0.0.5``,
        ``loopback/13800138000/destinations``) for up to ``ring_timeout`` seconds; once it
        answers, FreeSWITCH runs it from extension ``destination`` of ``context`` in
        ``dialplan``. ``caller_id`` is the number it shows, ``variables`` channel variables set
        on it (``routecore_service`` for an agent's outbound call). Every value passes
        :func:`routecore.adapter.values.checked`; a value with a comma is refused (it would
        end the variable).

        Returns the new channel's uuid once it has answered. A call that fails raises ApiFailed
        with FreeSWITCH's cause (``-ERR USER_BUSY``, ``-ERR NO_ANSWER``, …); no answer within
        ``ring_timeout`` + :data:`ORIGINATE_SLACK` seconds raises ProtocolError."""
        if isinstance(ring_timeout, bool) or not isinstance(ring_timeout, int):
            raise UnsafeValue(f"ring_timeout must be an integer, not {ring_timeout!r}")
        if not 1 <= ring_timeout <= 3600:
            raise UnsafeValue(f"ring_timeout must be 1 to 3600 seconds, not {ring_timeout}")
        options = [f"originate_timeout={ring_timeout}"]
        if caller_id is not None:
            options.append(f"origination_caller_id_number={checked(caller_id, 'caller id')}")
        for name, value in (variables or {}).items():
            if not isinstance(name, str) or not _VARIABLE.fullmatch(name):
                raise UnsafeValue(f"not a channel variable name: {name!r:.80}")
            text = checked(value, f"variable {name}")
            if "," in text or "}" in text:
                raise UnsafeValue(f"variable {name}: a value with ',' or '}}' ends the list")
            options.append(f"{name}={text}")
        words = [
            "{" + ",".join(options) + "}" + checked(target, "originate target"),
            checked(destination, "originate destination"),
            checked(dialplan, "dialplan"),
            checked(context, "context"),
        ]
        text = await self.api("originate " + " ".join(words), ring_timeout + ORIGINATE_SLACK)
        status, _, uuid = text.strip().partition(" ")
        if status != "+OK" or not uuid:
            raise ProtocolError(f"{self.peer}: unexpected originate answer {text[:80]!r}")
        return uuid

    async def uuid_transfer(
        self,
        uuid: str,
        destination: str,
        *,
        context: str = "default",
        dialplan: str = "XML",
        timeout: float = 5.0,
    ) -> None:
        """Send channel ``uuid`` to extension ``destination`` of ``context`` in ``dialplan``
        (a transfer). ApiFailed when FreeSWITCH refuses (``-ERR No such channel!``, …)."""
        words = [
            checked(uuid, "uuid"),
            checked(destination, "transfer destination"),
            checked(dialplan, "dialplan"),
            checked(context, "context"),
        ]
        await self.api("uuid_transfer " + " ".join(words), timeout)

    async def close(self) -> None:
        """Send ``exit`` (waiting up to :data:`CLOSE_WAIT` s for FreeSWITCH's answer), stop
        reading, fail waiting commands with ChannelGone and close the socket. Never raises;
        calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._end is None:
                with contextlib.suppress(Exception):
                    await self._command("exit", CLOSE_WAIT, "exit", closing=True)
            self._task.cancel()
            await asyncio.wait([self._task])
            self._finish(ChannelGone(f"the event socket to {self.peer} was closed"))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), CLOSE_WAIT)
        except Exception:  # close() must never raise
            with contextlib.suppress(Exception):
                self._writer.transport.abort()

    @property
    def closed(self) -> bool:
        """True once the session has ended (the peer closed, bad input) or :meth:`close` ran."""
        return self._closed or self._end is not None

    @property
    def queued_hangups(self) -> int:
        """Hang-ups received and not yet taken by :meth:`next_hangup`."""
        return len(self._hangups)

    @property
    def dropped(self) -> int:
        """Hang-ups dropped because the queue was full."""
        return self._hangups.dropped

    # --- login ----------------------------------------------------------------------------

    async def _login(self, password: str) -> None:
        greeting = await self._greeting
        if greeting.content_type != "auth/request":
            raise ProtocolError(
                f"{self.peer} is not a FreeSWITCH event socket: "
                f"it sent {greeting.content_type or 'a frame without Content-Type'!r}"
            )
        if not isinstance(password, str) or not password:
            raise UnsafeValue("empty event socket password")
        reply = await self._command(f"auth {password}", None, "auth")
        if not reply.reply_text.startswith("+OK"):
            raise LoginRefused(f"{self.peer} refused the password: {reply.reply_text[:80]}")
        reply = await self._command(f"event plain {HANGUP_EVENT}", None, "event")
        if not reply.reply_text.startswith("+OK"):
            raise ProtocolError(f"{self.peer} refused the events: {reply.reply_text[:80]}")

    # --- internals ------------------------------------------------------------------------

    async def _command(
        self, text: str, timeout: float | None, what: str, *, closing: bool = False
    ) -> Frame:
        """Send one command; return its reply. ``what`` names it in errors (never the text:
        it may hold the password)."""
        data = command(text)
        if self._end is not None:
            raise fresh(self._end)
        if self._closed and not closing:
            raise ChannelGone(f"the event socket to {self.peer} was closed")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        try:
            async with asyncio.timeout(timeout):
                try:
                    self._writer.write(data)
                    await self._writer.drain()
                except OSError as exc:
                    raise ChannelGone(f"{self.peer}: the event socket failed: {exc}") from None
                return await future
        except TimeoutError:
            raise ProtocolError(f"{self.peer}: no answer to {what} within {timeout} s") from None
        finally:
            # Unanswered (timeout, cancellation): the cancelled future keeps its place in the
            # FIFO, so that the late reply is matched to it and dropped.
            future.cancel()

    async def _read_loop(self) -> None:
        end: AdapterError
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    self._framing(self._frames.eof)
                    raise ChannelGone(f"{self.peer} closed the event socket")
                self._frames.feed(data)
                while (frame := self._framing(self._frames.next_frame)) is not None:
                    self._dispatch(frame)
        except AdapterError as exc:
            end = exc
        except OSError as exc:
            end = ChannelGone(f"{self.peer}: the event socket failed: {exc}")
        except Exception as exc:  # a bug must not leave waiters hanging
            end = ProtocolError(f"{self.peer}: ESL reader failed: {exc!r}")
            end.__cause__ = exc
        self._finish(end)

    def _framing(self, step: Callable[[], _T]) -> _T:
        """``step()``, a ProtocolError of the framing naming the peer."""
        try:
            return step()
        except ProtocolError as exc:
            what = "" if self._greeting.done() else "no event socket greeting: "
            raise ProtocolError(f"{self.peer}: {what}{exc}") from None

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.content_type
        if not self._greeting.done():
            if kind == "text/rude-rejection":
                why = frame.body.decode("utf-8", errors="replace").strip()
                raise LoginRefused(f"{self.peer} refused the connection: {why[:200]}")
            self._greeting.set_result(frame)
        elif kind in _REPLY_TYPES:
            if not self._pending:
                raise ProtocolError(f"{self.peer}: {kind} with no command waiting")
            future = self._pending.popleft()
            if not future.done():
                future.set_result(frame)
        elif kind == "text/event-plain":
            event = self._framing(frame.event)
            if event is not None and event.name == HANGUP_EVENT:
                self._hung_up(event.uuid)
        elif kind == "text/disconnect-notice":
            why = frame.body.decode("utf-8", errors="replace").partition("\n")[0]
            raise ChannelGone(f"{self.peer} ended the session: {why[:200]}")
        elif kind in ("auth/request", "text/rude-rejection"):
            raise ProtocolError(f"{self.peer}: unexpected {kind} in the session")
        # log/data and unknown types: nothing waits for them.

    def _hung_up(self, uuid: str) -> None:
        self._hangups.add(uuid)

    def _finish(self, end: AdapterError) -> None:
        """The session has ended: remember why, fail every waiter, close the socket."""
        if self._end is None:
            self._end = end
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(fresh(self._end))
        if not self._greeting.done():
            self._greeting.set_exception(fresh(self._end))
            self._greeting.exception()  # retrieved: nobody may be waiting for it
        self._hangups.wake()
        with contextlib.suppress(Exception):
            self._writer.close()


async def connect_inbound(
    host: str, port: int, password: str, *, timeout: float = 5.0
) -> InboundEsl:
    """Connect to FreeSWITCH's event socket at ``host``:``port``, authenticate with
    ``password`` and subscribe to CHANNEL_HANGUP_COMPLETE (before any listing, so that no
    hang-up between a :meth:`~InboundEsl.live_calls` and the subscription is missed); all
    within ``timeout`` seconds.

    An unreachable host or port, a peer that is not an event socket, an ACL rejection, a
    malformed answer or the ``timeout`` raise ProtocolError; a refused password raises
    LoginRefused (a ProtocolError). Every message is one line naming the peer."""
    peer = f"FreeSWITCH event socket at {host}:{port}"
    client: InboundEsl | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                why = exc.strerror or exc
                raise ProtocolError(f"cannot connect to the {peer}: {why}") from None
            keep_alive(writer)
            client = InboundEsl(reader, writer, peer=peer)
            await client._login(password)
    except BaseException as exc:
        if client is not None:
            client._finish(ChannelGone(f"the login to the {peer} failed"))
            await client.close()
        if isinstance(exc, TimeoutError):
            raise ProtocolError(f"{peer}: no login within {timeout} s") from None
        if isinstance(exc, ChannelGone):
            raise ProtocolError(f"{peer}: the connection ended during the login: {exc}") from None
        raise
    assert client is not None
    return client
