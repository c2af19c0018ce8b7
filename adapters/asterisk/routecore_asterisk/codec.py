"""Sans-IO codec of Asterisk's AGI protocol (FastAGI and process-per-call AGI).

Asterisk first sends the environment: ``agi_name: value`` lines ended by an empty line (on
FastAGI the first two are ``agi_network: yes`` and ``agi_network_script: <script>``). Then the
server sends one command a line and Asterisk answers each with one reply line
(``200 result=N [(data)] [endpos=N]``, ``510 …``, ``511 …``), or with a multi-line ``520-…``
reply ended by a ``520 …`` line. On FastAGI, Asterisk also writes ``HANGUP`` on a line of its own
when the channel hangs up, between or before replies; it still answers the command in flight.

This module does no I/O: :class:`AgiReader` parses bytes fed to it, :class:`AgiSession` keeps
the command/reply bookkeeping, and the builders make command lines. The asyncio transport is in
``routecore_asterisk.aio`` and the blocking one in ``routecore_asterisk.blocking``; this module
imports neither asyncio nor anything slow, for the process-per-call AGI's start-up time.

Every bound is enforced and every violation raises
:class:`~routecore.adapter.errors.ProtocolError`; every value put into a command is checked and
raises :class:`~routecore.adapter.errors.UnsafeValue`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import NoReturn

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue

__all__ = [
    "MAX_COMMAND",
    "MAX_HEADERS",
    "MAX_LINE",
    "MAX_QUERY_FIELDS",
    "MAX_REPLY_LINES",
    "AgiEnvironment",
    "AgiItem",
    "AgiReader",
    "AgiSession",
    "HangupNotice",
    "Reply",
    "answer",
    "check_reply",
    "command",
    "exec_",
    "get_data",
    "get_variable",
    "hangup",
    "parse_reply",
    "set_variable",
    "stream_file",
    "verbose",
    "wait_for_digit",
]

MAX_LINE = 4096
"""Longest line Asterisk may send (environment or reply), in bytes including its ``\\n``."""
MAX_HEADERS = 128
"""Most ``agi_*`` lines in the environment block."""
MAX_REPLY_LINES = 64
"""Most lines of one multi-line (``520-``) reply, its first and last lines included."""
MAX_COMMAND = 2048
"""Longest command line, in bytes including its ``\\n`` (older Asterisks read commands into a
2048-byte buffer and would take the rest of a longer line as a second command)."""
MAX_QUERY_FIELDS = 32
"""Most ``name=value`` fields in the query part of ``agi_network_script``."""

_NAME = re.compile(rb"agi_[a-z0-9_]+")
_INT = re.compile(r"-?[0-9]+")
_ENDPOS = re.compile(r" endpos=(-?[0-9]+)(?= |$)")
_COMMAND_BYTES = re.compile(rb"[^\x00-\x1f\x7f]*\n")
_USAGE_END = "End of proper usage."


# ---------------------------------------------------------------- parsed items


@dataclass(frozen=True)
class AgiEnvironment:
    """The environment block Asterisk sends first: ``values`` maps each ``agi_*`` name to its
    value as sent (``""`` when empty; Asterisk itself writes ``unknown`` for an absent caller
    id or rdnis). The convenience properties are ``""`` when their line is missing."""

    values: dict[str, str]

    def _get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def network(self) -> bool:
        """True on FastAGI (``agi_network: yes``), False for a process-per-call AGI."""
        return self._get("agi_network") == "yes"

    def _target(self) -> str:
        """``script?query`` on FastAGI; the script as given for a process-per-call AGI."""
        if not self.network:
            return self._get("agi_request")
        if "agi_network_script" in self.values:
            return self.values["agi_network_script"]
        _, sep, rest = self._get("agi_request").partition("://")  # agi://host:port/path?query
        return rest.partition("/")[2] if sep else ""

    @property
    def script(self) -> str:
        """FastAGI: the path part of ``agi_network_script`` (before ``?``), e.g. ``answered``;
        process-per-call AGI: ``agi_request``, the script as the dialplan named it."""
        target = self._target()
        return target.partition("?")[0] if self.network else target

    @property
    def query(self) -> dict[str, str]:
        """FastAGI: the ``a=b&c=d`` part of ``agi_network_script``, percent-decoded (the last of
        repeated names wins); empty for a process-per-call AGI. More than
        :data:`MAX_QUERY_FIELDS` fields raise ProtocolError."""
        if not self.network:
            return {}
        text = self._target().partition("?")[2]
        if not text:
            return {}
        from urllib.parse import parse_qsl  # here, not at the top: start-up time

        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        except ValueError as exc:
            raise ProtocolError(f"agi_network_script query: {exc}") from None
        return dict(pairs)

    @property
    def args(self) -> tuple[str, ...]:
        """``agi_arg_1``, ``agi_arg_2``, … in order, up to the first missing one."""
        out: list[str] = []
        while (value := self.values.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return tuple(out)

    @property
    def channel(self) -> str:
        """``agi_channel``, e.g. ``PJSIP/caller-00000000``."""
        return self._get("agi_channel")

    @property
    def uniqueid(self) -> str:
        """``agi_uniqueid``."""
        return self._get("agi_uniqueid")

    @property
    def callerid(self) -> str:
        """``agi_callerid``: the caller's number as the channel carries it, unsanitised."""
        return self._get("agi_callerid")

    @property
    def calleridname(self) -> str:
        """``agi_calleridname``, unsanitised."""
        return self._get("agi_calleridname")

    @property
    def dnid(self) -> str:
        """``agi_dnid``: the number dialled."""
        return self._get("agi_dnid")

    @property
    def extension(self) -> str:
        """``agi_extension``."""
        return self._get("agi_extension")

    @property
    def context(self) -> str:
        """``agi_context``."""
        return self._get("agi_context")


