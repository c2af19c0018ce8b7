"""A fake Asterisk 22 for the adapter's end-to-end tests: it plays Asterisk's side of FastAGI
(and of a process-per-call AGI over pipes) byte for byte as ``adapters/transcripts/
asterisk-22-fastagi.log`` shows it.

- :func:`environment` is the ``agi_*`` block exactly as Asterisk writes it (same keys, same
  order, ``agi_network: yes`` first on FastAGI, ``agi_arg_N`` lines last);
- :class:`Scenario` says what the PBX side does: the keys the caller presses, how each Dial
  ends (:class:`Ring`), when the caller hangs up (``HANGUP`` inline, then 511s), when the PBX
  stalls or its input is cut;
- :class:`FakeAsterisk` answers each command line per the scenario, runs Dial's
  ``U(rc-answered^<call>^<port>^<host>)`` answer subroutine as a second FastAGI connection when a
  target answers, logs every line the server sent, and after the server's own ``EXEC Hangup``
  / ``HANGUP`` answers ``200 result=1`` and ``HANGUP`` and waits for the server to close the
  socket: like the real Asterisk it never closes first;
- :func:`assert_safe` checks a command line against the grammar of every command the adapter
  may send (a value is never anything but the characters of ``routecore.adapter.values``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from routecore.adapter.runtime import Runtime
from routecore.adapter.server import Server, bind
from routecore_asterisk import dialplan
from routecore_asterisk.fastagi import FastAgi, make_handler

DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
UNKNOWN = b"510 Invalid or unknown command\n"
WAIT = 10.0
"""Seconds the fake waits for the server's next line before it calls the server stalled."""


# ---------------------------------------------------------------- the environment block


def environment(
    *,
    caller: str | bytes = "13800138000",
    dnid: str = "4006001003",
    uniqueid: str = "rcpbx-1796174071.0",
    script: str | None = "route",
    channel: str = "PJSIP/caller-00000000",
    context: str = "from-400",
    extension: str | None = None,
    callername: str | bytes | None = None,
    request: str | None = None,
    args: tuple[str, ...] = (),
    port: int = 4573,
    priority: int = 2,
    threadid: str = "140386241541824",
) -> bytes:
    """The environment Asterisk 22 sends: FastAGI when ``script`` is given (``agi_network``
    and ``agi_network_script`` first), a process-per-call AGI's when it is None."""
    raw_caller = caller if isinstance(caller, bytes) else caller.encode()
    name = raw_caller if callername is None else callername
    raw_name = name if isinstance(name, bytes) else name.encode()
    rows: list[tuple[str, bytes]] = []
    if script is not None:
        rows += [("agi_network", b"yes"), ("agi_network_script", script.encode())]
        request = request or f"agi://127.0.0.1:{port}/{script}"
    rows += [
        ("agi_request", (request or "routecore-asterisk").encode()),
        ("agi_channel", channel.encode()),
        ("agi_language", b"en"),
        ("agi_type", channel.partition("/")[0].encode()),
        ("agi_uniqueid", uniqueid.encode()),
        ("agi_version", b"22.10.1"),
        ("agi_callerid", raw_caller),
        ("agi_calleridname", raw_name),
        ("agi_callingpres", b"0"),
        ("agi_callingani2", b"0"),
        ("agi_callington", b"0"),
        ("agi_callingtns", b"0"),
        ("agi_dnid", dnid.encode()),
        ("agi_rdnis", b"unknown"),
        ("agi_context", context.encode()),
        ("agi_extension", (dnid if extension is None else extension).encode()),
        ("agi_priority", str(priority).encode()),
        ("agi_enhanced", b"0.0"),
        ("agi_accountcode", b""),
        ("agi_threadid", threadid.encode()),
    ]
    rows += [(f"agi_arg_{i}", a.encode()) for i, a in enumerate(args, 1)]
    return b"".join(k.encode() + b": " + v + b"\n" for k, v in rows) + b"\n"


# ---------------------------------------------------------------- the scenario


