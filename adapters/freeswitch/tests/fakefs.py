"""A fake FreeSWITCH for the adapter's tests: it connects to the server as FreeSWITCH's
``socket`` application does and speaks the bytes of the real 1.10 transcript.

Every frame it sends is built from a frame of the transcript (the connect reply, and the
CHANNEL_EXECUTE, CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER, CHANNEL_BRIDGE, CHANNEL_UNBRIDGE,
CHANNEL_EXECUTE_COMPLETE, CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE events and the disconnect
notice) with the call's own values swapped in: its uuid, caller and numbers, the application
that runs, the answering leg, and the channel variables the call has set so far (``set`` and
the applications' results stay on the channel, as on a real one, stale values included).

A :class:`Script` says how the caller and the targets behave: the keys pressed, what each
``bridge`` does, the message length, whether a conference admits the caller, and at which
application the caller hangs up, the socket closes, FreeSWITCH stalls or sends broken bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from routecore_freeswitch.server import EVENTS_DROPPED

TEMPLATE_UUID = "71cef200-1bf0-46fb-b827-38adb8fe5e15"
TEMPLATE_LEG = "f715f6b5-0a94-467d-a138-9c129a938414"
LIMIT = 10.0
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
ERR = b"Content-Type: command/reply\nReply-Text: -ERR no such channel\n\n"
API_OK = b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
NIXEVENT = f"nixevent {EVENTS_DROPPED}\n\n".encode()
"""What the server sends after ``myevents``: the events it never reads, dropped."""
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI).timestamp()
"""Office hours (a call's start the tests pin)."""
SUNDAY_22 = datetime(2026, 11, 29, 22, 0, tzinfo=SHANGHAI).timestamp()

Headers = list[tuple[str, str]]  # raw (URL-encoded) values, in order

# Channel variables the fake owns: stripped from the templates, set from the call's own state.
_OWNED = (
    "originate_disposition", "DIALSTATUS", "last_bridge_to", "bridge_channel", "bridge_uuid",
    "signal_bond", "originated_legs", "originate_causes", "bridge_hangup_cause",
    "last_bridge_hangup_cause", "routecore_service", "routecore_outbound", "current_application",
    "current_application_data", "hangup_cause", "hangup_cause_q850", "billsec",
)  # fmt: skip


def encode(value: str) -> str:
    """A header value URL-encoded as FreeSWITCH sends it."""
    return quote(value, safe="/,-_.")


def _parse_block(data: bytes) -> Headers:
    return [
        (name, value)
        for name, _, value in (line.partition(": ") for line in data.decode().split("\n") if line)
    ]


def _serialise(headers: Headers) -> bytes:
    return "".join(f"{name}: {value}\n" for name, value in headers).encode()


@dataclass
class Templates:
    """The transcript's frames, by kind."""

    connect: Headers
    events: dict[str, Headers]
    socket_complete: Headers  # the socket application's own CHANNEL_EXECUTE_COMPLETE
    notice: bytes

    @classmethod
    def load(cls, transcript: Iterable[tuple[str, bytes]]) -> Templates:
        chunks = [data for direction, data in transcript if direction == "<<"]
        connect = _parse_block(chunks[0].rstrip(b"\n"))
        events: dict[str, Headers] = {}
        socket_complete: Headers = []
        notice = b""
        for chunk in chunks[1:]:
            head, _, body = chunk.partition(b"\n\n")
            if b"text/disconnect-notice" in head:
                notice = chunk
                continue
            if b"text/event-plain" not in head:
                continue
            headers = _parse_block(body.rstrip(b"\n"))
            name = dict(headers)["Event-Name"]
            if name == "CHANNEL_EXECUTE_COMPLETE" and dict(headers).get("Application") == "socket":
                socket_complete = headers
            else:
                events.setdefault(name, headers)
        return cls(connect, events, socket_complete, notice)


@dataclass
class Bridge:
    """What one ``bridge`` does: ``status`` as FreeSWITCH reports it, ``answer`` the leg that
    answers (its index in the bridge) with ``talk`` seconds of conversation; ``second`` another
    leg index that also reports a CHANNEL_BRIDGE (a race); ``transfer`` the number a seat's
    workspace set as ``routecore_transfer`` (``uuid_setvar``) before ending the agent's leg."""

    status: str = "SUCCESS"
    answer: int | None = 0
    talk: int = 3
    second: int | None = None
    transfer: str | None = None


BUSY = Bridge("USER_BUSY", answer=None)
NO_ANSWER = Bridge("NO_ANSWER", answer=None)
REFUSED = Bridge("SUBSCRIBER_ABSENT", answer=None)


@dataclass
class Script:
    """How the call goes (see the module). ``keys``: one entry per key collection (a caller
    who has no keys left hangs up there); ``bridges``: one per ``bridge`` (none left: no
    answer). ``hangup_at`` / ``close_at`` / ``stall_at`` / ``corrupt_at``: the index of the
    executed application where the caller hangs up, the socket closes, FreeSWITCH stops
    answering, or ``corruption`` is sent instead of the application's events. ``budget``: the
    bytes FreeSWITCH sends before closing the socket. ``on_bridge`` runs at each
    CHANNEL_BRIDGE (with the answering number), before the conversation ends."""

    keys: list[str] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    record_seconds: int = 7
    conference_joins: bool = True
    hangup_at: int | None = None
    close_at: int | None = None
    stall_at: int | None = None
    corrupt_at: int | None = None
    corruption: bytes = b""
    budget: int | None = None
    on_bridge: Callable[[str], Awaitable[None]] | None = None


class _Stop(Exception):
    """The fake stops talking (closed, stalled, out of budget)."""


@dataclass
class Executed:
    """One application the server ran: its name, argument and the sendmsg's header lines."""

    app: str
    arg: str
    lines: list[str]


class FakeFreeSwitch:
    """One call from FreeSWITCH's side (see the module)."""

    def __init__(
        self,
        templates: Templates,
        script: Script | None = None,
        *,
        caller: str = "13800138000",
        destination: str = "4006001003",
        service: str | None = "same",
        outbound: bool = False,
    ) -> None:
        self.t = templates
        self.script = script or Script()
        self.uuid = str(uuid.uuid4())
        self.caller = caller
        self.destination = destination
        self.vars: dict[str, str] = {}
        if service is not None:
            self.vars["routecore_service"] = destination if service == "same" else service
        if outbound:
            self.vars["routecore_outbound"] = "true"
        self.keys = deque(self.script.keys)
        self.bridges = deque(self.script.bridges)
        self.other: dict[str, str] | None = None  # the bridged leg: number, uuid, channel
        self.received: list[bytes] = []  # every command the server sent, as bytes
        self.executed: list[Executed] = []
        self.api: list[str] = []
        self.sent = 0  # bytes written
        self.setup_bytes = 0  # bytes of the connect, myevents and linger replies
        self.step = 0
        self.clock = 1796174498145970
        self.sequence = 456
        self.answered = False
        self.gone = False  # the channel has hung up
        self.notice_sent = False
        self.closed_by_server = False
        self.budget = self.script.budget

    # -- frames -------------------------------------------------------------------------------

    def _swap(self, headers: Headers, extra: dict[str, str | None]) -> Headers:
        owned = {f"variable_{name}" for name in (*_OWNED, *self.vars)}
        changes = {
            "Unique-ID": self.uuid,
            "Caller-Unique-ID": self.uuid,
            "Channel-Call-UUID": self.uuid,
            "variable_uuid": self.uuid,
            "variable_call_uuid": self.uuid,
            "Caller-Caller-ID-Number": self.caller,
            "Caller-Caller-ID-Name": self.caller,
            "Caller-Orig-Caller-ID-Number": self.caller,
            "Caller-ANI": self.caller,
            "Caller-Username": self.caller,
            "Caller-Destination-Number": self.destination,
            "Channel-Caller-ID-Number": self.caller,
            "Channel-Destination-Number": self.destination,
        }
        out: Headers = []
        for name, value in headers:
            if name in owned or name.startswith("variable_rc_digits"):
                continue
            if name.startswith(("Other-", "Bridge-")) and name not in extra:
                if self.other is None or name.startswith("Bridge-"):
                    continue
                value = self._other(name, value)
            elif name in changes:
                value = encode(changes[name])
            elif name in extra:
                new = extra.pop(name)
                if new is None:
                    continue
                value = encode(new)
            out.append((name, value))
        at = next(
            (i for i, (name, _) in enumerate(out) if name in ("Application", "Content-Type")),
            len(out),
        )
        variables = [(f"variable_{name}", encode(value)) for name, value in self.vars.items()]
        out[at:at] = variables
        out.extend((name, encode(value)) for name, value in extra.items() if value is not None)
        return out

    def _other(self, name: str, value: str) -> str:
        assert self.other is not None
        table = {
            "Other-Leg-Destination-Number": self.other["number"],
            "Other-Leg-Unique-ID": self.other["uuid"],
            "Other-Leg-Channel-Name": self.other["channel"],
        }
        return encode(table[name]) if name in table else value

    def event(self, name: str, **extra: str | None) -> bytes:
        """An event frame built from the transcript's event ``name`` (headers given as
        ``Application_Data="…"`` for ``Application-Data``; None removes a header)."""
        template = self.t.events[name]
        self.clock += 20_000
        self.sequence += 1
        changes: dict[str, str | None] = {k.replace("_", "-"): v for k, v in extra.items()}
        changes["Event-Date-Timestamp"] = str(self.clock)
        changes["Event-Sequence"] = str(self.sequence)
        return self._frame(self._swap(template, changes))

    @staticmethod
    def _frame(headers: Headers) -> bytes:
        body = _serialise(headers) + b"\n"
        return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body

    def connect_reply(self) -> bytes:
        return _serialise(self._swap(self.t.connect, {})) + b"\n"

    def notice(self) -> bytes:
        return self.t.notice.replace(TEMPLATE_UUID.encode(), self.uuid.encode())

    # -- the conversation ---------------------------------------------------------------------

    async def run(self, port: int) -> FakeFreeSwitch:
        """Call the server on ``port`` and play the call until the server closes the socket."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self._reader, self._writer = reader, writer
        try:
            await asyncio.wait_for(self._talk(), LIMIT)
        except (_Stop, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return self

    async def _command(self) -> bytes | None:
        try:
            data = await self._reader.readuntil(b"\n\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by_server = True
            return None
        self.received.append(data)
        return data

    async def send(self, data: bytes) -> None:
        if self.budget is not None:
            data = data[: self.budget]
            self.budget -= len(data)
        self.sent += len(data)
        self._writer.write(data)
        await self._writer.drain()
        if self.budget == 0:
            raise _Stop

    async def _until_closed(self) -> None:
        with contextlib.suppress(Exception):
            while await self._reader.read(65536):
                pass
        self.closed_by_server = True
        raise _Stop

    async def _talk(self) -> None:
        for expected, reply in (
            (b"connect\n\n", self.connect_reply()),
            (b"myevents\n\n", b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"),
            (NIXEVENT, b"Content-Type: command/reply\nReply-Text: +OK events nixed\n\n"),
            (b"linger\n\n", b"Content-Type: command/reply\nReply-Text: +OK will linger\n\n"),
        ):
            command = await self._command()
            if command is None:
                return
            assert command == expected, command
            await self.send(reply)
        self.setup_bytes = self.sent
        while (command := await self._command()) is not None:
            if command.startswith(b"api "):
                self.api.append(command.decode().strip())
                await self.send(API_OK)
            elif command.startswith(b"sendmsg\n"):
                await self._sendmsg(command)
            else:
                await self.send(
                    b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
                )

    async def _sendmsg(self, command: bytes) -> None:
        lines = command.decode().rstrip("\n").split("\n")[1:]
        fields = dict(line.split(": ", 1) for line in lines)
        if fields.get("call-command") != "execute" or self.gone:
            await self.send(ERR if self.gone else OK)
            return
        app, arg = fields["execute-app-name"], fields.get("execute-app-arg", "")
        self.executed.append(Executed(app, arg, lines))
        script, step = self.script, self.step
        self.step += 1
        if step == script.close_at:
            raise _Stop
        if step == script.stall_at:
            await self._until_closed()
        await self.send(OK)
        if step == script.corrupt_at:
            await self.send(script.corruption)
            await self._until_closed()
        app_uuid = fields.get("Event-UUID", "")
        await self.send(
            self.event(
                "CHANNEL_EXECUTE", Application=app, Application_Data=arg, Application_UUID=app_uuid
            )
        )
        hang = step == script.hangup_at
        handler = getattr(self, "_app_" + app, None)
        response = "_none_"
        if handler is not None:
            response = await handler(arg, hang) or response
        if (hang or app == "hangup") and not self.gone:
            await self._hang_up(arg if app == "hangup" else "NORMAL_CLEARING")
        await self.send(
            self.event(
                "CHANNEL_EXECUTE_COMPLETE",
                Application=app,
                Application_Data=arg,
                Application_Response=response,
                Application_UUID=app_uuid,
            )
        )
        if self.gone and not self.notice_sent:
            await self._finish()

    async def _hang_up(self, cause: str) -> None:
        self.gone = True
        self.vars["hangup_cause"] = cause
        await self.send(self.event("CHANNEL_HANGUP", Hangup_Cause=cause, Answer_State="hangup"))

    async def _finish(self) -> None:
        self.notice_sent = True
        self.sequence += 1
        socket_done = self._frame(
            self._swap(self.t.socket_complete, {"Event-Sequence": str(self.sequence)})
        )
        await self.send(socket_done)
        await self.send(self.event("CHANNEL_HANGUP_COMPLETE"))
        await self.send(self.notice())

    # -- applications -------------------------------------------------------------------------

    async def _app_answer(self, arg: str, hang: bool) -> None:
        if not self.answered:
            self.answered = True
            await self.send(self.event("CHANNEL_ANSWER"))

    async def _app_set(self, arg: str, hang: bool) -> None:
        name, _, value = arg.partition("=")
        self.vars[name] = value

    async def _app_unset(self, arg: str, hang: bool) -> None:
        self.vars.pop(arg, None)

    async def _app_multiset(self, arg: str, hang: bool) -> None:
        for word in arg.split(" "):
            await self._app_set(word, hang)

    async def _app_multiunset(self, arg: str, hang: bool) -> None:
        for word in arg.split(" "):
            await self._app_unset(word, hang)

    async def _app_playback(self, arg: str, hang: bool) -> str:
        return "FILE PLAYED"

    async def _app_play_and_get_digits(self, arg: str, hang: bool) -> None:
        variable = arg.split(" ")[7]
        if not self.keys:  # the caller has nothing more to key: hangs up
            await self._hang_up("NORMAL_CLEARING")
            return
        key = self.keys.popleft()
        if key and not hang:
            self.vars[variable] = key

    async def _app_record(self, arg: str, hang: bool) -> None:
        self.vars["record_seconds"] = str(self.script.record_seconds)

    async def _app_stop_record_session(self, arg: str, hang: bool) -> None:
        self.vars["record_seconds"] = "3"  # what a session recording leaves on the channel

    async def _app_conference(self, arg: str, hang: bool) -> None:
        if self.script.conference_joins:
            self.vars["conference_member_id"] = "1"

    async def _app_bridge(self, arg: str, hang: bool) -> None:
        legs = [
            (dict(v.split("=", 1) for v in wrapper.split(",")), string)
            for wrapper, string in re.findall(r"\[([^\]]*)\]([^,\[]+)", arg)
        ]
        assert legs, arg
        plan = self.bridges.popleft() if self.bridges else NO_ANSWER
        self.vars["originate_disposition"] = "failure"
        self.vars["DIALSTATUS"] = "INVALIDARGS"
        await self.send(self.event("CHANNEL_PROGRESS_MEDIA"))
        if plan.answer is None or plan.answer >= len(legs):
            if hang:
                await self._hang_up("ORIGINATOR_CANCEL")
                plan = Bridge("ORIGINATOR_CANCEL", answer=None)
            self.vars["originate_disposition"] = plan.status
            self.vars["DIALSTATUS"] = plan.status
            return
        for index in (plan.answer, plan.second):
            if index is None:
                continue
            variables, string = legs[index]
            number = re.search(r"/(\d+)", string)
            assert number is not None, string
            self.other = {
                "number": number.group(1),
                "uuid": variables["origination_uuid"],
                "channel": f"loopback/{number.group(1)}-a",
            }
            if not self.answered:
                self.answered = True
                await self.send(self.event("CHANNEL_ANSWER"))
            await self.send(
                self.event(
                    "CHANNEL_BRIDGE",
                    Bridge_A_Unique_ID=self.uuid,
                    Bridge_B_Unique_ID=variables["origination_uuid"],
                    Caller_Channel_Bridged_Time=str(self.clock),
                )
            )
            if self.script.on_bridge is not None:
                await self.script.on_bridge(number.group(1))
        assert self.other is not None
        self.clock += plan.talk * 1_000_000
        if hang:
            await self._hang_up("NORMAL_CLEARING")
        if plan.transfer is not None:
            self.vars["routecore_transfer"] = plan.transfer
        self.vars.update(
            originate_disposition="SUCCESS",
            DIALSTATUS="SUCCESS",
            last_bridge_to=self.other["uuid"],
            bridge_channel=self.other["channel"],
            bridge_uuid=self.other["uuid"],
            bridge_hangup_cause="NORMAL_CLEARING",
        )
        await self.send(self.event("CHANNEL_UNBRIDGE"))


# -- the server under test ----------------------------------------------------------------------


@dataclass
class Serving:
    """A running ESL server: the shared server, its port and the FreeSWITCH handler."""

    server: Any
    port: int
    handler: Any


async def _no_handler(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    raise RuntimeError("no handler")  # replaced before listening


@contextlib.asynccontextmanager
async def serving(
    runtime: Any, *, clock: float | None = None, observer: Any = None
) -> AsyncIterator[Serving]:
    """The adapter's server on 127.0.0.1 (a port the system picks), as ``serve`` runs it."""
    from routecore.adapter.server import Server, bind
    from routecore_freeswitch.server import make_handler

    server = Server(runtime.config, _no_handler)
    server.observer = observer
    handler = await make_handler(runtime, server)
    if clock is not None:
        handler.clock = lambda: clock
    server.handler = handler
    sock = bind("127.0.0.1", 0)
    await server.listen(sock)
    try:
        yield Serving(server, sock.getsockname()[1], handler)
    finally:
        await server.shutdown()
        sock.close()


async def idle(server: Any) -> None:
    """Until the server has no connection left (every call's handler has returned)."""
    async with asyncio.timeout(LIMIT):
        while server.tasks:
            await asyncio.sleep(0.002)


async def play(runtime: Any, *fakes: FakeFreeSwitch, **options: Any) -> list[FakeFreeSwitch]:
    """Run ``fakes`` at once against one server; return them when every call has ended."""
    async with serving(runtime, **options) as s:
        await asyncio.gather(*(fake.run(s.port) for fake in fakes))
        await idle(s.server)
    return list(fakes)


def run(runtime: Any, *fakes: FakeFreeSwitch, **options: Any) -> list[FakeFreeSwitch]:
    return asyncio.run(play(runtime, *fakes, **options))


def records(runtime: Any, fake: FakeFreeSwitch) -> list[dict[str, Any]]:
    """The call store's records of ``fake``'s call."""
    return [row for row in runtime.calls.calls() if row["call_id"] == fake.uuid]


def busy(runtime: Any) -> dict[str, int]:
    """The destinations with a call now, and how many."""
    return {d.number: d.busy for d in runtime.state.destinations_now() if d.busy}
