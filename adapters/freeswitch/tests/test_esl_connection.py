"""EslConnection on a real loopback socket: our side is the server, the test plays FreeSWITCH.

The fake FreeSWITCH replays the transcript's ``<<`` bytes in order, each batch after reading the
command our side sends (``>>``), which must match the transcript byte for byte apart from the
``Event-UUID`` line we add; the Application-UUID of the replayed events is rewritten to it.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_freeswitch.codec import Event
from routecore_freeswitch.connection import NOTICE_GRACE, EslConnection

Transcript = list[tuple[str, bytes]]
Handler = Callable[[EslConnection], Awaitable[Any]]
Pbx = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]

CHANNEL = "71cef200-1bf0-46fb-b827-38adb8fe5e15"
APP_UUIDS = ["df62f817-bf79-40a9-b2df-6ff8feedd72b", "2e866d59-d0c3-4bee-b567-ab67ac074387"]
EVENT_UUID_LINE = re.compile(rb"Event-UUID: ([0-9a-f-]{36})\n")
LIMIT = 10.0  # no test may hang: every wait is bounded


async def run_pair(handler: Handler, pbx: Pbx) -> tuple[Any, Any]:
    """Serve one connection with ``handler`` while ``pbx`` plays FreeSWITCH on it; return the
    handler's result (or the exception it raised) and the pbx's result."""
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = EslConnection(reader, writer)
        try:
            outcome.set_result(await handler(conn))
        except Exception as exc:
            outcome.set_result(exc)
        finally:
            await conn.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        pbx_result = await asyncio.wait_for(pbx(reader, writer), LIMIT)
        result = await asyncio.wait_for(outcome, LIMIT)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
    return result, pbx_result


async def read_command(reader: asyncio.StreamReader) -> bytes | None:
    """The next command our side sent, or None once it closed the socket."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\n\n"), LIMIT)
    except asyncio.IncompleteReadError:
        return None


def replay(transcript: Transcript, budget: int | None = None) -> Pbx:
    """A fake FreeSWITCH: the transcript, cut after ``budget`` bytes of ``<<`` when given."""

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[bytes]:
        left = budget
        uuids: dict[bytes, bytes] = {}
        received: list[bytes] = []
        try:
            for direction, data in transcript:
                if direction == ">>":
                    sent = await read_command(reader)
                    if sent is None:
                        break
                    received.append(sent)
                    if match := EVENT_UUID_LINE.search(sent):
                        uuids[APP_UUIDS[len(uuids)].encode()] = match.group(1)
                        sent = EVENT_UUID_LINE.sub(b"", sent)
                    assert sent == data
                    continue
                for old, new in uuids.items():
                    data = data.replace(old, new)  # same length: Content-Length still holds
                if left is not None:
                    data, left = data[:left], left - min(left, len(data))
                writer.write(data)
                await writer.drain()
                if left == 0:
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
        return received

    return pbx


async def transcript_call(conn: EslConnection) -> dict[str, Any]:
    """Our side of the transcript's call: what the routing engine's FreeSWITCH adapter does."""
    data = await conn.connect(timeout=2)
    events = await conn.command("myevents", timeout=2)
    linger = await conn.command("linger", timeout=2)
    during: list[str] = []
    bridged = await conn.execute(
        "bridge",
        "loopback/13800138001/destinations",
        timeout=5,
        on_event=lambda e: during.append(e.name),
    )
    hung_up_before = conn.hung_up
    ended = await conn.execute("hangup", "NORMAL_CLEARING", timeout=5)
    after: list[Event] = []
    closed = await conn.wait_closed_or_timeout(5, on_event=after.append)
    return {
        "data": data,
        "replies": [events.reply_text, linger.reply_text],
        "during": during,
        "bridged": bridged,
        "hung_up_before": hung_up_before,
        "ended": ended,
        "after": [e.name for e in after],
        "billsec": after[-1].variable("billsec") if after else "",
        "closed": closed,
        "hung_up": conn.hung_up,
        "disconnected": conn.disconnected,
        "linger": conn.linger,
    }


