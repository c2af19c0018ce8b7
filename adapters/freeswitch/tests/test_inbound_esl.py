"""The inbound event socket client (``routecore_freeswitch.inbound``) over real loopback sockets.

The fake FreeSWITCH speaks the bytes a real FreeSWITCH 1.10.12 sent (``adapters/transcripts/
freeswitch-1.10-esl-inbound.log``), chunk by chunk as they arrived: whole captured conversations
replayed command by command (what the client sends must equal what was sent to the real one),
or captured frames arranged by a test (a hang-up inside a listing, a connection cut mid-frame).
Written by hand, and said so where they are: the ACL's ``text/rude-rejection`` (the harness
only listens on loopback, which its ACL allows) and malformed or oversized input. With
``ROUTECORE_PBX_TESTS=1`` the last tests talk to the harness FreeSWITCH itself.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import re
import socket
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue
from routecore_freeswitch.codec import MAX_BODY, MAX_LINE, FrameReader
from routecore_freeswitch.inbound import (
    MAX_API_BODY,
    ApiFailed,
    InboundEsl,
    LoginRefused,
    connect_inbound,
)

TRANSCRIPT = Path(__file__).resolve().parents[2] / "transcripts" / "freeswitch-1.10-esl-inbound.log"
LIMIT = 5.0  # no wait in these tests is longer: nothing can hang


def _load() -> dict[str, list[tuple[str, bytes]]]:
    conversations: dict[str, list[tuple[str, bytes]]] = {}
    for line in TRANSCRIPT.read_text(encoding="ascii").splitlines():
        _time, conn, direction, rest = line.split(" ", 3)
        if direction in ("<<", ">>"):
            conversations.setdefault(conn, []).append((direction, ast.literal_eval(rest)))
    return conversations


CONVERSATIONS = _load()


def turns(conn: str) -> list[tuple[bytes, list[bytes]]]:
    """``(command sent, the chunks FreeSWITCH sent after it until the next command)``; the
    first turn's command is ``b""`` (the ``auth/request`` comes unasked)."""
    out: list[tuple[bytes, list[bytes]]] = [(b"", [])]
    for direction, data in CONVERSATIONS[conn]:
        if direction == ">>":
            out.append((data, []))
        else:
            out[-1][1].append(data)
    return out


def sent(conn: str) -> list[bytes]:
    """Every command sent to the real FreeSWITCH on ``conn``, in order."""
    return [data for direction, data in CONVERSATIONS[conn] if direction == ">>"]


def answer(conn: str, index: int) -> bytes:
    """All FreeSWITCH sent after the ``index``-th command of ``conn``."""
    return b"".join(turns(conn)[index + 1][1])


def frames(data: bytes) -> list[bytes]:
    """``data`` cut into whole frames (a plain reading, independent of the code under test)."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\n\n", pos) + 2
        length = re.search(rb"Content-Length: (\d+)\n", data[pos:end])
        size = int(length[1]) if length else 0
        out.append(data[pos : end + size])
        pos = end + size
    return out


def hangup_uuids(data: bytes) -> list[str]:
    """The Unique-ID of every CHANNEL_HANGUP_COMPLETE in ``data``, in order."""
    return [
        re.search(rb"\nUnique-ID: ([^\n]*)\n", frame)[1].decode()  # type: ignore[index]
        for frame in frames(data)
        if b"\n\nEvent-Name: CHANNEL_HANGUP_COMPLETE\n" in frame
    ]


def api_response(body: bytes) -> bytes:
    """An ``api/response`` frame as FreeSWITCH frames one (see the transcript)."""
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def event_frame(body: bytes) -> bytes:
    """A ``text/event-plain`` frame of ``body``, framed as FreeSWITCH frames events."""
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def all_bytes(conn: str) -> bytes:
    return b"".join(data for direction, data in CONVERSATIONS[conn] if direction == "<<")


C2 = sent("c2")
GREETING = answer("c2", -1)
AUTH_OK = answer("c2", 0)
AUTH_REFUSED = answer("c1", 0)
EVENTS_OK = answer("c2", 1)
CHANNELS_NONE = answer("c2", 2)
CHANNELS_TWO = answer("c2", 5)
EXIT = answer("c2", len(C2) - 1)
HANGUP_FRAMES = [f for f in frames(all_bytes("c2")) if b"CHANNEL_HANGUP_COMPLETE" in f]
TWO_ROWS = json.loads(frames(CHANNELS_TWO)[0].partition(b"\n\n")[2])["rows"]


# ---------------------------------------------------------------- the fake FreeSWITCH


class Peer:
    """The fake FreeSWITCH's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self) -> bytes | None:
        """The next command the client sent, or None once it closed."""
        try:
            data = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), LIMIT)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.received.append(data)
        return data

    async def answer(self, data: bytes) -> bytes | None:
        """Read the next command and send ``data``."""
        got = await self.command()
        if got is not None:
            await self.send(data)
        return got

    async def login(self) -> None:
        """The real greeting and answers to ``auth`` and ``event plain``."""
        await self.send(GREETING)
        await self.answer(AUTH_OK)
        await self.answer(EVENTS_OK)

    async def finish(self) -> None:
        """Answer the client's ``exit`` (if it sends one) as the real FreeSWITCH did."""
        await self.answer(EXIT)

    async def silent(self) -> None:
        """Read and never answer, until the client closes."""
        while await self.command() is not None:
            pass