@dataclass
class Ring:
    """How one ``EXEC Dial`` ends.

    ``status`` is DIALSTATUS (ANSWER, BUSY, NOANSWER, CHANUNAVAIL); when ANSWER, ``answerer``
    (default: the Dial's first target) picks up: with ``subroutine`` its ``U()`` connection is
    made before the Dial's reply, ``second`` is another target of the same attempt whose own
    ``U()`` connection arrives after it (a race: the server must hang that leg up), and
    ``on_answer`` runs after the answer connections closed and before the Dial's reply (the
    moment to look at the shared state); the reply comes ``delay`` seconds later. ``talk``: the
    conversation's seconds — the test clock (:data:`CLOCK`) moves by what ``delay`` did not
    cover, so an in-process server measures ``talk``; in another process the adapter measures
    the ``delay``; a process-per-call AGI gets the answer moment as ``GOSUB_RETVAL``
    (``[rc-answer-time]``). ``up``: the
    seconds the caller's channel was up before the Dial (routecore's prompts), which
    Asterisk's ``ANSWEREDTIME`` counts too."""

    status: str = "ANSWER"
    answerer: str | None = None
    talk: int = 60
    up: int = 7
    subroutine: bool = True
    second: str | None = None
    result: int = 0
    on_answer: Callable[[FakeAsterisk], Any] | None = None
    delay: float = 0.0
    transfer: str | None = None  # V5: ROUTECORE_TRANSFER when the Dial returns (the portal's)


@dataclass
class Answer:
    """One answer-subroutine connection: what the server sent on it and whether it closed."""

    number: str
    lines: list[bytes] = field(default_factory=list)
    closed: bool = False


@dataclass
class Scenario:
    """The PBX side of one call. Steps count the command lines of the call's own connection
    from 0. ``hangup_at``: before answering step k Asterisk writes ``HANGUP``; the command in
    flight is then answered per ``inflight`` (``511``, ``reply-first``: its normal reply and then
    ``HANGUP``, ``hangup-first``: ``HANGUP`` then its normal reply, ``none``: never) and every
    later command
    with 511, but ``GET VARIABLE`` normally when ``dead_variables`` is ``answer``, and
    ``EXEC StopMixMonitor`` too when it is ``asterisk`` (what Asterisk 22 does: GET VARIABLE and
    EXEC are among the AGI commands it runs on a dead channel).
    ``stall_at``: step k is never answered. ``cut_at``: only the first N bytes of everything
    the fake would write are written, then its side is shut (EOF)."""

    digits: list[str] = field(default_factory=list)
    rings: list[Ring] = field(default_factory=list)
    record_ms: int = 0
    conference: str = "HANGUP"
    hangup_at: int | None = None
    inflight: str = "511"
    dead_variables: str = "511"
    stall_at: int | None = None
    cut_at: int | None = None
    on_step: Callable[[int, bytes, FakeAsterisk], Any] | None = None


# ---------------------------------------------------------------- the PBX


_DIAL = re.compile(rb"^EXEC Dial (\S+)\n$")


_ANSWER_TIME = f"U({dialplan.ANSWER_TIME_CONTEXT})"