@dataclass(frozen=True)
class Reply:
    """One reply of Asterisk to a command.

    ``code`` is the three-digit status (200, 510, 511, 520, …); for a 200 reply ``result`` is the
    integer after ``result=`` (None when it is not an integer, e.g. ``*12`` or empty digits of a
    GET DATA), ``data`` the text in parentheses (``""`` for ``()``, None when absent) and
    ``endpos`` the integer after ``endpos=``; for any other code these three are None. ``text``
    is the whole reply, its lines joined by ``\\n``.
    """

    code: int
    result: int | None
    data: str | None
    endpos: int | None
    text: str

    @property
    def raw_result(self) -> str:
        """The characters after ``result=`` up to the first space (``""`` when none): the digits
        of a GET DATA as typed, leading zeros, ``*`` and all."""
        if self.code != 200:
            return ""
        return self.text[len("200 result=") :].partition(" ")[0]


@dataclass(frozen=True)
class HangupNotice:
    """Asterisk's inline ``HANGUP`` line (FastAGI): the channel hung up. Not a reply."""


AgiItem = Reply | HangupNotice
"""What :meth:`AgiReader.next_item` yields after the environment."""


def parse_reply(text: str) -> Reply:
    """Parse one single-line reply (without its newline), e.g. ``200 result=1 (BUSY)``.

    The data runs from the first `` (`` to the last ``)`` before an optional `` endpos=N`` (so
    it may hold parentheses and spaces); text after the result that is neither is kept only in
    ``text``. A ``200`` line without ``result=`` or with an unclosed ``(`` raises ProtocolError.
    """
    code = text[:3]
    if not (code.isascii() and code.isdigit() and len(code) == 3 and text[3:4] in ("", " ")):
        raise ProtocolError(f"malformed AGI reply line {text[:80]!r}")
    if code != "200":
        return Reply(int(code), None, None, None, text)
    if not text.startswith("200 result="):
        raise ProtocolError(f"200 reply without result= {text[:80]!r}")
    raw, _, _ = text[len("200 result=") :].partition(" ")
    tail = text[len("200 result=") + len(raw) :]
    endpos: int | None = None
    head = tail
    for match in _ENDPOS.finditer(tail):
        if ")" not in tail[match.end() :]:  # an endpos= inside the data is data
            endpos, head = int(match.group(1)), tail[: match.start()]
            break
    data: str | None = None
    opening = head.find(" (")
    if opening >= 0:
        closing = head.rfind(")")
        if closing < opening:
            raise ProtocolError(f"unclosed data in AGI reply {text[:80]!r}")
        data = head[opening + 2 : closing]
    result = int(raw) if _INT.fullmatch(raw) else None
    return Reply(200, result, data, endpos, text)


