"""Sans-IO codec of FreeSWITCH's event socket (ESL) in outbound mode: framing, parsing, commands.

A frame from FreeSWITCH is a block of ``Name: value`` header lines ended by an empty line, then,
when the block carries ``Content-Length: N``, exactly N bytes of body. The reply to ``connect``
is one block of ~170 headers without Content-Length (the channel data, URL-encoded, then
``Content-Type: command/reply`` and ``Control: full`` last). An event (``text/event-plain``)
carries in its body a second header block with URL-encoded values, optionally followed by a
body of its own announced by a ``Content-Length`` among those headers.

Header values are kept raw in :class:`Frame` (plain command replies are not URL-encoded, e.g.
``Reply-Text: +OK Events Enabled``) and URL-decoded only where FreeSWITCH encodes them: in
:meth:`Frame.channel_data` (the connect reply) and in :class:`Event`. When a block repeats a
header name, the first occurrence wins (as FreeSWITCH's own header lookup does).

Every bound is enforced and every violation raises
:class:`~routecore.adapter.errors.ProtocolError`; every value put into a command is checked for
control characters and raises :class:`~routecore.adapter.errors.UnsafeValue`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from routecore.adapter.errors import ProtocolError, UnsafeValue

__all__ = [
    "MAX_BODY",
    "MAX_COMMAND",
    "MAX_HEADERS",
    "MAX_LINE",
    "Event",
    "Frame",
    "FrameReader",
    "command",
    "sendmsg",
    "sendmsg_execute",
    "sendmsg_hangup",
]

MAX_LINE = 8 * 1024
_BAD_LINE = re.compile(r"\n(?:[^:\n]*\n|:)")
"""A header line without a name and ``:`` (in ``"\n" + lines + "\n"``)."""
"""Longest header line of a frame's outer header block, in bytes (without its ``\\n``)."""
MAX_HEADERS = 1024
"""Most header lines in one block (outer block or an event's body block)."""
MAX_BODY = 1024 * 1024
"""Largest body (``Content-Length``) of a frame and largest outer header block, in bytes."""
MAX_COMMAND = 8 * 1024
"""Largest command this codec builds, in bytes."""


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _split_header(line: str) -> tuple[str, str]:
    """``Name: value`` → ``(name, value)``; leading spaces of the value are dropped."""
    name, colon, value = line.partition(":")
    if not colon or not name:
        raise ProtocolError(f"malformed header line {line[:80]!r}")
    return name, value.lstrip(" ")


def _content_length(value: str, limit: int = MAX_BODY) -> int:
    """A Content-Length value: a plain decimal integer of at most ``limit``."""
    if not value or not value.isascii() or not value.isdigit():
        raise ProtocolError(f"malformed Content-Length {value[:40]!r}")
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise ProtocolError(f"Content-Length {value[:40]!r} exceeds {limit}")
    return int(digits)


def _unquote(value: str) -> str:
    return unquote(value) if "%" in value else value