class Clock:
    """The adapters' clock in these tests (``routecore_asterisk.dialplan.clock``): the real
    time, and once after a Dial's reply (the end of its conversation) the talk the fake did
    not wait for."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        now, self.shift = time.time() + self.shift, 0.0
        return now


CLOCK = Clock()
_U = re.compile(r"U\(rc-answered\^([^^()]+)\^(\d+)\^127\.0\.0\.1\)")
_SECRET = re.compile(r"\*[0-9a-f]{16}\^")


class FakeAsterisk:
    """One call's connection (and its answer subroutines) as Asterisk makes them."""

    def __init__(
        self,
        scenario: Scenario,
        env: bytes,
        *,
        host: str = "127.0.0.1",
        wait: float = WAIT,
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.host = host
        self.wait = wait
        self.lines: list[bytes] = []
        """Every line the server sent on the call's connection, in order."""
        self.answers: list[Answer] = []
        self.closed_by_server = False
        self.stalled_server = False
        self.dead = False
        self.written = 0
        self.cut = False
        self.unknown: list[bytes] = []
        self.hangup: Callable[[], Any] | None = None
        """A process-per-call AGI hears of a hang-up by SIGHUP, not ``HANGUP``: set this."""
        self._digits = list(scenario.digits)
        self._rings = list(scenario.rings)
        self._dial: tuple[Ring, list[str]] | None = None
        self._answer_time: str | None = None
        self._writer: Any = None
        self.variables: dict[str, str] = {}  # set on the caller's channel (SET VARIABLE, AMI)

    # -- the conversation -----------------------------------------------------------------------

    async def call(self, port: int) -> FakeAsterisk:
        """Connect to the server on ``port`` and play the call to its end."""
        reader, writer = await asyncio.open_connection(self.host, port)
        try:
            await self.play(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return self

    async def play(self, reader: Any, writer: Any) -> None:
        """The call over any reader/writer pair (a socket, a process's pipes)."""
        self._writer = writer
        await self._write(self.env)
        step = 0
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), self.wait)
            except TimeoutError:
                self.stalled_server = True
                return
            except (ConnectionError, OSError):
                self.closed_by_server = True
                return
            if not line:
                self.closed_by_server = True
                return
            self.lines.append(line)
            k, step = step, step + 1
            if self.scenario.on_step is not None:
                self.scenario.on_step(k, line, self)
            if k == self.scenario.stall_at:
                continue  # never answered: the server must give up and close
            if self.dead:
                await self._write(self._dead_reply(line))
                continue
            if k == self.scenario.hangup_at:
                await self._hang_up(line)
                continue
            await self._write(await self._reply(line))
            if line in (b"HANGUP\n",) or line.startswith(b"EXEC Hangup "):
                self.dead = True
                await self._write(b"HANGUP\n")

    async def _hang_up(self, line: bytes) -> None:
        self.dead = True
        mode = self.scenario.inflight
        if mode == "reply-first":  # Asterisk's own order: the command ends, then HANGUP
            await self._write(await self._reply(line))
            await self._notice()
        elif mode == "hangup-first":
            await self._notice()
            await self._write(await self._reply(line, answering=False))
        elif mode == "none":  # the command in flight is never answered
            await self._notice()
        else:
            await self._notice()
            await self._write(DEAD)

    async def _notice(self) -> None:
        if self.hangup is not None:
            self.hangup()
        else:
            await self._write(b"HANGUP\n")

    def _dead_reply(self, line: bytes) -> bytes:
        mode = self.scenario.dead_variables
        if line.startswith((b"GET VARIABLE ", b"GET FULL VARIABLE ")) and mode in (
            "answer",
            "asterisk",
        ):
            return self._variable(line)
        if line.startswith(b"EXEC StopMixMonitor ") and mode == "asterisk":
            return b"200 result=0\n"  # EXEC is one of the commands Asterisk runs dead
        return DEAD

    async def _write(self, data: bytes) -> None:
        if self.cut:
            return
        limit = self.scenario.cut_at
        if limit is not None and self.written + len(data) >= limit:
            data = data[: max(0, limit - self.written)]
            self.cut = True
        self.written += len(data)
        try:
            if data:
                self._writer.write(data)
            if self.cut:
                if self._writer.can_write_eof():
                    self._writer.write_eof()
                else:
                    self._writer.close()
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass

    # -- replies --------------------------------------------------------------------------------

    async def _reply(self, line: bytes, *, answering: bool = True) -> bytes:
        if line == b"ANSWER\n":
            return b"200 result=0\n"
        if line.startswith(b"STREAM FILE "):
            return b"200 result=0 endpos=8000\n"
        if line.startswith(b"GET DATA "):
            if not self._digits:
                return b"200 result= (timeout)\n"
            keys = self._digits.pop(0)[: int(line.split()[-1])]  # as Asterisk: at most max
            return f"200 result={keys}\n".encode() if keys else b"200 result= (timeout)\n"
        if line.startswith((b"GET VARIABLE ", b"GET FULL VARIABLE ")):
            return self._variable(line)
        if line.startswith(b"SET VARIABLE "):
            name, _, value = line[len(b"SET VARIABLE ") :].decode().rstrip("\n").partition(" ")
            self.variables[name] = value.strip('"')
            return b"200 result=1\n"
        if line.startswith((b"EXEC MixMonitor ", b"EXEC StopMixMonitor ")):
            return b"200 result=0\n"
        if line.startswith(b"EXEC ConfBridge "):
            return b"200 result=0\n"
        if line.startswith(b"RECORD FILE "):
            return f"200 result=0 (timeout) endpos={self.scenario.record_ms * 8}\n".encode()
        if line.startswith((b"EXEC Hangup ", b"EXEC PJSIPHangup ")) or line == b"HANGUP\n":
            return b"200 result=1\n"
        if (m := _DIAL.match(line)) is not None:
            return await self._dial_reply(m.group(1).decode(), answering=answering)
        self.unknown.append(line)
        return UNKNOWN

    async def _dial_reply(self, args: str, *, answering: bool) -> bytes:
        ring = self._rings.pop(0) if self._rings else Ring("NOANSWER")
        strings = args.split(",", 1)[0].split("&")
        self._dial = (ring, strings)
        if ring.transfer is not None:  # the portal set it while the agent talked
            self.variables["ROUTECORE_TRANSFER"] = ring.transfer
        self._answer_time = None
        if ring.status == "ANSWER" and answering and ring.subroutine and _ANSWER_TIME in args:
            self._answer_time = f"{time.time():.3f}"  # [rc-answer-time]'s Return value
        if ring.status == "ANSWER" and answering and ring.subroutine:
            u = _U.search(args)
            if u is not None:
                port = int(u.group(2))
                for number in (ring.answerer or _number(strings[0]), ring.second):
                    if number is not None:
                        self.answers.append(await self.answer(port, u.group(1), number, strings))
            if ring.on_answer is not None:
                ring.on_answer(self)
        if ring.delay:
            await asyncio.sleep(ring.delay)
        if ring.status == "ANSWER":  # the rest of the talk, without waiting for it
            CLOCK.shift = max(0.0, ring.talk - ring.delay)
        return f"200 result={ring.result}\n".encode()

    def _variable(self, line: bytes) -> bytes:
        if line.startswith(b"GET FULL VARIABLE "):  # ${A}|${B}: each substituted, as Asterisk
            names = re.findall(r"\$\{([A-Z_]+)\}", line[len(b"GET FULL VARIABLE ") :].decode())
            values = [self._value(name) for name in names]
            return f"200 result=1 ({'|'.join(v or '' for v in values)})\n".encode()
        value = self._value(line[len(b"GET VARIABLE ") :].strip().decode())
        return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()

    def _value(self, name: str) -> str | None:
        ring, strings = self._dial or (Ring("NOANSWER"), [])
        answered = ring.status == "ANSWER"
        peer = _peer(strings, ring.answerer) if answered and strings else None
        value: str | None
        if name == "DIALSTATUS":
            value = ring.status if self._dial else None
        elif name == "DIALEDPEERNUMBER":
            value = peer
        elif name in self.variables:
            value = self.variables[name] or None
        elif name == "DIALEDPEERNAME":
            value = None if peer is None else f"Local/{peer}-00000002;1"
        elif name == "ANSWEREDTIME":  # the caller channel's up time, prompts included
            value = str(ring.talk + ring.up) if answered else ""
        elif name == "ANSWEREDTIME_MS":
            value = str((ring.talk + ring.up) * 1000) if answered else ""
        elif name == "GOSUB_RETVAL":
            value = self._answer_time
        elif name == "CONFBRIDGE_RESULT":
            value = self.scenario.conference
        else:
            value = None
        return value

    # -- Dial's U() ------------------------------------------------------------------------------

    async def answer(self, port: int, call: str, number: str, strings: list[str]) -> Answer:
        """The ``[rc-answered]`` subroutine of the channel of ``number``: a FastAGI connection
        to ``port``; answers DIALEDPEERNUMBER, and a ``HANGUP`` as Asterisk does."""
        got = Answer(number)
        reader, writer = await asyncio.open_connection(self.host, port)
        peer = _peer(strings, number) or f"{number}@destinations"
        writer.write(
            environment(
                caller="4006001003",
                dnid=number,
                uniqueid=f"rcpbx-answer.{len(self.answers) + 1}",
                script=f"answered?call={call}",
                channel=f"Local/{peer}-00000001;1",
                context="rc-answered",
                extension="s",
                priority=1,
                port=port,
            )
        )
        dead = False
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), self.wait)
                except TimeoutError:
                    break
                if not line:
                    got.closed = True
                    break
                got.lines.append(line)
                if dead:
                    writer.write(DEAD)
                elif line == b"GET VARIABLE DIALEDPEERNUMBER\n":
                    writer.write(f"200 result=1 ({peer})\n".encode())
                elif line == b"HANGUP\n":
                    writer.write(b"200 result=1\nHANGUP\n")
                    dead = True
                else:
                    writer.write(UNKNOWN)
                await writer.drain()
        except (ConnectionError, OSError):
            got.closed = True
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return got

    # -- what the server sent -------------------------------------------------------------

    def commands(self) -> list[str]:
        """The lines the server sent, decoded, without their newline (a Dial's answer secret
        left out: ``U(rc-answered^<call>^<port>^<host>)``)."""
        return [_SECRET.sub("^", line.decode().rstrip("\n")) for line in self.lines]

    def dials(self) -> list[str]:
        return [c for c in self.commands() if c.startswith("EXEC Dial ")]