Script = Callable[[Peer], Awaitable[Any]]


def run(script: Script, client: Callable[[int], Awaitable[Any]]) -> tuple[Any, Any]:
    """Serve one connection with ``script`` on 127.0.0.1 while ``client(port)`` runs; return
    both results. An exception of the script is raised here."""

    async def main() -> tuple[Any, Any]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = Peer(reader, writer)
            try:
                result: Any = await script(peer)
            except Exception as exc:
                result = exc
            finally:
                writer.close()
            if not done.done():
                done.set_result(result)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            outcome = await asyncio.wait_for(client(port), LIMIT)
            pbx = await asyncio.wait_for(done, LIMIT)
        finally:
            server.close()
            await server.wait_closed()
        if isinstance(pbx, Exception):
            raise pbx
        return outcome, pbx

    return asyncio.run(main())


def replay(conn: str) -> Script:
    """A fake FreeSWITCH playing captured connection ``conn``: each command the client sends
    must be the next captured one, byte for byte; the chunks FreeSWITCH sent after it follow,
    as they arrived. Chunks that came after the reply (events) are held until the client's
    next command, as they were sent before its answer: so a test sees them in a fixed order.
    Returns the commands received."""

    async def script(peer: Peer) -> list[bytes]:
        steps = turns(conn)
        for chunk in steps[0][1]:  # the auth/request
            await peer.send(chunk)
        held: list[bytes] = []
        for expected, chunks in steps[1:]:
            got = await peer.command()
            if got is None:
                break
            assert got == expected
            for chunk in held:
                await peer.send(chunk)
            held = []
            replied = False
            for chunk in chunks:
                if replied:
                    held.append(chunk)
                    continue
                await peer.send(chunk)
                replied = b"Content-Type: api/response" in chunk or b"/reply\n" in chunk
        for chunk in held:
            await peer.send(chunk)
        return peer.received

    return script


async def connect(port: int, **kw: Any) -> InboundEsl:
    return await connect_inbound("127.0.0.1", port, "ClueCon", **kw)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------- whole captured sessions