def check_reply(reply: Reply) -> Reply:
    """Return a 200 reply; raise ChannelGone for 511 (dead channel), ProtocolError otherwise
    (510 unknown command, 520 bad syntax, anything else)."""
    if reply.code == 200:
        return reply
    if reply.code == 511:
        raise ChannelGone(f"Asterisk: {reply.text}")
    raise ProtocolError(f"Asterisk refused the command: {reply.text}")


# ---------------------------------------------------------------- the reader


class AgiReader:
    """Incremental parser of what Asterisk sends: :meth:`feed` bytes as they arrive (split
    anywhere), then read :attr:`environment` (once complete) and pull :meth:`next_item`.

    After any ProtocolError the reader stays failed: every later :meth:`feed` or :meth:`eof`
    raises again.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes at the start of _buf known to hold no newline
        self._values: dict[str, str] = {}
        self._env: AgiEnvironment | None = None
        self._multi: list[str] = []
        self._items: deque[AgiItem] = deque()
        self._eof = False
        self._error: str | None = None

    @property
    def environment(self) -> AgiEnvironment | None:
        """The environment, once its closing empty line has arrived; None before."""
        return self._env

    @property
    def finished(self) -> bool:
        """True once :meth:`eof` was called and every parsed item has been pulled."""
        return self._eof and not self._items

    @property
    def failed(self) -> str | None:
        """Why the stream failed (a malformed or oversized line), or None."""
        return self._error

    def next_item(self) -> AgiItem | None:
        """The next parsed :class:`Reply` or :class:`HangupNotice`, or None for now."""
        return self._items.popleft() if self._items else None

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raise ProtocolError on a malformed or oversized line."""
        self._check()
        if self._eof:
            self._fail("data after EOF")
        buf = self._buf
        buf += data
        start = 0
        try:
            while (newline := buf.find(b"\n", max(start, self._scanned))) >= 0:
                if newline + 1 - start > MAX_LINE:
                    self._fail(f"line longer than {MAX_LINE} bytes")
                line = bytes(buf[start:newline])
                start = newline + 1
                self._line(line[:-1] if line.endswith(b"\r") else line)
            if len(buf) - start >= MAX_LINE:
                self._fail(f"line longer than {MAX_LINE} bytes")
        finally:
            del buf[:start]
            self._scanned = len(buf)

    def eof(self) -> None:
        """The peer closed its side. A partial line, environment or multi-line reply raises
        ProtocolError; otherwise the items end (:attr:`finished` once they are pulled)."""
        self._check()
        if self._eof:
            return
        self._eof = True
        if self._buf:
            self._fail("connection closed in the middle of a line")
        if self._env is None and self._values:
            self._fail("connection closed inside the environment block")
        if self._multi:
            self._fail("connection closed inside a multi-line reply")

    def _check(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"AGI stream already failed: {self._error}")

    def _fail(self, message: str) -> NoReturn:
        self._error = message
        raise ProtocolError(message)

    def _line(self, line: bytes) -> None:
        if self._env is None:
            self._env_line(line)
        elif self._multi:
            self._multi_line(line.decode("utf-8", "replace"))
        elif line == b"HANGUP":
            self._items.append(HangupNotice())
        elif line:  # stray empty lines carry nothing and are skipped
            text = line.decode("utf-8", "replace")
            if text[3:4] == "-" and text[:3].isascii() and text[:3].isdigit():
                self._multi.append(text)
            else:
                try:
                    self._items.append(parse_reply(text))
                except ProtocolError as exc:
                    self._fail(str(exc))

    def _env_line(self, line: bytes) -> None:
        if not line:
            if not self._values:
                self._fail("empty AGI environment")
            env = AgiEnvironment(dict(self._values))
            try:
                _ = env.query  # fail here, not later, on a malformed query
            except ProtocolError as exc:
                self._fail(str(exc))
            self._env = env
            return
        if len(self._values) >= MAX_HEADERS:
            self._fail(f"more than {MAX_HEADERS} environment lines")
        name, sep, value = line.partition(b": ")
        if not sep or not _NAME.fullmatch(name):
            self._fail(f"malformed environment line {line[:80]!r}")
        key = name.decode("ascii")
        if key in self._values:
            self._fail(f"repeated environment line {key}")
        self._values[key] = value.decode("utf-8", "replace")

    def _multi_line(self, text: str) -> None:
        code = self._multi[0][:3]
        self._multi.append(text)
        # Asterisk writes the usage text with "%s": when it lacks a final newline, the closing
        # "520 End of proper usage." is glued to its last line.
        if text.startswith(code + " ") or text == code or text.endswith(f"{code} {_USAGE_END}"):
            lines, self._multi = self._multi, []
            self._items.append(Reply(int(code), None, None, None, "\n".join(lines)))
        elif len(self._multi) >= MAX_REPLY_LINES:
            self._fail(f"multi-line reply longer than {MAX_REPLY_LINES} lines")