def _to_dict(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers.setdefault(name, value)
    return headers


@dataclass(frozen=True)
class Event:
    """A parsed ``text/event-plain`` event.

    ``text`` is its header block as received (decoded as UTF-8), one ``Name: value`` per line
    between newlines; a header is looked up and URL-decoded when it is read (:meth:`get`,
    :meth:`variable`), so an event of ~170 headers costs one check of its block, and only the
    few headers an adapter reads are decoded. ``raw_headers`` and ``headers`` give them all
    (the first of a repeated name wins, as in FreeSWITCH). ``body`` is the event's own body
    (announced by a ``Content-Length`` among its headers), empty for most.
    """

    text: str = field(repr=False)
    body: bytes = b""

    @classmethod
    def of(cls, headers: dict[str, str], body: bytes = b"") -> Event:
        """An event of these (URL-encoded) header values."""
        return cls("\n" + "".join(f"{n}: {v}\n" for n, v in headers.items()), body)

    @property
    def raw_headers(self) -> dict[str, str]:
        """Every header as received (URL-encoded)."""
        return _to_dict(_split_header(line) for line in self.text.split("\n") if line)

    @property
    def headers(self) -> dict[str, str]:
        """Every header, URL-decoded."""
        return {name: _unquote(value) for name, value in self.raw_headers.items()}

    @classmethod
    def parse(cls, data: bytes) -> Event:
        """Parse an event-plain body; raise ProtocolError when it is malformed."""
        head, sep, rest = data.partition(b"\n\n")
        if head.endswith(b"\n"):  # a block whose blank line is the body's last byte
            head = head[:-1]
        text = "\n" + _decode(head) + "\n" if head else "\n"
        if head and _BAD_LINE.search(text):  # one pass in C: ~150 lines an event
            line = next(line for line in text[1:-1].split("\n") if line.find(":") < 1)
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        if text.count("\n") - 1 > MAX_HEADERS:
            raise ProtocolError(f"event has more than {MAX_HEADERS} headers")
        event = cls(text)
        length = event.find("Content-Length")
        if length is not None:
            size = _content_length(length)
            if not sep or len(rest) < size or rest[size:].strip(b"\n"):
                raise ProtocolError("event body does not match its Content-Length")
            return cls(text, rest[:size])
        if rest.strip(b"\n"):
            raise ProtocolError("event has bytes after its headers but no Content-Length")
        return event

    def find(self, name: str) -> str | None:
        """The URL-decoded value of header ``name``, or None when the event has none."""
        text = self.text
        at = text.find(f"\n{name}:")
        if at < 0:
            return None
        start = at + len(name) + 2
        return _unquote(text[start : text.index("\n", start)].lstrip(" "))

    def get(self, name: str, default: str = "") -> str:
        """The URL-decoded value of header ``name``, or ``default``."""
        value = self.find(name)
        return default if value is None else value

    def variable(self, name: str, default: str = "") -> str:
        """The channel variable ``name`` (header ``variable_<name>``), or ``default``."""
        return self.get(f"variable_{name}", default)

    @property
    def name(self) -> str:
        """``Event-Name`` (``CHANNEL_EXECUTE_COMPLETE``, …), or ``""``."""
        return self.get("Event-Name")

    @property
    def uuid(self) -> str:
        """``Unique-ID``: the channel the event is about, or ``""``."""
        return self.get("Unique-ID")

    @property
    def application_uuid(self) -> str:
        """``Application-UUID``: the ``Event-UUID`` of the sendmsg that ran the app, or ``""``."""
        return self.get("Application-UUID")


@dataclass(frozen=True)
class Frame:
    """One frame from FreeSWITCH: its outer header block (raw values) and its body."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        """``Content-Type`` (``command/reply``, ``text/event-plain``, …), or ``""``."""
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        """``Reply-Text`` as received (URL-encoded only in the connect reply), or ``""``."""
        return self.headers.get("Reply-Text", "")

    def channel_data(self) -> dict[str, str]:
        """All headers URL-decoded: the channel data of the reply to ``connect``."""
        return {name: unquote(value) for name, value in self.headers.items()}

    def event(self) -> Event | None:
        """The event a ``text/event-plain`` frame carries (None for other content types);
        raise ProtocolError when its body is malformed."""
        if self.content_type != "text/event-plain":
            return None
        return Event.parse(self.body)


class FrameReader:
    """Incremental frame parser: :meth:`feed` bytes in any chunking, take :meth:`next_frame`.

    Empty lines between frames are skipped. Bounds: :data:`MAX_LINE` per header line,
    :data:`MAX_HEADERS` lines and :data:`MAX_BODY` bytes per header block, ``max_body`` (default
    :data:`MAX_BODY`) per body. After a ProtocolError the reader is unusable (it raises the same
    error again).
    """

    def __init__(self, *, max_body: int = MAX_BODY) -> None:
        self._max_body = max_body
        self._buf = bytearray()
        self._pos = 0  # start of the unparsed bytes in _buf
        self._lines: list[tuple[str, str]] = []  # header lines of the block being read
        self._block_size = 0
        self._headers: dict[str, str] | None = None  # set while waiting for a body
        self._body_size = 0
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> None:
        """Append bytes received from FreeSWITCH."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes are fed; ProtocolError when the
        bytes break the framing or a bound."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except ProtocolError as exc:
            self._error = exc
            raise

    def eof(self) -> None:
        """The peer closed the stream: raise ProtocolError when it ended inside a frame."""
        if self._error is not None:
            raise self._error
        if self._headers is not None or self._lines or self._buf[self._pos :].strip(b"\n"):
            self._error = ProtocolError("connection closed in the middle of a frame")
            raise self._error

    def _next(self) -> Frame | None:
        buf = self._buf
        while self._headers is None:
            end = buf.find(b"\n", self._pos)
            if end < 0:
                if len(buf) - self._pos > MAX_LINE:
                    raise ProtocolError(f"header line longer than {MAX_LINE} bytes")
                return None
            if end - self._pos > MAX_LINE:
                raise ProtocolError(f"header line longer than {MAX_LINE} bytes")
            line = bytes(buf[self._pos : end])
            self._pos = end + 1
            if line:
                self._add_line(line)
            elif self._lines:
                self._end_block()
        size = self._body_size
        if len(buf) - self._pos < size:
            return None
        body = bytes(buf[self._pos : self._pos + size])
        self._pos += size
        frame = Frame(headers=self._headers, body=body)
        self._headers = None
        return frame

    def _add_line(self, line: bytes) -> None:
        if len(self._lines) >= MAX_HEADERS:
            raise ProtocolError(f"header block has more than {MAX_HEADERS} lines")
        self._block_size += len(line) + 1
        if self._block_size > MAX_BODY:
            raise ProtocolError(f"header block larger than {MAX_BODY} bytes")
        self._lines.append(_split_header(_decode(line)))

    def _end_block(self) -> None:
        headers = _to_dict(self._lines)
        self._lines = []
        self._block_size = 0
        length = headers.get("Content-Length")
        self._body_size = 0 if length is None else _content_length(length, self._max_body)
        self._headers = headers


# --- commands -------------------------------------------------------------------------------


def _check(what: str, value: str) -> str:
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise UnsafeValue(f"{what} contains the control character {char!r}")
    return value


def _check_name(name: str) -> str:
    _check("header name", name)
    if not name or ":" in name or name != name.strip():
        raise UnsafeValue(f"malformed header name {name!r}")
    return name


def _check_value(name: str, value: str) -> str:
    _check(name, value)
    if value != value.lstrip(" "):
        raise UnsafeValue(f"{name} starts with a space (FreeSWITCH would drop it)")
    return value


def _finish(data: bytes) -> bytes:
    if len(data) > MAX_COMMAND:
        raise UnsafeValue(f"command longer than {MAX_COMMAND} bytes")
    return data


def command(text: str) -> bytes:
    """A one-line command: ``command("connect")`` → ``b"connect\\n\\n"`` (also ``myevents``,
    ``linger``, ``exit``, ``api …``)."""
    _check("command", text)
    if not text.strip():
        raise UnsafeValue("empty command")
    return _finish(f"{text}\n\n".encode())


def sendmsg(fields: Iterable[tuple[str, str]]) -> bytes:
    """``sendmsg`` with the given header lines, in order."""
    lines = ["sendmsg"]
    for name, value in fields:
        lines.append(f"{_check_name(name)}: {_check_value(name, value)}")
    return _finish(("\n".join(lines) + "\n\n").encode())


def sendmsg_execute(
    app: str, arg: str = "", *, event_uuid: str | None = None, event_lock: bool = True
) -> bytes:
    """``sendmsg`` running dialplan application ``app`` with ``arg`` on the channel.

    With ``event_uuid`` the message carries ``Event-UUID``, which FreeSWITCH reports as the
    ``Application-UUID`` of the app's CHANNEL_EXECUTE/CHANNEL_EXECUTE_COMPLETE. An empty ``arg``
    leaves out ``execute-app-arg``.
    """
    if not app:
        raise UnsafeValue("empty application name")
    fields = [("call-command", "execute"), ("execute-app-name", app)]
    if arg:
        fields.append(("execute-app-arg", arg))
    if event_uuid is not None:
        fields.append(("Event-UUID", event_uuid))
    if event_lock:
        fields.append(("event-lock", "true"))
    return sendmsg(fields)


def sendmsg_hangup(cause: str = "NORMAL_CLEARING") -> bytes:
    """``sendmsg`` hanging the channel up with ``cause`` (``NORMAL_CLEARING``, ``USER_BUSY``…)."""
    if not cause:
        raise UnsafeValue("empty hangup cause")
    return sendmsg([("call-command", "hangup"), ("hangup-cause", cause)])