def test_a_real_session_is_replayed_byte_for_byte() -> None:
    """c2: auth, subscription, listings empty, lagging, two legs and four legs, a busy
    originate, errors, a transfer, a kill, and the hang-ups of every leg."""

    async def client(port: int) -> Any:
        seen: dict[str, Any] = {}
        async with await connect(port) as esl:
            seen["none"] = await esl.live_calls()
            first = await esl.api("originate loopback/4006001000/destinations &park()")
            seen["first"] = first.split()[1]
            seen["lag"] = await esl.live_calls()
            seen["two"] = await esl.live_calls()
            with pytest.raises(ApiFailed, match="api originate: -ERR USER_BUSY$") as busy:
                await esl.api("originate loopback/4006001005/destinations &park()")
            seen["busy"] = busy.value.reply
            seen["no such"] = await esl.uuid_kill("00000000-0000-0000-0000-000000000000")
            with pytest.raises(ApiFailed, match="-ERR nosuchcommand Command not found!"):
                await esl.api("nosuchcommand")
            second = await esl.api("originate loopback/4006001010/destinations &park()")
            seen["second"] = second.split()[1]
            await esl.uuid_transfer(seen["second"], "13800138001", context="destinations")
            seen["killed"] = await esl.uuid_kill(seen["first"])
            seen["after kill"] = await esl.live_calls()
            seen["end"] = await esl.live_calls()
        seen["hangups"] = []
        while True:
            try:
                seen["hangups"].append(await esl.next_hangup(LIMIT))
            except ChannelGone:
                break
        return seen

    seen, received = run(replay("c2"), client)
    assert received == C2  # every byte
    first, second = seen["first"], seen["second"]
    legs = {row["uuid"]: row["name"] for row in TWO_ROWS}
    assert seen["none"] == set()
    assert seen["lag"] == set()  # the core database had no row for it yet
    assert seen["two"] == set(legs) and first in legs
    assert seen["busy"] == "-ERR USER_BUSY\n"
    assert seen["no such"] is False
    assert seen["killed"] is True
    # FreeSWITCH still listed the killed call's legs: their hang-ups had arrived, so left out
    listed = json.loads(frames(answer("c2", 12))[0].partition(b"\n\n")[2])
    assert listed["row_count"] == 4 and set(legs) <= {row["uuid"] for row in listed["rows"]}
    assert second in seen["after kill"] and len(seen["after kill"]) == 2
    assert not seen["after kill"] & set(legs)
    assert seen["end"] == set()
    assert seen["hangups"] == hangup_uuids(all_bytes("c2"))
    assert len(seen["hangups"]) == 6 and set(legs) | {second} <= set(seen["hangups"])


def test_a_refused_password_is_one_clear_error() -> None:
    async def client(port: int) -> str:
        with pytest.raises(LoginRefused) as refused:
            await connect_inbound("127.0.0.1", port, "wrong")
        return str(refused.value)

    message, received = run(replay("c1"), client)
    assert received == sent("c1")
    assert message.startswith("FreeSWITCH event socket at 127.0.0.1:")
    assert message.endswith(" refused the password: -ERR invalid")
    assert "\n" not in message


# ---------------------------------------------------------------- connecting


def test_a_peer_that_is_not_an_event_socket_is_refused() -> None:
    async def asterisk(peer: Peer) -> None:
        await peer.send(b"Asterisk Call Manager/11.0.0\r\n")
        await peer.silent()

    async def client(port: int) -> None:
        with pytest.raises(ProtocolError, match="no event socket greeting: malformed header"):
            await connect(port)

    run(asterisk, client)

    async def other(peer: Peer) -> None:
        await peer.send(frames(AUTH_OK)[0])  # a frame, but not the auth/request
        await peer.silent()

    async def client2(port: int) -> None:
        with pytest.raises(ProtocolError, match="is not a FreeSWITCH event socket: it sent 'co"):
            await connect(port)

    run(other, client2)


def test_an_acl_rejection_is_a_refusal() -> None:
    """Hand-written: FreeSWITCH's answer to an address its ACL refuses (not capturable here)."""

    async def rude(peer: Peer) -> None:
        body = b"Access Denied, go away.\n"
        await peer.send(b"Content-Type: text/rude-rejection\nContent-Length: 24\n\n" + body)

    async def client(port: int) -> None:
        with pytest.raises(LoginRefused, match="refused the connection: Access Denied, go away"):
            await connect(port)

    run(rude, client)


def test_an_unreachable_port_fails_at_once() -> None:
    port = free_port()

    async def main() -> float:
        start = time.monotonic()
        with pytest.raises(ProtocolError, match=f"cannot connect to the .*:{port}: "):
            await connect_inbound("127.0.0.1", port, "ClueCon")
        return time.monotonic() - start

    assert asyncio.run(main()) < 1.0


@pytest.mark.parametrize("stage", ["greeting", "auth", "event"])
def test_a_silent_freeswitch_times_out(stage: str) -> None:
    async def silent(peer: Peer) -> None:
        if stage != "greeting":
            await peer.send(GREETING)
        if stage == "event":
            await peer.answer(AUTH_OK)
        await peer.silent()

    async def client(port: int) -> float:
        start = time.monotonic()
        with pytest.raises(ProtocolError, match=r"no login within 0.3 s"):
            await connect(port, timeout=0.3)
        return time.monotonic() - start

    elapsed, _ = run(silent, client)
    assert elapsed < 1.5