def test_transcript_call(transcript: Transcript) -> None:
    result, received = asyncio.run(run_pair(transcript_call, replay(transcript)))
    assert not isinstance(result, BaseException), result
    assert result["data"]["Caller-Caller-ID-Number"] == "13800138000"
    assert result["data"]["Channel-Destination-Number"] == "4006001003"
    assert result["data"]["Unique-ID"] == CHANNEL
    assert result["replies"] == ["+OK Events Enabled", "+OK will linger"]
    assert result["during"] == [
        "CHANNEL_EXECUTE",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_ANSWER",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
    ]
    bridged = result["bridged"]
    assert bridged.get("Application") == "bridge"
    assert bridged.variable("originate_disposition") == "SUCCESS"
    assert bridged.variable("bridge_hangup_cause") == "NORMAL_CLEARING"
    assert result["hung_up_before"] is False
    assert result["ended"].get("Application") == "hangup"
    assert result["after"] == [
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
    ]
    assert result["billsec"] == "3"
    assert result["closed"] and result["hung_up"] and result["disconnected"] and result["linger"]
    assert len(received) == 5
    uuids = [m.group(1) for sent in received if (m := EVENT_UUID_LINE.search(sent))]
    assert len(uuids) == 2 and uuids[0] != uuids[1]
    assert bridged.application_uuid == uuids[0].decode()
    assert result["ended"].application_uuid == uuids[1].decode()


def test_socket_closed_anywhere(transcript: Transcript) -> None:
    """Cut FreeSWITCH's bytes at chunk boundaries (and next to them) and at random offsets: the
    call ends with ChannelGone or ProtocolError, or completes, and never hangs."""
    chunks = [data for direction, data in transcript if direction == "<<"]
    sizes = [len(data) for data in chunks]
    total = sum(sizes)
    bounds = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    # The call's work is done once the hangup app's CHANNEL_EXECUTE_COMPLETE has arrived.
    done = next(
        bounds[i + 1]
        for i, data in enumerate(chunks)
        if b"CHANNEL_EXECUTE_COMPLETE" in data and b"Application: hangup" in data
    )
    cuts = {c + d for c in bounds for d in (-1, 0, 1) if 0 <= c + d <= total}
    cuts |= set(random.Random(20261202).sample(range(total), 25))

    async def main() -> dict[str, int]:
        seen: dict[str, int] = {}
        for cut in sorted(cuts):
            result, _ = await run_pair(transcript_call, replay(transcript, cut))
            if isinstance(result, BaseException):
                assert isinstance(result, ChannelGone | ProtocolError), (cut, repr(result))
                kind = type(result).__name__
            else:
                kind = "completed"
            assert (kind == "completed") == (cut >= done), (cut, repr(result))
            seen[kind] = seen.get(kind, 0) + 1
        return seen

    seen = asyncio.run(main())
    assert seen["completed"] > 1 and seen["ChannelGone"] > 10 and seen["ProtocolError"] > 10


CONNECT_REPLY = (
    b"Event-Name: CHANNEL_DATA\nUnique-ID: " + CHANNEL.encode() + b"\n"
    b"Caller-Caller-ID-Number: 13800138000\nContent-Type: command/reply\n"
    b"Reply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"
)


def event_frame(name: str, **headers: str) -> bytes:
    body = f"Event-Name: {name}\nUnique-ID: {CHANNEL}\n"
    body += "".join(f"{key.replace('_', '-')}: {value}\n" for key, value in headers.items())
    data = (body + "\n").encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data


CLOSE = b""


Step = bytes | None | Callable[[str], bytes]


def scripted(*steps: Step) -> Pbx:
    """A fake FreeSWITCH: for each step, None reads one command, CLOSE closes the socket, bytes
    are written, a function is called with the last command's Event-UUID for the bytes."""

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[bytes]:
        received: list[bytes] = []
        try:
            for step in steps:
                if step is None:
                    sent = await read_command(reader)
                    if sent is None:
                        break
                    received.append(sent)
                elif step == CLOSE:
                    return received
                else:
                    if callable(step):
                        match = EVENT_UUID_LINE.search(received[-1])
                        step = step(match.group(1).decode() if match else "")
                    writer.write(step)
                    await writer.drain()
            await asyncio.wait_for(reader.read(), LIMIT)  # until our side closes
        except ConnectionError:
            pass
        finally:
            writer.close()
        return received

    return pbx


OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def run(handler: Handler, *steps: Step) -> tuple[Any, list[bytes]]:
    return asyncio.run(run_pair(handler, scripted(*steps)))