def _number(dial_string: str) -> str:
    """``Local/13800138001@destinations`` → ``13800138001``."""
    return dial_string.split("/", 1)[-1].split("@", 1)[0]


def _peer(strings: list[str], number: str | None) -> str | None:
    """DIALEDPEERNUMBER for ``number`` among the Dial's strings (``13800138001@destinations``)."""
    for s in strings:
        if number is None or _number(s) == number:
            return s.split("/", 1)[-1]
    return None if number is None else f"{number}@destinations"


# ---------------------------------------------------------------- the command grammar

_V = r"[A-Za-z0-9_.+*:@/\-\u4e00-\u9fff]+"  # a checked value (routecore.adapter.values)
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
GRAMMAR = [
    re.compile(p)
    for p in (
        r"ANSWER",
        r"HANGUP",
        rf'STREAM FILE {_V} ""',
        rf"GET DATA {_V} \d+ \d+",
        r"GET VARIABLE [A-Z_]+",
        r"GET FULL VARIABLE \$\{DIALSTATUS\}\|\$\{DIALEDPEERNUMBER\}\|\$\{ROUTECORE_TRANSFER\}",
        r'SET VARIABLE ROUTECORE_TRANSFER ""',
        r'SET VARIABLE CONFBRIDGE\(bridge,max_members\) "\d+"',
        rf"EXEC ConfBridge rc-\d+-{_V}",
        rf"EXEC MixMonitor {_V},b",
        r'EXEC StopMixMonitor ""',
        rf"RECORD FILE {_V} wav # \d+ BEEP s=5",
        r"EXEC Hangup \d+",
        r"EXEC PJSIPHangup 603",
        r'SET VARIABLE CALLERID\((num|name)\) "\d+"',
        rf"EXEC Dial {_V}(&{_V})*,\d+,g"
        rf"(U\(rc-answered\^{_NAME}\*[0-9a-f]{{16}}\^\d+\^127\.0\.0\.1\)|U\(rc-answer-time\))"
        rf"(A\(:{_V}\))?",
    )
]