def test_a_connection_closed_during_the_login_is_a_protocol_error() -> None:
    async def closing(peer: Peer) -> None:
        await peer.send(GREETING)
        await peer.command()

    async def client(port: int) -> None:
        with pytest.raises(ProtocolError, match="ended during the login"):
            await connect(port)

    run(closing, client)


def test_a_refused_subscription_is_an_error() -> None:
    """Hand-written: a FreeSWITCH refusing ``event plain`` (the real one accepts it)."""

    async def script(peer: Peer) -> None:
        await peer.send(GREETING)
        await peer.answer(AUTH_OK)
        await peer.answer(b"Content-Type: command/reply\nReply-Text: -ERR no keywords supplied\n\n")
        await peer.silent()

    async def client(port: int) -> None:
        with pytest.raises(ProtocolError, match="refused the events: -ERR no keywords"):
            await connect(port)

    run(script, client)


# ---------------------------------------------------------------- listings and hang-ups


def test_a_hangup_during_the_listing_is_left_out_and_still_heard() -> None:
    a_leg, b_leg = (row["uuid"] for row in TWO_ROWS)
    b_hangup = next(f for f in HANGUP_FRAMES if f"\nUnique-ID: {b_leg}\n".encode() in f)

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(b_hangup + CHANNELS_TWO)  # ended between the command and its answer
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            return await esl.live_calls(), await esl.next_hangup(LIMIT)

    (live, ended), _ = run(script, client)
    assert live == {a_leg}
    assert ended == b_leg


def test_next_hangup_returns_none_after_its_timeout() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.finish()

    async def client(port: int) -> float:
        async with await connect(port) as esl:
            start = time.monotonic()
            assert await esl.next_hangup(0.1) is None
            assert await esl.next_hangup(0) is None
            return time.monotonic() - start

    elapsed, _ = run(script, client)
    assert 0.09 < elapsed < 1.0


@pytest.mark.parametrize("cut", ["mid-frame", "between frames", "disconnect notice"])
def test_the_connection_dropping_mid_listing_fails_fast(cut: str) -> None:
    notice = frames(EXIT)[1]
    data = {
        "mid-frame": CHANNELS_TWO[:100],
        "between frames": HANGUP_FRAMES[0],
        "disconnect notice": HANGUP_FRAMES[0] + notice,
    }[cut]

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(data)

    async def client(port: int) -> Any:
        esl = await connect(port)
        start = time.monotonic()
        with pytest.raises((ChannelGone, ProtocolError)) as lost:
            await esl.live_calls()
        elapsed = time.monotonic() - start
        heard = [] if cut == "mid-frame" else [await esl.next_hangup(LIMIT)]
        with pytest.raises(type(lost.value)):
            await esl.next_hangup(LIMIT)
        with pytest.raises(type(lost.value)):
            await esl.api("status")
        assert esl.closed
        await esl.close()
        return lost.value, elapsed, heard

    (error, elapsed, heard), _ = run(script, client)
    assert elapsed < 1.0
    if cut == "mid-frame":
        assert isinstance(error, ProtocolError) and "middle of a frame" in str(error)
    elif cut == "between frames":
        assert isinstance(error, ChannelGone) and "closed the event socket" in str(error)
    else:
        assert isinstance(error, ChannelGone)
        assert "ended the session: Disconnected, goodbye." in str(error)
    if heard:
        assert heard == hangup_uuids(HANGUP_FRAMES[0])


def test_a_stalled_listing_times_out_and_its_late_answer_is_dropped() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.command()  # the listing: answered late
        await peer.command()  # the next command
        await peer.send(CHANNELS_TWO + api_response(b"+OK\n"))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            esl.list_timeout = 0.2
            with pytest.raises(ProtocolError, match="no answer to api show within 0.2 s"):
                await esl.live_calls()
            return await esl.api("uuid_transfer 1 2")

    reply, _ = run(script, client)
    assert reply == "+OK\n"


# Hand-written bodies: what FreeSWITCH would not send, and the client must refuse.
MALFORMED = [
    b"not json\n",
    b'{"rows": []}\n',
    b'{"row_count": "1", "rows": []}\n',
    b'{"row_count": 1, "rows": {}}\n',
    b'{"row_count": 1, "rows": [{"name": "x"}]}\n',
    b'{"row_count": 1, "rows": [{"uuid": 5}]}\n',
    b'{"row_count": 1, "rows": [7]}\n',
    b"[1]\n",
    b"[" * 100_000 + b"]" * 100_000,
]


