"""Asterisk Manager Interface (AMI) client: which calls are up, which ended, and call control.

A restarted adapter server asks Asterisk which channels are still up (:meth:`AmiClient.live_calls`)
and hears them end (:meth:`AmiClient.next_hangup`); :meth:`~AmiClient.hangup`,
:meth:`~AmiClient.originate` and :meth:`~AmiClient.redirect` control calls.

The wire (as a real Asterisk 22 speaks it, ``adapters/transcripts/asterisk-22-ami.log``): on
connection Asterisk sends one banner line, ``Asterisk Call Manager/11.0.0`` (the AMI version, not
Asterisk's). Then both sides exchange messages: ``Key: Value`` lines ended by ``\\r\\n``, a message
ended by an empty line; values may hold ``:``. The client sends actions (``Action: Login`` …) with
an ``ActionID``; Asterisk answers each with a message starting ``Response:`` (``Success``,
``Error``, ``Goodbye``) that echoes the ActionID, and sends events (``Event: Hangup`` …) whenever
they happen. A list action (``CoreShowChannels``, ``BridgeList``) answers ``Response: Success``
with ``EventList: start``, then one event per item and a closing ``…Complete`` event, all
carrying its ActionID. A refused login is answered after about a second, then the socket closes.

:class:`AmiReader` is the sans-IO parser (bytes in, messages out, every bound enforced);
:class:`AmiClient` runs it over an asyncio stream with one reader task that hands responses to the
action waiting for their ActionID and keeps ``Hangup`` events in a bounded queue.
:func:`connect_ami` connects and logs in.

Errors: :class:`~routecore.adapter.errors.ProtocolError` for malformed, oversized or missing input
(a timeout), with :class:`LoginRefused` and :class:`ActionFailed` below it;
:class:`~routecore.adapter.errors.ChannelGone` once the connection is lost;
:class:`~routecore.adapter.errors.UnsafeValue` for a value that cannot go into an action.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import NoReturn, Self

from routecore.adapter.control import Hangups, fresh, keep_alive
from routecore.adapter.errors import AdapterError, ChannelGone, ProtocolError, UnsafeValue
from routecore.adapter.values import checked

__all__ = [
    "BANNER_PREFIX",
    "EVENT_QUEUE_SIZE",
    "HANGUP_FILTER",
    "MAX_BANNER",
    "MAX_FIELD_LINE",
    "MAX_LINES",
    "MAX_MESSAGE",
    "ActionFailed",
    "AmiClient",
    "AmiReader",
    "LoginRefused",
    "Message",
    "connect_ami",
]

log = logging.getLogger(__name__)

Message = dict[str, str]
"""One AMI message: its fields in the order received (the first of a repeated key wins)."""

BANNER_PREFIX = "Asterisk Call Manager/"
"""How the first line of a manager connection starts."""
MAX_BANNER = 1024
"""Longest banner line, in bytes with its line end."""
MAX_MESSAGE = 64 * 1024
"""Largest message Asterisk may send, in bytes with its line ends."""
MAX_LINES = 512
"""Most ``Key: Value`` lines in one message Asterisk sends."""
MAX_FIELD_LINE = 1024
"""Longest ``Key: Value\\r\\n`` line of an action, in bytes: Asterisk reads action lines into a
1024-byte buffer and drops a longer one."""
MAX_FIELDS = 64
"""Most fields of one action besides ``Action`` and ``ActionID`` (Asterisk keeps 128 lines)."""
MAX_LIST_ITEMS = 100_000
"""Most events one list action may collect."""
EVENT_QUEUE_SIZE = 4096
"""Hang-ups kept for :meth:`AmiClient.next_hangup`; beyond, the oldest are dropped (logged)."""
LIST_TIMEOUT = 10.0
"""Seconds :meth:`AmiClient.live_calls` waits for the whole channel list."""
ORIGINATE_SLACK = 5.0
"""Seconds :meth:`AmiClient.originate` waits for the outcome beyond the ring timeout."""
HANGUP_FILTER = "Event: (Hangup|OriginateResponse)[[:space:]]"
"""The manager filter set after login: only these events reach the session (a regular
expression Asterisk matches against each event's text; list events are not filtered)."""
READ_SIZE = 65536
"""Bytes asked of the socket per read."""
CLOSE_WAIT = 1.0
"""Seconds :meth:`AmiClient.close` gives the Logoff and the socket's closing."""

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}/\S{1,255}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_RESERVED = frozenset({"action", "actionid"})