def test_err_reply_raises_protocol_error() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        with pytest.raises(ProtocolError, match="-ERR command not found"):
            await conn.command("nonsense", timeout=2)
        api = await conn.command("api status", timeout=2)
        with pytest.raises(ProtocolError, match="-ERR no such command"):
            await conn.command("api nonsense", timeout=2)
        return api.body

    result, received = run(
        handler,
        None,
        CONNECT_REPLY,
        None,
        b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n",
        None,
        b"Content-Type: api/response\nContent-Length: 6\n\nUP 1s\n",
        None,
        b"Content-Type: api/response\nContent-Length: 20\n\n-ERR no such command",
    )
    assert result == b"UP 1s\n"
    assert received == [b"connect\n\n", b"nonsense\n\n", b"api status\n\n", b"api nonsense\n\n"]


def test_timeout_raises_protocol_error_and_late_reply_is_dropped() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        with pytest.raises(ProtocolError, match="in time"):
            await conn.command("myevents", timeout=0.1)
        return (await conn.command("linger", timeout=2)).reply_text

    slow = b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"
    linger = b"Content-Type: command/reply\nReply-Text: +OK will linger\n\n"
    result, _ = run(handler, None, CONNECT_REPLY, None, None, slow, linger)
    assert result == "+OK will linger"


def test_malformed_frame_fails_the_waiter_and_closes() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        with pytest.raises(ProtocolError, match="Content-Length"):
            await conn.command("myevents", timeout=2)
        assert conn.closed
        with pytest.raises(ProtocolError):  # later calls fail at once
            await conn.command("linger", timeout=2)
        return "ok"

    result, received = run(handler, None, CONNECT_REPLY, None, b"Content-Length: -1\n\n")
    assert result == "ok"
    assert received == [b"connect\n\n", b"myevents\n\n"]


def test_unsolicited_reply_is_a_protocol_error() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        return await conn.next_event(timeout=2)

    result, _ = run(handler, None, CONNECT_REPLY, OK)
    assert isinstance(result, ProtocolError)


def test_execute_when_the_caller_hangs_up() -> None:
    """CHANNEL_HANGUP marks hung_up and the wait goes on; the socket's end raises ChannelGone."""

    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        seen: list[str] = []
        try:
            await conn.execute(
                "bridge", "user/1001", timeout=5, on_event=lambda e: seen.append(e.name)
            )
        except ChannelGone:
            return seen, conn.hung_up
        return "completed"

    result, received = run(
        handler,
        None,
        CONNECT_REPLY,
        None,
        OK,
        lambda uuid: event_frame("CHANNEL_EXECUTE", Application_UUID=uuid),
        event_frame("CHANNEL_HANGUP", Hangup_Cause="ORIGINATOR_CANCEL"),
        CLOSE,
    )
    assert result == (["CHANNEL_EXECUTE", "CHANNEL_HANGUP"], True)
    assert EVENT_UUID_LINE.search(received[1])


def test_execute_completes_after_hangup_and_skips_stale_events() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        seen: list[str] = []
        done = await conn.execute(
            "playback", "welcome.wav", timeout=5, on_event=lambda e: seen.append(e.name)
        )
        with pytest.raises(ChannelGone):  # the channel is gone: nothing more to execute
            await conn.execute("playback", "again.wav", timeout=1)
        await conn.hangup()  # does nothing once hung up
        return seen, done.get("Application-Response"), conn.hung_up

    stale = event_frame("CHANNEL_ANSWER")  # arrives before the sendmsg's reply
    result, received = run(
        handler,
        None,
        CONNECT_REPLY + stale,
        None,
        OK,
        event_frame("CHANNEL_EXECUTE_COMPLETE", Application_UUID="someone-else"),
        event_frame("CHANNEL_HANGUP"),
        lambda uuid: event_frame(
            "CHANNEL_EXECUTE_COMPLETE", Application_UUID=uuid, Application_Response="FILE%20PLAYED"
        ),
    )
    assert result == (["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"], "FILE PLAYED", True)
    assert len(received) == 2


def test_hangup_sends_call_command() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        await conn.hangup("USER_BUSY")
        await conn.close()
        await conn.close()  # twice: still quiet
        with pytest.raises(ChannelGone):
            await conn.command("linger", timeout=1)
        with pytest.raises(ChannelGone):
            await conn.next_event(timeout=1)
        return "ok"

    result, received = run(handler, None, CONNECT_REPLY, None, OK)
    assert result == "ok"
    assert received[1] == b"sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n"