def test_a_listing_that_is_not_the_expected_json_is_refused_and_the_session_goes_on() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        for body in MALFORMED:
            await peer.answer(api_response(body))
        await peer.answer(CHANNELS_NONE)
        await peer.finish()

    async def client(port: int) -> Any:
        refused = []
        async with await connect(port) as esl:
            for _ in MALFORMED:
                with pytest.raises(ProtocolError, match="show channels") as error:
                    await esl.live_calls()
                refused.append(str(error.value))
            return refused, await esl.live_calls()

    (refused, live), _ = run(script, client)
    assert len(refused) == len(MALFORMED)
    assert live == set()


def test_a_listing_beyond_the_codecs_default_bound_is_read() -> None:
    """Real rows with fresh uuids: ~2,500 channels, over 2 MiB, as a busy switch lists them."""
    row = TWO_ROWS[0]
    rows = [dict(row, uuid=str(uuidlib.uuid4())) for _ in range(2500)]
    body = json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":")).encode()
    assert MAX_BODY < len(body) < MAX_API_BODY

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(api_response(body + b"\n"))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            return await esl.live_calls()

    live, _ = run(script, client)
    assert live == {r["uuid"] for r in rows}


OVERSIZED = {
    "body": b"Content-Type: api/response\nContent-Length: %d\n\n" % (MAX_API_BODY + 1),
    "header line": b"Content-Type: api/response\nX: " + b"y" * (MAX_LINE + 1) + b"\n\n",
    "event": b"Content-Length: 12\nContent-Type: text/event-plain\n\nno colon\n\n\n\n",
    "unasked reply": api_response(b"+OK\n") * 2,
}


@pytest.mark.parametrize("kind", sorted(OVERSIZED))
def test_oversized_or_malformed_input_ends_the_session(kind: str) -> None:
    """Hand-written input: a body over the bound, a header line over the bound, an event whose
    body is no header block, a reply no command asked for."""

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(OVERSIZED[kind])
        await peer.silent()

    async def client(port: int) -> str:
        esl = await connect(port)
        with pytest.raises(ProtocolError) as error:
            await esl.api("status")
            await esl.next_hangup(LIMIT)
        with pytest.raises(ProtocolError):
            await esl.next_hangup(LIMIT)
        await esl.close()
        return str(error.value)

    message, _ = run(script, client)
    assert message.startswith("FreeSWITCH event socket at 127.0.0.1:")
    expected = {
        "body": "exceeds",
        "header line": "header line longer",
        "event": "malformed header line",
        "unasked reply": "with no command waiting",
    }[kind]
    assert expected in message


def test_other_frames_are_ignored() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        log_line = b"Content-Type: log/data\nContent-Length: 6\nLog-Level: 7\n\nhello\n"
        other = frames(answer("c2", 3))  # the originate's +OK
        await peer.answer(log_line + b"Content-Type: text/unknown\n\n" + other[0])
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            return await esl.api("originate loopback/4006001000/destinations &park()")

    reply, _ = run(script, client)
    assert reply.startswith("+OK ")


def test_the_hangup_queue_is_bounded_dropping_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    template = HANGUP_FRAMES[0]
    old = hangup_uuids(template)[0].encode()
    body = template.partition(b"\n\n")[2]
    flood = b"".join(event_frame(body.replace(old, b"id-%d" % i)) for i in range(10))

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(flood + api_response(b"+OK\n"))
        await peer.finish()

    async def client(port: int) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with InboundEsl(reader, writer, max_events=3) as esl:
            await esl._login("ClueCon")
            await esl.api("status")  # answered after the flood: every hang-up is in
            queued = esl.queued_hangups
            return queued, [await esl.next_hangup(0) for _ in range(4)], esl.dropped

    with caplog.at_level(logging.WARNING, logger="routecore_freeswitch.inbound"):
        (queued, got, dropped), _ = run(script, client)
    assert (queued, got, dropped) == (3, ["id-7", "id-8", "id-9", None], 7)
    assert len([r for r in caplog.records if "hang-up queue full" in r.message]) == 1


# ---------------------------------------------------------------- commands