class LoginRefused(ProtocolError):
    """Asterisk refused the username or secret (``Message: Authentication failed``)."""


class ActionFailed(ProtocolError):
    """Asterisk answered an action with ``Response: Error`` (or another non-success);
    ``response`` is its whole answer, ``Message`` says why."""

    def __init__(self, message: str, response: Message | None = None) -> None:
        super().__init__(message)
        self.response: Message = dict(response or {})


# ---------------------------------------------------------------- the parser


class AmiReader:
    """Incremental parser of what Asterisk sends: :meth:`feed` bytes split anywhere, read
    :attr:`banner` once its line is complete, then pull :meth:`next_message`.

    Lines end with ``\\r\\n`` (a bare ``\\n`` is taken too); bytes that are not UTF-8 are
    replaced. A line without ``:`` or with an empty or blank-holding key, a banner over
    :data:`MAX_BANNER` bytes, a message over :data:`MAX_MESSAGE` bytes or :data:`MAX_LINES`
    lines raise ProtocolError; so does an :meth:`eof` inside a message. After any ProtocolError
    the reader stays failed: every later call raises again. Empty lines between messages are
    skipped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes at the start of _buf known to hold no newline
        self._banner: str | None = None
        self._fields: Message = {}
        self._lines = 0
        self._size = 0
        self._messages: deque[Message] = deque()
        self._eof = False
        self._error: str | None = None

    @property
    def banner(self) -> str | None:
        """The first line (without its line end), once complete; None before."""
        return self._banner

    @property
    def finished(self) -> bool:
        """True once :meth:`eof` was called and every message has been pulled."""
        return self._eof and not self._messages

    def next_message(self) -> Message | None:
        """The next complete message, or None for now."""
        return self._messages.popleft() if self._messages else None

    def feed(self, data: bytes) -> None:
        """Parse ``data``. Messages completed before a ProtocolError stay available."""
        self._check()
        if self._eof:
            self._fail("data after the end of the stream")
        buf = self._buf
        buf += data
        start = 0
        try:
            while (newline := buf.find(b"\n", max(start, self._scanned))) >= 0:
                line = bytes(buf[start:newline])
                size = newline + 1 - start
                start = newline + 1
                self._line(line[:-1] if line.endswith(b"\r") else line, size)
            left = MAX_BANNER if self._banner is None else MAX_MESSAGE - self._size
            if len(buf) - start > left:
                self._fail(self._too_big())
        finally:
            del buf[:start]
            self._scanned = len(buf)

    def eof(self) -> None:
        """The peer closed its side: ProtocolError when it did so inside a line or message."""
        self._check()
        if self._eof:
            return
        self._eof = True
        if self._buf or self._lines:
            self._fail("connection closed in the middle of a message")

    def _check(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"AMI stream already failed: {self._error}")

    def _fail(self, message: str) -> NoReturn:
        self._error = message
        raise ProtocolError(message)

    def _too_big(self) -> str:
        if self._banner is None:
            return f"AMI banner longer than {MAX_BANNER} bytes"
        return f"AMI message larger than {MAX_MESSAGE} bytes"

    def _line(self, line: bytes, size: int) -> None:
        if self._banner is None:
            if size > MAX_BANNER:
                self._fail(self._too_big())
            self._banner = line.decode("utf-8", "replace")
            return
        if not line:
            if self._lines:
                self._messages.append(self._fields)
                self._fields, self._lines, self._size = {}, 0, 0
            return
        self._lines += 1
        self._size += size
        if self._size > MAX_MESSAGE:
            self._fail(self._too_big())
        if self._lines > MAX_LINES:
            self._fail(f"AMI message of more than {MAX_LINES} lines")
        text = line.decode("utf-8", "replace")
        key, colon, value = text.partition(":")
        if not colon or not key or not key.isprintable() or any(c.isspace() for c in key):
            self._fail(f"malformed AMI line {text[:80]!r}")
        self._fields.setdefault(key, value.lstrip(" \t"))


# ---------------------------------------------------------------- building actions


def _field(key: str, value: object) -> bytes:
    if not _KEY.fullmatch(key):
        raise UnsafeValue(f"not an AMI field name: {key!r}")
    if not isinstance(value, str):
        raise UnsafeValue(f"AMI field {key}: {value!r} is not a string")
    if not value.isprintable() or value[:1].isspace():
        raise UnsafeValue(f"AMI field {key}: control character or leading blank in {value[:80]!r}")
    line = f"{key}: {value}\r\n".encode()
    if len(line) > MAX_FIELD_LINE:
        raise UnsafeValue(f"AMI field {key}: line longer than {MAX_FIELD_LINE} bytes")
    return line


def _action_bytes(name: str, action_id: str, fields: Mapping[str, object]) -> bytes:
    """The bytes of one action; UnsafeValue for a bad name, key or value."""
    if not _ACTION.fullmatch(name):
        raise UnsafeValue(f"not an AMI action name: {name!r}")
    if len(fields) > MAX_FIELDS:
        raise UnsafeValue(f"AMI action {name} with more than {MAX_FIELDS} fields")
    seen: set[str] = set()
    lines = [_field("Action", name), _field("ActionID", action_id)]
    for key, value in fields.items():
        folded = key.lower()
        if folded in _RESERVED or folded in seen:  # Asterisk reads keys without case
            raise UnsafeValue(f"AMI field {key!r} is reserved or repeated")
        seen.add(folded)
        lines.append(_field(key, value))
    return b"".join(lines) + b"\r\n"


def _channel(value: str) -> str:
    """A channel name (``PJSIP/caller-00000000``, ``Local/1380…@destinations-00000002;1``): a
    technology, ``/``, then no blanks. Never a ``/regex/``, which would name many channels."""
    if not isinstance(value, str) or not _CHANNEL.fullmatch(value) or not value.isprintable():
        raise UnsafeValue(f"not a channel name: {value!r:.80}")
    return value


def _integer(value: int, low: int, high: int, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UnsafeValue(f"{what} must be an integer from {low} to {high}, not {value!r}")
    return str(value)


# ---------------------------------------------------------------- the client


@dataclass(eq=False)
class _Waiter:
    """One action waiting for its answer: the response, then (list actions) events up to the
    one named ``complete``."""

    future: asyncio.Future[tuple[Message, list[Message], Message]]
    complete: str | None
    response: Message | None = None
    items: list[Message] = field(default_factory=list)


class AmiClient:
    """One manager session over an asyncio stream pair (use :func:`connect_ami`, which also
    logs in; build it directly only inside a running loop, over a fresh connection).

    A reader task reads continuously. A response goes to the action waiting for its ActionID
    (ActionIDs are ``rc-1``, ``rc-2``, … per connection; an answer nothing waits for any more
    is dropped). Events carrying the ActionID of a list action in progress are that list's items.
    Of the other events only ``Hangup`` is kept: its ``Uniqueid`` goes to a queue of at most
    ``max_events`` (the oldest dropped beyond, with a warning; :attr:`dropped` counts them) for
    :meth:`next_hangup`; everything else is discarded. Malformed input or the connection's end
    fails every waiting action at once and ends the session.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: str = "Asterisk",
        max_events: int = EVENT_QUEUE_SIZE,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.peer = peer
        self.list_timeout = LIST_TIMEOUT
        self._reader = reader
        self._writer = writer
        self._parser = AmiReader()
        self._ids = itertools.count(1)
        self._waiters: dict[str, _Waiter] = {}
        self._banner: asyncio.Future[str] = loop.create_future()
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

    # --- actions --------------------------------------------------------------------------

    async def action(self, name: str, timeout: float = 5.0, **fields: str) -> Message:
        """Send action ``name`` with ``fields`` and return Asterisk's response.

        ``Response: Success`` is returned; any other response (``Error``, …) raises
        ActionFailed with Asterisk's ``Message``. No answer within ``timeout`` seconds raises
        ProtocolError; a field that is not one printable line of at most
        :data:`MAX_FIELD_LINE` bytes (or is named ``Action``/``ActionID``) raises UnsafeValue
        before anything is sent."""
        response, _, _ = await self._exchange(name, fields, None, timeout)
        return _succeeded(name, response)

    async def list_action(
        self, name: str, complete_event: str, timeout: float = 5.0, **fields: str
    ) -> list[Message]:
        """Send list action ``name`` (``CoreShowChannels``, ``BridgeList``) and return the
        events carrying its ActionID up to ``complete_event`` (``CoreShowChannelsComplete``;
        also ended by any ``EventList: Complete``), in order, that one left out. Errors as in
        :meth:`action`; ``timeout`` bounds the whole list."""
        if not _ACTION.fullmatch(complete_event):
            raise UnsafeValue(f"not an AMI event name: {complete_event!r}")
        response, items, _ = await self._exchange(name, fields, complete_event, timeout)
        _succeeded(name, response)
        return items

    async def live_calls(self) -> set[str]:
        """The ``Uniqueid`` of every channel up now (``CoreShowChannels``; both halves of a
        Local channel count), less the channels whose Hangup event has already arrived.
        ProtocolError if the list is not complete within :attr:`list_timeout` seconds."""
        items = await self.list_action(
            "CoreShowChannels", "CoreShowChannelsComplete", self.list_timeout
        )
        ids = (item.get("Uniqueid") for item in items)
        return {uid for uid in ids if uid and not self._hangups.heard(uid)}

    async def next_hangup(self, timeout: float) -> str | None:
        """The ``Uniqueid`` of the next channel that hung up (``Event: Hangup``), in the order
        Asterisk sent them; None when ``timeout`` seconds pass first. Once the connection is
        lost and the hang-ups that arrived before are taken: ChannelGone (closed, reset) or
        ProtocolError (malformed input)."""
        return await self._hangups.next(timeout, lambda: self._end)

    async def hangup(self, channel: str, cause: int = 16, timeout: float = 5.0) -> bool:
        """Hang ``channel`` (its full name) up with Q.850 ``cause`` (16: normal clearing).
        True when Asterisk took the request (the channel ends a moment later: its Hangup event
        follows), False when it had no such channel (already gone)."""
        fields = {"Channel": _channel(channel), "Cause": _integer(cause, 0, 127, "cause")}
        try:
            await self.action("Hangup", timeout, **fields)
        except ActionFailed as exc:
            if exc.response.get("Message") == "No such channel":
                return False
            raise
        return True

    async def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        *,
        priority: int = 1,
        caller_id: str | None = None,
        ring_timeout: int = 30,
        variables: Mapping[str, str] | None = None,
    ) -> Message:
        """Call ``channel`` (a dial string: ``PJSIP/13800138000@trunk``,
        ``Local/13800138000@destinations``) for up to ``ring_timeout`` seconds; once it
        answers, Asterisk runs it from ``context``, ``exten``, ``priority``. ``caller_id`` is
        the number it shows, ``variables`` channel variables set on it. Every value passes
        :func:`routecore.adapter.values.checked`.

        Sent with ``Async: true``; returns Asterisk's ``OriginateResponse`` event: ``Response:
        Success`` with the new channel's ``Uniqueid`` (``Reason: 4``, answered), or ``Response:
        Failure`` with ``Reason`` (5 busy, for one) and ``Uniqueid: <unknown>``. ActionFailed
        when Asterisk refuses the action itself; ProtocolError when no outcome arrives within
        ``ring_timeout`` + :data:`ORIGINATE_SLACK` seconds."""
        fields = {
            "Channel": checked(channel, "originate channel"),
            "Context": checked(context, "originate context"),
            "Exten": checked(exten, "originate exten"),
            "Priority": _integer(priority, 1, 99999, "priority"),
        }
        if caller_id is not None:
            fields["CallerID"] = checked(caller_id, "originate caller id")
        fields["Timeout"] = str(int(_integer(ring_timeout, 1, 3600, "ring_timeout")) * 1000)
        if variables:
            pairs = []
            for name, value in variables.items():
                if not isinstance(name, str) or not _VARIABLE.fullmatch(name):
                    raise UnsafeValue(f"not a channel variable name: {name!r:.80}")
                pairs.append(f"{name}={checked(value, f'variable {name}')}")
            fields["Variable"] = ",".join(pairs)
        fields["Async"] = "true"
        wait = ring_timeout + ORIGINATE_SLACK
        response, _, outcome = await self._exchange("Originate", fields, "OriginateResponse", wait)
        _succeeded("Originate", response)
        return outcome

    async def redirect(
        self, channel: str, context: str, exten: str, *, priority: int = 1, timeout: float = 5.0
    ) -> None:
        """Send ``channel`` (its full name) to ``context``, ``exten``, ``priority`` of the
        dialplan (a transfer). ActionFailed when Asterisk refuses (no such channel, …)."""
        await self.action(
            "Redirect",
            timeout,
            Channel=_channel(channel),
            Context=checked(context, "redirect context"),
            Exten=checked(exten, "redirect exten"),
            Priority=_integer(priority, 1, 99999, "priority"),
        )

    async def close(self) -> None:
        """Log off (waiting up to :data:`CLOSE_WAIT` s for Asterisk's Goodbye), stop reading,
        fail waiting actions with ChannelGone and close the socket. Never raises; calling it
        again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._end is None:
                with contextlib.suppress(Exception):
                    await self._exchange("Logoff", {}, None, CLOSE_WAIT, closing=True)
            self._task.cancel()
            await asyncio.wait([self._task])
            self._finish(ChannelGone(f"the manager connection to {self.peer} was closed"))
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

    async def _login(self, username: str, secret: str) -> None:
        banner = await self._banner
        if not banner.startswith(BANNER_PREFIX):
            raise ProtocolError(
                f"{self.peer} is not an Asterisk manager interface: it said {banner[:80]!r}"
            )
        fields = {"Username": username, "Secret": secret, "Events": "call"}
        response, _, _ = await self._exchange("Login", fields, None, None)
        if response.get("Response") != "Success":
            why = response.get("Message", "") or response.get("Response", "")
            raise LoginRefused(f"{self.peer} refused the login of {username!r}: {why}")
        response, _, _ = await self._exchange("Filter", _FILTER, None, None)
        if response.get("Response") != "Success":  # not allowed to filter: events sorted here
            log.info("%s: no manager filter (%s)", self.peer, response.get("Message", ""))

    # --- internals ------------------------------------------------------------------------

    async def _exchange(
        self,
        name: str,
        fields: Mapping[str, object],
        complete: str | None,
        timeout: float | None,
        *,
        closing: bool = False,
    ) -> tuple[Message, list[Message], Message]:
        """Send one action; return (its response, list items, the completing event)."""
        action_id = f"rc-{next(self._ids)}"
        data = _action_bytes(name, action_id, fields)
        if self._end is not None:
            raise fresh(self._end)
        if self._closed and not closing:
            raise ChannelGone(f"the manager connection to {self.peer} was closed")
        waiter = _Waiter(asyncio.get_running_loop().create_future(), complete)
        self._waiters[action_id] = waiter
        try:
            async with asyncio.timeout(timeout):
                try:
                    self._writer.write(data)
                    await self._writer.drain()
                except OSError as exc:
                    raise ChannelGone(f"{self.peer}: the manager socket failed: {exc}") from None
                return await waiter.future
        except TimeoutError:
            raise ProtocolError(f"{self.peer}: no answer to {name} within {timeout} s") from None
        finally:
            self._waiters.pop(action_id, None)
            waiter.future.cancel()

    async def _read_loop(self) -> None:
        end: AdapterError
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                try:
                    if data:
                        self._parser.feed(data)
                    else:
                        self._parser.eof()
                except ProtocolError as exc:
                    what = "" if self._banner.done() else "no manager banner: "
                    raise ProtocolError(f"{self.peer}: {what}{exc}") from None
                finally:
                    self._deliver()
                if not data:
                    raise ChannelGone(f"{self.peer} closed the manager connection")
        except AdapterError as exc:
            end = exc
        except OSError as exc:
            end = ChannelGone(f"{self.peer}: the manager socket failed: {exc}")
        except Exception as exc:  # a bug must not leave waiters hanging
            end = ProtocolError(f"{self.peer}: AMI reader failed: {exc!r}")
            end.__cause__ = exc
        self._finish(end)

    def _deliver(self) -> None:
        """Hand every parsed message (and the banner, once) to whoever waits for it."""
        banner = self._parser.banner
        if banner is not None and not self._banner.done():
            self._banner.set_result(banner)
        while (message := self._parser.next_message()) is not None:
            self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID")
        waiter = self._waiters.get(action_id) if action_id is not None else None
        event = message.get("Event")
        if event is not None:
            if waiter is not None and waiter.complete is not None:
                self._list_event(action_id or "", waiter, event, message)
            elif event == "Hangup":
                self._hung_up(message.get("Uniqueid", ""))
        elif "Response" in message:
            if waiter is None:
                log.debug("%s: dropped a response nothing waits for: %r", self.peer, action_id)
            elif waiter.complete is None or message["Response"] != "Success":
                _resolve(waiter, message, message)
            else:
                waiter.response = message
        else:
            log.debug("%s: dropped a message that is neither response nor event", self.peer)

    def _list_event(self, action_id: str, waiter: _Waiter, event: str, message: Message) -> None:
        if event == waiter.complete or message.get("EventList") == "Complete":
            _resolve(waiter, waiter.response or {}, message)
        elif len(waiter.items) >= MAX_LIST_ITEMS:
            self._waiters.pop(action_id, None)  # its later events are dropped
            if not waiter.future.done():
                waiter.future.set_exception(
                    ProtocolError(f"{self.peer}: a list of more than {MAX_LIST_ITEMS} events")
                )
        else:
            waiter.items.append(message)

    def _hung_up(self, uniqueid: str) -> None:
        self._hangups.add(uniqueid)

    def _finish(self, end: AdapterError) -> None:
        """The session has ended: remember why, fail every waiter, close the socket."""
        if self._end is None:
            self._end = end
        for waiter in list(self._waiters.values()):
            if not waiter.future.done():
                waiter.future.set_exception(fresh(self._end))
        if not self._banner.done():
            self._banner.set_exception(fresh(self._end))
            self._banner.exception()  # retrieved: nobody may be waiting for it
        self._hangups.wake()
        with contextlib.suppress(Exception):
            self._writer.close()


_FILTER: Mapping[str, str] = {"Operation": "Add", "Filter": HANGUP_FILTER}


def _resolve(waiter: _Waiter, response: Message, last: Message) -> None:
    if not waiter.future.done():
        waiter.future.set_result((response, waiter.items, last))


def _succeeded(name: str, response: Message) -> Message:
    if response.get("Response") != "Success":
        why = response.get("Message", "") or response.get("Response", "no response")
        raise ActionFailed(f"Asterisk refused {name}: {why}", response)
    return response


async def connect_ami(
    host: str, port: int, username: str, secret: str, *, timeout: float = 5.0
) -> AmiClient:
    """Connect to Asterisk's manager interface at ``host``:``port``, check its banner, log in
    as ``username`` with ``secret`` (``Events: call``) and set the filter
    :data:`HANGUP_FILTER`; all within ``timeout`` seconds.

    An unreachable host or port, a peer that is not an AMI, a malformed answer or the
    ``timeout`` raise ProtocolError; a refused login raises LoginRefused (a ProtocolError).
    Every message is one line naming the peer."""
    peer = f"Asterisk manager at {host}:{port}"
    client: AmiClient | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                raise ProtocolError(
                    f"cannot connect to the {peer}: {exc.strerror or exc}"
                ) from None
            keep_alive(writer)
            client = AmiClient(reader, writer, peer=peer)
            await client._login(username, secret)
    except BaseException as exc:
        if client is not None:
            await _abort(client)
        if isinstance(exc, TimeoutError):
            raise ProtocolError(f"{peer}: no login within {timeout} s") from None
        if isinstance(exc, ChannelGone):
            raise ProtocolError(f"{peer}: the connection ended during the login: {exc}") from None
        raise
    assert client is not None
    return client


async def _abort(client: AmiClient) -> None:
    """Close a client whose login failed, without a Logoff."""
    client._finish(ChannelGone(f"the login to the {client.peer} failed"))
    await client.close()
