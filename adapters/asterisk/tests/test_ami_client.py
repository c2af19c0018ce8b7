"""The AMI client connecting (login, a refused one, a peer that is not Asterisk, timeouts) and
hearing hang-ups and listing channels (a Hangup inside a list, a connection cut mid-list, the
bounded hang-up queue), against a fake Asterisk speaking captured bytes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from fakeami import (
    BANNER,
    CHANNELS_NONE,
    CHANNELS_TWO,
    FILTER_OK,
    HANGUP_EVENTS,
    LIMIT,
    LOGIN_OK,
    Peer,
    connect,
    fields,
    free_port,
    messages,
    replay,
    retag,
    run,
    said,
    sent,
)

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_asterisk.ami import (
    MAX_BANNER,
    MAX_MESSAGE,
    AmiClient,
    LoginRefused,
    connect_ami,
)

# ---------------------------------------------------------------- connecting


def test_a_refused_login_is_one_clear_error() -> None:
    async def client(port: int) -> Any:
        with pytest.raises(LoginRefused) as refused:
            await connect_ami("127.0.0.1", port, "routecore", "wrong")
        return str(refused.value)

    message, received = run(replay("c1"), client)
    assert received == sent("c1")
    assert message.startswith("Asterisk manager at 127.0.0.1:")
    assert message.endswith(" refused the login of 'routecore': Authentication failed")
    assert "\n" not in message


def test_a_peer_that_is_not_asterisk_is_refused() -> None:
    async def ssh(peer: Peer) -> None:
        await peer.send(b"SSH-2.0-OpenSSH_9.6\r\n")
        await peer.action()

    async def client(port: int) -> Any:
        with pytest.raises(ProtocolError, match="is not an Asterisk manager interface") as e:
            await connect(port)
        assert "\n" not in str(e.value)

    run(ssh, client)

    async def binary(peer: Peer) -> None:
        await peer.send(b"\x00" * (MAX_BANNER + 10))
        await peer.action()

    async def client2(port: int) -> Any:
        with pytest.raises(ProtocolError, match="no manager banner: AMI banner longer"):
            await connect(port)

    run(binary, client2)


def test_an_unreachable_port_fails_at_once() -> None:
    port = free_port()

    async def main() -> float:
        start = time.monotonic()
        with pytest.raises(ProtocolError, match=f"cannot connect to the .*:{port}: "):
            await connect_ami("127.0.0.1", port, "routecore", "routecore")
        return time.monotonic() - start

    assert asyncio.run(main()) < 1.0


@pytest.mark.parametrize("stage", ["banner", "login", "filter"])
def test_a_silent_asterisk_times_out(stage: str) -> None:
    async def silent(peer: Peer) -> None:
        if stage != "banner":
            await peer.send(BANNER)
        if stage == "filter":
            await peer.answer(LOGIN_OK, "rc-1")
        while await peer.action() is not None:  # never answered, until the client gives up
            pass

    async def client(port: int) -> float:
        start = time.monotonic()
        with pytest.raises(ProtocolError, match=r"no login within 0.3 s"):
            await connect(port, timeout=0.3)
        return time.monotonic() - start

    elapsed, _ = run(silent, client)
    assert elapsed < 1.5


def test_a_connection_closed_during_the_login_is_a_protocol_error() -> None:
    async def closing(peer: Peer) -> None:
        await peer.send(BANNER)
        await peer.action()

    async def client(port: int) -> Any:
        with pytest.raises(ProtocolError, match="ended during the login"):
            await connect(port)

    run(closing, client)


def test_a_refused_filter_is_not_fatal() -> None:
    async def script(peer: Peer) -> None:
        await peer.send(BANNER)
        await peer.answer(LOGIN_OK, "rc-1")
        await peer.answer(said("c3", "rc-7"), "rc-7")  # Response: Error
        await peer.answer(CHANNELS_NONE, "rc-2")
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            return await ami.live_calls()

    assert run(script, client)[0] == set()


# ---------------------------------------------------------------- hang-ups and lists


def _channels_two() -> tuple[bytes, bytes, bytes, bytes]:
    response, first, second, complete = messages(CHANNELS_TWO)
    return response, first, second, complete


def _hangup_of(uid: str) -> bytes:
    return next(m for m in HANGUP_EVENTS if fields(m)["Uniqueid"] == uid)


def test_a_hangup_during_the_listing_is_left_out_and_still_heard() -> None:
    response, first, second, complete = _channels_two()
    uid1, uid2 = fields(first)["Uniqueid"], fields(second)["Uniqueid"]

    async def script(peer: Peer) -> None:
        await peer.login()
        action = await peer.action()
        assert action is not None
        ids = {"rc-5": action["ActionID"]}
        await peer.send(retag(response + first + _hangup_of(uid2) + second + complete, ids))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            return await ami.live_calls(), await ami.next_hangup(LIMIT)

    (live, ended), _ = run(script, client)
    assert live == {uid1}
    assert ended == uid2


def test_hangups_before_the_answer_count_after_the_list_do_not() -> None:
    response, first, second, complete = _channels_two()
    uid1, uid2 = fields(first)["Uniqueid"], fields(second)["Uniqueid"]

    async def script(peer: Peer) -> None:
        await peer.login()
        action = await peer.action()
        assert action is not None
        answer = _hangup_of(uid1) + response + first + second + complete
        await peer.send(retag(answer, {"rc-5": action["ActionID"]}))
        action = await peer.action()  # the list is in the client's hands: uid2 ends now
        assert action is not None
        await peer.send(_hangup_of(uid2) + retag(FILTER_OK, {"rc-2": action["ActionID"]}))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            live = await ami.live_calls()
            await ami.action("Ping")
            return live, [await ami.next_hangup(LIMIT), await ami.next_hangup(LIMIT)]

    (live, ended), _ = run(script, client)
    assert live == {uid2}
    assert ended == [uid1, uid2]  # the reconciler hears uid2 end after the list


@pytest.mark.parametrize("cut", ["after an item", "inside an item"])
def test_the_connection_dropping_mid_list_fails_fast(cut: str) -> None:
    response, first, _, _ = _channels_two()

    async def script(peer: Peer) -> None:
        await peer.login()
        action = await peer.action()
        assert action is not None
        data = retag(response + first, {"rc-5": action["ActionID"]})
        await peer.send(data if cut == "after an item" else data[:-30])

    async def client(port: int) -> Any:
        ami = await connect(port)
        start = time.monotonic()
        with pytest.raises((ChannelGone, ProtocolError)) as lost:
            await ami.live_calls()
        elapsed = time.monotonic() - start
        with pytest.raises(type(lost.value)):
            await ami.next_hangup(LIMIT)
        with pytest.raises(type(lost.value)):
            await ami.action("Ping")
        assert ami.closed
        await ami.close()
        return lost.value, elapsed

    (error, elapsed), _ = run(script, client)
    assert elapsed < 1.0
    if cut == "after an item":
        assert isinstance(error, ChannelGone)
        assert "closed the manager connection" in str(error)
    else:
        assert isinstance(error, ProtocolError)
        assert "middle of a message" in str(error)


def test_a_stalled_list_times_out() -> None:
    response, first, _, _ = _channels_two()

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(response + first, "rc-5")
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            ami.list_timeout = 0.2
            with pytest.raises(ProtocolError, match="no answer to CoreShowChannels within 0.2 s"):
                await ami.live_calls()

    run(script, client)


def test_next_hangup_returns_none_after_its_timeout() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            start = time.monotonic()
            assert await ami.next_hangup(0.1) is None
            assert await ami.next_hangup(0) is None
            return time.monotonic() - start

    elapsed, _ = run(script, client)
    assert 0.09 < elapsed < 1.0


def test_the_hangups_heard_before_the_end_come_before_its_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.send(HANGUP_EVENTS[0] + HANGUP_EVENTS[1] + b"not a line of AMI\r\n\r\n")
        await peer.action()

    async def client(port: int) -> Any:
        ami = await connect(port)
        got = [await ami.next_hangup(LIMIT), await ami.next_hangup(LIMIT)]
        with pytest.raises(ProtocolError, match="malformed AMI line 'not a line of AMI'"):
            await ami.next_hangup(LIMIT)
        await ami.close()
        return got

    got, _ = run(script, client)
    assert got == [fields(HANGUP_EVENTS[0])["Uniqueid"], fields(HANGUP_EVENTS[1])["Uniqueid"]]


def test_an_oversized_message_ends_the_session_and_fails_the_waiting_action() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.action()
        await peer.send(b"Event: Flood\r\n" + b"Data: " + b"x" * MAX_MESSAGE + b"\r\n\r\n")
        await peer.action()

    async def client(port: int) -> Any:
        ami = await connect(port)
        with pytest.raises(ProtocolError, match="larger than 65536 bytes"):
            await ami.action("Ping")
        await ami.close()

    run(script, client)


def test_the_hangup_queue_is_bounded_dropping_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    template = HANGUP_EVENTS[0]
    old = fields(template)["Uniqueid"].encode()
    flood = b"".join(template.replace(old, b"id-%d" % i) for i in range(10))

    async def script(peer: Peer) -> None:
        await peer.login()
        action = await peer.action()
        assert action is not None
        await peer.send(flood + retag(FILTER_OK, {"rc-2": action["ActionID"]}))
        await peer.finish()

    async def client(port: int) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with AmiClient(reader, writer, max_events=3) as ami:
            await ami._login("routecore", "routecore")
            await ami.action("Ping")  # answered after the flood: every Hangup is in
            queued = ami.queued_hangups
            got = [await ami.next_hangup(0) for _ in range(4)]
            return queued, got, ami.dropped

    with caplog.at_level(logging.WARNING, logger="routecore_asterisk.ami"):
        (queued, got, dropped), _ = run(script, client)
    assert (queued, got, dropped) == (3, ["id-7", "id-8", "id-9", None], 7)
    assert len([r for r in caplog.records if "hang-up queue full" in r.message]) == 1