def test_originate_builds_its_command_and_returns_the_new_uuid() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.answer(answer("c2", 3))  # +OK <uuid>
        await peer.answer(api_response(b"+OK\n"))  # not a uuid
        await peer.answer(api_response(b"-ERR NO_ANSWER\n"))
        await peer.finish()
        return peer.received[2:5]

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            new = await esl.originate(
                "loopback/4006001000/destinations",
                "13800138000",
                context="destinations",
                caller_id="4006001003",
                ring_timeout=20,
            )
            with pytest.raises(ProtocolError, match="unexpected originate answer"):
                await esl.originate("sofia/external/1@10.0.0.5", "1")
            with pytest.raises(ApiFailed, match="-ERR NO_ANSWER") as failed:
                await esl.originate("sofia/external/1@10.0.0.5", "1")
            return new, failed.value.reply

    (new, reply), received = run(script, client)
    assert new == answer("c2", 3).split(b"\n\n+OK ")[1].strip().decode()
    assert reply == "-ERR NO_ANSWER\n"
    assert received == [
        b"api originate {originate_timeout=20,origination_caller_id_number=4006001003}"
        b"loopback/4006001000/destinations 13800138000 XML destinations\n\n",
        b"api originate {originate_timeout=30}sofia/external/1@10.0.0.5 1 XML default\n\n",
        b"api originate {originate_timeout=30}sofia/external/1@10.0.0.5 1 XML default\n\n",
    ]


def test_uuid_kill_with_a_cause_and_a_transfer_refused() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.answer(api_response(b"+OK\n"))
        await peer.answer(answer("c2", 7))  # -ERR No such channel!
        await peer.finish()
        return peer.received[2:4]

    async def client(port: int) -> None:
        async with await connect(port) as esl:
            assert await esl.uuid_kill("c67eced1-5f96-4604-b3c2-17af9c6a7c94", "USER_BUSY")
            with pytest.raises(ApiFailed, match="No such channel"):
                await esl.uuid_transfer("c67eced1-5f96-4604-b3c2-17af9c6a7c94", "1000")

    _, received = run(script, client)
    assert received == [
        b"api uuid_kill c67eced1-5f96-4604-b3c2-17af9c6a7c94 USER_BUSY\n\n",
        b"api uuid_transfer c67eced1-5f96-4604-b3c2-17af9c6a7c94 1000 XML default\n\n",
    ]


UUID = "c67eced1-5f96-4604-b3c2-17af9c6a7c94"
UNSAFE: list[tuple[str, Callable[[InboundEsl], Awaitable[Any]]]] = [
    ("line feed", lambda e: e.api("status\n\nexit")),
    ("carriage return", lambda e: e.api("status\r")),
    ("empty", lambda e: e.api("")),
    ("blank", lambda e: e.api("   ")),
    ("too long", lambda e: e.api("x" * 9000)),
    ("uuid", lambda e: e.uuid_kill("x y")),
    ("uuid command", lambda e: e.uuid_kill(f"{UUID}\n\napi hupall")),
    ("cause", lambda e: e.uuid_kill(UUID, "normal clearing")),
    ("cause case", lambda e: e.uuid_kill(UUID, "normal_clearing")),
    ("two targets", lambda e: e.originate("sofia/a/1@h,sofia/a/2@h", "1")),
    ("variables", lambda e: e.originate("{x=1}sofia/a/1@h", "1")),
    ("application", lambda e: e.originate("sofia/a/1@h", "&park()")),
    ("context", lambda e: e.originate("sofia/a/1@h", "1", context="a b")),
    ("caller id", lambda e: e.originate("sofia/a/1@h", "1", caller_id="1,x=2")),
    ("ring timeout", lambda e: e.originate("sofia/a/1@h", "1", ring_timeout=0)),
    ("bool timeout", lambda e: e.originate("sofia/a/1@h", "1", ring_timeout=True)),
    ("destination", lambda e: e.uuid_transfer(UUID, "1|2")),
    ("dialplan", lambda e: e.uuid_transfer(UUID, "1", dialplan="${x}")),
]


def test_unsafe_values_are_refused_before_anything_is_sent() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.answer(api_response(b"+OK\n"))
        await peer.finish()
        return peer.received

    async def client(port: int) -> list[str]:
        passed = []
        async with await connect(port) as esl:
            for name, call in UNSAFE:
                try:
                    await call(esl)
                except UnsafeValue:
                    continue
                passed.append(name)
            await esl.api("status")
        return passed

    passed, received = run(script, client)
    assert passed == []
    assert received == [*C2[:2], b"api status\n\n", b"exit\n\n"]