# ---------------------------------------------------------------- the conversation


class AgiSession:
    """Command/reply bookkeeping over an :class:`AgiReader`, without I/O.

    A transport calls :meth:`start` with a command, writes the bytes it returns, then feeds
    what it reads to :attr:`reader` and calls :meth:`poll` until it returns the reply. Inline
    ``HANGUP`` lines set :attr:`hung_up` and are not replies; once :attr:`hung_up` is set,
    :meth:`start` raises ChannelGone (nothing to send) unless ``after_hangup=True``.
    """

    def __init__(self) -> None:
        self.reader = AgiReader()
        self.hung_up = False
        self._pending: bytes | None = None
        self._skip = 0  # replies still to come for abandoned commands
        self._lost = False

    @property
    def environment(self) -> AgiEnvironment | None:
        """The environment once complete; ChannelGone if the peer closed before it."""
        env = self.reader.environment
        if env is None and self.reader.finished:
            raise ChannelGone("the AGI connection closed before its environment")
        return env

    @property
    def pending(self) -> bytes | None:
        """The command whose reply is awaited, if any."""
        return self._pending

    def start(self, cmd: bytes, *, after_hangup: bool = False) -> bytes:
        """Check ``cmd`` and the state, mark it pending and return the bytes to write.

        Raises UnsafeValue for anything but one line of at most :data:`MAX_COMMAND` bytes
        without control characters; ChannelGone once the connection closed or was lost, or
        once hung up (unless ``after_hangup``); ProtocolError while an earlier reply is still
        awaited (after a timeout or a cancellation the conversation is out of step).
        """
        if len(cmd) > MAX_COMMAND or not _COMMAND_BYTES.fullmatch(cmd):
            raise UnsafeValue(f"not one AGI command line of at most {MAX_COMMAND} bytes")
        if self.reader.failed is not None:  # nothing more is sent to a peer that broke it
            raise ProtocolError(f"AGI stream already failed: {self.reader.failed}")
        if self._lost or self.reader.finished:
            raise ChannelGone("the AGI connection is closed")
        if self._pending is not None:
            raise ProtocolError(f"no reply yet to {self._pending!r}")
        self.poll()  # take in the HANGUP notices already read
        if self.hung_up and not after_hangup:
            raise ChannelGone("the caller hung up")
        self._pending = cmd
        return cmd

    def poll(self) -> Reply | None:
        """The reply to the pending command, checked by :func:`check_reply`, or None while it
        has not arrived. ChannelGone once the peer closed (or on 511); ProtocolError for a
        reply nothing asked for."""
        while (item := self.reader.next_item()) is not None:
            if isinstance(item, HangupNotice):
                self.hung_up = True
            elif self._skip:
                self._skip -= 1
            elif self._pending is None:
                raise ProtocolError(f"unsolicited AGI reply {item.text[:80]!r}")
            else:
                self._pending = None
                if item.code == 511:
                    self.hung_up = True
                return check_reply(item)
        if self.reader.finished:
            raise ChannelGone("the AGI connection closed")
        return None

    def connection_lost(self) -> None:
        """The transport failed (reset, broken pipe): every later :meth:`start` raises
        ChannelGone."""
        self._lost = True
        self._pending = None

    def abandon(self) -> None:
        """Stop waiting for the pending command's reply; it is dropped when it arrives. For an
        interrupted wait that Asterisk will still answer (not for a timeout)."""
        if self._pending is not None:
            self._pending = None
            self._skip += 1


