"""The inbound event socket client (``routecore_freeswitch.inbound``): whole captured sessions of
a real FreeSWITCH 1.10.12 replayed, connecting and authenticating, and listings and hang-ups
(a hang-up during a listing, a connection cut mid-listing, malformed or oversized input)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid as uuidlib
from typing import Any

import pytest
from fakeinbound import (
    AUTH_OK,
    C2,
    CHANNELS_NONE,
    CHANNELS_TWO,
    EXIT,
    GREETING,
    HANGUP_FRAMES,
    LIMIT,
    TWO_ROWS,
    Peer,
    all_bytes,
    answer,
    api_response,
    connect,
    event_frame,
    frames,
    free_port,
    hangup_uuids,
    replay,
    run,
    sent,
)

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_freeswitch.codec import MAX_BODY, MAX_LINE
from routecore_freeswitch.inbound import (
    MAX_API_BODY,
    ApiFailed,
    InboundEsl,
    LoginRefused,
    connect_inbound,
)

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