def test_a_password_with_a_line_break_is_refused_unsent() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.send(GREETING)
        await peer.silent()
        return peer.received

    async def client(port: int) -> None:
        with pytest.raises(UnsafeValue):
            await connect_inbound("127.0.0.1", port, "ClueCon\n\nevent plain ALL")

    _, received = run(script, client)
    assert received == []


# ---------------------------------------------------------------- closing


def test_close_sends_exit_and_never_raises() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.finish()
        return peer.received

    async def client(port: int) -> None:
        esl = await connect(port)
        await esl.close()
        await esl.close()
        assert esl.closed
        with pytest.raises(ChannelGone):
            await esl.live_calls()
        with pytest.raises(ChannelGone):
            await esl.next_hangup(LIMIT)

    _, received = run(script, client)
    assert received[-1] == b"exit\n\n"


def test_close_after_the_peer_vanished() -> None:
    async def vanish(peer: Peer) -> None:
        await peer.login()
        await peer.command()
        peer.writer.transport.abort()

    async def client(port: int) -> None:
        esl = await connect(port)
        with pytest.raises(ChannelGone):
            await esl.api("status")
        await esl.close()
        await esl.close()

    run(vanish, client)


def test_close_fails_a_command_still_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    from routecore_freeswitch import inbound as module

    monkeypatch.setattr(module, "CLOSE_WAIT", 0.2)

    async def silent(peer: Peer) -> None:
        await peer.login()
        await peer.silent()

    async def client(port: int) -> float:
        esl = await connect(port)
        task = asyncio.create_task(esl.api("status"))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        await esl.close()
        with pytest.raises(ChannelGone):
            await task
        return time.monotonic() - start

    elapsed, _ = run(silent, client)
    assert elapsed < 1.0


# ---------------------------------------------------------------- the codec's body bound


def test_the_frame_reader_takes_a_body_bound_of_its_own() -> None:
    big = b"Content-Type: api/response\nContent-Length: %d\n\n" % (MAX_BODY + 1)
    with pytest.raises(ProtocolError, match=f"exceeds {MAX_BODY}"):
        reader = FrameReader()
        reader.feed(big)
        reader.next_frame()
    reader = FrameReader(max_body=MAX_BODY + 1)
    reader.feed(big + b"x" * (MAX_BODY + 1))
    frame = reader.next_frame()
    assert frame is not None and len(frame.body) == MAX_BODY + 1
    reader = FrameReader(max_body=10)
    reader.feed(api_response(b"0123456789"))
    assert reader.next_frame() is not None
    with pytest.raises(ProtocolError, match="exceeds 10"):
        reader.feed(api_response(b"0123456789A"))
        reader.next_frame()


# ---------------------------------------------------------------- the real FreeSWITCH

PBX = os.environ.get("ROUTECORE_PBX_TESTS") == "1"
real_pbx = pytest.mark.skipif(
    not PBX, reason="real FreeSWITCH: set ROUTECORE_PBX_TESTS=1 with the harness up (ESL :8021)"
)
ESL_PORT = int(os.environ.get("FREESWITCH_ESL_PORT", "8021"))


@real_pbx
def test_real_freeswitch_lists_a_call_and_hears_it_end() -> None:
    async def main() -> None:
        async with await connect_inbound("127.0.0.1", ESL_PORT, "ClueCon") as esl:
            with pytest.raises(ApiFailed, match="USER_BUSY"):
                await esl.originate("loopback/13800138004/destinations", "1")
            new = await esl.originate(
                "loopback/4006001000/destinations",
                "13800138000",
                context="destinations",
                caller_id="4006001003",
                ring_timeout=5,
            )
            deadline = time.monotonic() + LIMIT
            while new not in await esl.live_calls():  # the core database lags a little
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert await esl.uuid_kill(new) is True
            heard: set[str] = set()
            while new not in heard and time.monotonic() < deadline:
                heard.add(await esl.next_hangup(1.0) or "")
            assert new in heard
            assert new not in await esl.live_calls()
            assert await esl.uuid_kill(new) is False

    asyncio.run(main())


@real_pbx
def test_real_freeswitch_refuses_a_wrong_password() -> None:
    async def main() -> None:
        with pytest.raises(LoginRefused, match="-ERR invalid"):
            await connect_inbound("127.0.0.1", ESL_PORT, "wrong")

    asyncio.run(main())