def test_slow_consumer_loses_no_event() -> None:
    """5,000 events sent while nobody consumes: the queue fills, reading pauses, none is lost."""
    count = 5000
    burst = b"".join(event_frame("CUSTOM", Event_Sequence=str(i)) for i in range(count))

    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        for _ in range(100):  # wait until the reader has filled the queue and paused
            await asyncio.sleep(0.01)
            if conn.queued_events == 1024:
                break
        full = conn.queued_events
        await asyncio.sleep(0.1)
        still_full = conn.queued_events
        sequence: list[int] = []
        with pytest.raises(ChannelGone):
            while True:
                event = await conn.next_event(timeout=2)
                sequence.append(int(event.get("Event-Sequence")))
        return full, still_full, sequence

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await read_command(reader) == b"connect\n\n"
        writer.write(CONNECT_REPLY + burst)
        await writer.drain()
        writer.close()

    result, _ = asyncio.run(run_pair(handler, pbx))
    assert not isinstance(result, BaseException), result
    full, still_full, sequence = result
    assert full == still_full == 1024
    assert sequence == list(range(count))


NOTICE = (
    b"Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + CHANNEL.encode() + b"\n"
    b"Content-Disposition: linger\nLinger-Time: -1\nContent-Length: 0\n\n"
)


def test_wait_disconnect_takes_the_last_events_and_returns_at_the_notice() -> None:
    """After ``linger`` FreeSWITCH sends its notice and keeps the socket open: no waiting for a
    close that never comes."""

    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        seen: list[str] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        done = await conn.wait_disconnect(5, on_event=lambda e: seen.append(e.name))
        return done, seen, conn.disconnected, loop.time() - start < 1

    hangup = event_frame("CHANNEL_HANGUP_COMPLETE")
    result, _ = run(handler, None, CONNECT_REPLY, event_frame("CHANNEL_HANGUP"), hangup, NOTICE)
    assert result == (True, ["CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"], True, True)


def test_wait_disconnect_times_out_or_sees_the_close() -> None:
    async def silent(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        return await conn.wait_disconnect(0.1), conn.closed

    async def closed(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        return await conn.wait_disconnect(5), conn.closed

    assert run(silent, None, CONNECT_REPLY)[0] == (False, False)
    assert run(closed, None, CONNECT_REPLY, CLOSE)[0] == (True, True)


def test_execute_reply_timeout_bounds_the_reply_only() -> None:
    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        with pytest.raises(ProtocolError, match="in time"):
            await conn.execute("bridge", "user/1", timeout=None, reply_timeout=0.1)
        return "ok"

    assert run(handler, None, CONNECT_REPLY, None)[0] == "ok"

    async def slow(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        done = await conn.execute("bridge", "user/1", timeout=None, reply_timeout=0.2)
        return done.name

    late = lambda uuid: event_frame("CHANNEL_EXECUTE_COMPLETE", Application_UUID=uuid)  # noqa: E731
    result, _ = run(slow, None, CONNECT_REPLY, None, OK, late)
    assert result == "CHANNEL_EXECUTE_COMPLETE"


def test_an_application_that_never_ran_ends_after_the_disconnect_notice() -> None:
    """FreeSWITCH answers a sendmsg ``+OK`` when it queues it; a caller who hung up just
    before gets no CHANNEL_EXECUTE_COMPLETE for it, only the channel's last events, the notice,
    and (after ``linger``) a socket left open. A bridge that waits without a bound must end
    then, or its claims would be renewed for ever."""

    async def handler(conn: EslConnection) -> Any:
        await conn.connect(timeout=2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await conn.execute("bridge", "user/1001", timeout=None)
        except ChannelGone:
            return "gone", conn.hung_up, loop.time() - start < NOTICE_GRACE + 2
        return "completed"

    result, _ = run(
        handler,
        None,
        CONNECT_REPLY,
        None,
        OK,
        event_frame("CHANNEL_HANGUP", Hangup_Cause="NORMAL_CLEARING"),
        event_frame("CHANNEL_HANGUP_COMPLETE"),
        NOTICE,
    )
    assert result == ("gone", True, True)