# ---------------------------------------------------------------- command builders


def _word(value: str) -> str:
    """``value`` as one word of a command: quoted when empty or holding spaces."""
    if not value.isprintable():
        raise UnsafeValue(f"control character in AGI command value {value!r}")
    if '"' in value or "\\" in value:
        raise UnsafeValue(f"quote or backslash in AGI command value {value!r}")
    return f'"{value}"' if value == "" or " " in value else value


def _line(*words: str) -> bytes:
    line = (" ".join(words) + "\n").encode()
    if len(line) > MAX_COMMAND:
        raise UnsafeValue(f"AGI command longer than {MAX_COMMAND} bytes")
    return line


def _number(value: int, minimum: int, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UnsafeValue(f"{what} must be an integer >= {minimum}, not {value!r}")
    return str(value)


def command(*words: str) -> bytes:
    """One command line from its words, e.g. ``command("GET", "VARIABLE", "X")``. A word that
    is empty or holds spaces is sent in double quotes; a word holding ``"``, ``\\`` or a
    character :meth:`str.isprintable` refuses (controls, line separators), or a line longer
    than :data:`MAX_COMMAND` bytes, raises UnsafeValue."""
    if not words:
        raise UnsafeValue("empty AGI command")
    return _line(*(_word(word) for word in words))


def stream_file(name: str, escape_digits: str = "") -> bytes:
    """``STREAM FILE name "digits"`` (``STREAM FILE welcome ""``)."""
    if escape_digits.strip("0123456789*#"):
        raise UnsafeValue(f"escape digits must be 0-9, * or #, not {escape_digits!r}")
    return _line("STREAM", "FILE", _word(name), f'"{escape_digits}"')


def get_data(file: str, timeout_ms: int, max_digits: int) -> bytes:
    """``GET DATA file timeout_ms max_digits`` (``GET DATA main_menu 6000 3``)."""
    timeout = _number(timeout_ms, 0, "timeout_ms")
    return _line("GET", "DATA", _word(file), timeout, _number(max_digits, 1, "max_digits"))


def exec_(app: str, args: str) -> bytes:
    """``EXEC app args`` (``EXEC Dial Local/1@x,20``); ``args`` is quoted when empty or holding
    spaces. ``app`` must be letters, digits and ``_``."""
    if not (app.isascii() and app.replace("_", "").isalnum()):
        raise UnsafeValue(f"not an application name: {app!r}")
    return _line("EXEC", app, _word(args))


def get_variable(name: str) -> bytes:
    """``GET VARIABLE name`` (``GET VARIABLE DIALSTATUS``)."""
    return command("GET", "VARIABLE", name)


def set_variable(name: str, value: str) -> bytes:
    """``SET VARIABLE name "value"`` (the value always quoted)."""
    _word(value)
    return _line("SET", "VARIABLE", _word(name), f'"{value}"')


def answer() -> bytes:
    """``ANSWER``."""
    return b"ANSWER\n"


def hangup() -> bytes:
    """``HANGUP`` (this channel)."""
    return b"HANGUP\n"


def wait_for_digit(ms: int) -> bytes:
    """``WAIT FOR DIGIT ms`` (-1 waits for ever)."""
    return _line("WAIT", "FOR", "DIGIT", _number(ms, -1, "ms"))


def verbose(msg: str, level: int = 1) -> bytes:
    """``VERBOSE "msg" level`` (the message always quoted; level 1 to 4)."""
    _word(msg)
    _number(level, 1, "level")
    if level > 4:
        raise UnsafeValue(f"verbose level must be 1 to 4, not {level!r}")
    return _line("VERBOSE", f'"{msg}"', str(level))