def assert_safe(line: bytes, *injected: str) -> None:
    """``line`` is one command of the adapter's grammar, with no control character, no ``..``
    and none of the ``injected`` texts."""
    assert line.endswith(b"\n") and line.count(b"\n") == 1, line
    text = line[:-1].decode("utf-8")
    assert text.isprintable(), line
    assert any(g.fullmatch(text) for g in GRAMMAR), f"not a command of the adapter: {line!r}"
    assert ".." not in text, line
    for bad in injected:
        assert bad not in text, (bad, line)


# ---------------------------------------------------------------- the server side


@dataclass
class Served:
    server: Server
    handler: FastAgi
    port: int
    runtime: Runtime

    async def call(self, scenario: Scenario, env: bytes, **kw: Any) -> FakeAsterisk:
        """One call through the server, to its end; waits for the server's task too."""
        fake = await FakeAsterisk(scenario, env, **kw).call(self.port)
        await self.settle()
        return fake

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the server has no connection task left."""
        async with asyncio.timeout(timeout):
            while self.server.tasks:
                await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[Served]:
    """The FastAGI server of ``runtime`` on a free loopback port (and its answer port)."""
    server = Server(runtime.config, None)  # type: ignore[arg-type]
    handler = await make_handler(runtime, server)
    sock = bind("127.0.0.1", 0)
    await server.listen(sock)
    try:
        yield Served(server, handler, sock.getsockname()[1], runtime)
    finally:
        await server.shutdown()


class Errors(logging.Handler):
    """The ERROR records of routecore's loggers while installed (a call that failed with a bug,
    a connection task that raised)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def errors_logged() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger("routecore")
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# ---------------------------------------------------------------- the state and the store


def busy(runtime: Runtime) -> dict[str, int]:
    """Destinations with a claim now: number → calls on it."""
    return {d.number: d.busy for d in runtime.state.destinations_now() if d.busy}


def records(runtime: Runtime, call_id: str | None = None) -> list[dict[str, Any]]:
    rows = runtime.calls.calls()
    return [r for r in rows if call_id is None or r["call_id"] == call_id]


def run(coro: Any, timeout: float = 30.0) -> Any:
    """Run one test's coroutine on a fresh event loop, bounded."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def check_call(fake: FakeAsterisk, *injected: str) -> None:
    """What every call must show: the server closed the socket itself (the PBX never does),
    never stalled, sent only commands of the adapter's grammar, and closed each answer
    connection."""
    assert fake.closed_by_server, fake.commands()
    assert not fake.stalled_server, fake.commands()
    assert not fake.unknown, fake.unknown
    for line in fake.lines:
        assert_safe(line, *injected)
    for answer in fake.answers:
        assert answer.closed, answer
        for line in answer.lines:
            assert_safe(line, *injected)
