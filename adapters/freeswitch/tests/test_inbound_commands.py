"""The inbound event socket client's commands (originate, uuid_kill, uuid_transfer, unsafe
values), closing, the codec's body bound, and, with ``ROUTECORE_PBX_TESTS=1``, the harness
FreeSWITCH itself."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fakeinbound import (
    C2,
    GREETING,
    LIMIT,
    Peer,
    answer,
    api_response,
    connect,
    run,
)

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue
from routecore_freeswitch.codec import MAX_BODY, FrameReader
from routecore_freeswitch.inbound import (
    ApiFailed,
    InboundEsl,
    LoginRefused,
    connect_inbound,
)

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


def test_originate_sets_channel_variables_and_refuses_unsafe_ones() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.answer(answer("c2", 3))
        await peer.finish()
        return peer.received[2:3]

    async def client(port: int) -> Any:
        async with await connect(port) as esl:
            for bad in ({"a b": "1"}, {"x": "1,origination_caller_id_number=666"}, {"x": "1}y"}):
                with pytest.raises(UnsafeValue):
                    await esl.originate("loopback/1/default", "2", variables=bad)
            return await esl.originate(
                "loopback/13800138100/default",
                "13900000042",
                variables={"routecore_service": "4006001003"},
            )

    _new, received = run(script, client)
    assert received == [
        b"api originate {originate_timeout=30,routecore_service=4006001003}"
        b"loopback/13800138100/default 13900000042 XML default\n\n"
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
