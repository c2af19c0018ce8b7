"""The AMI client's actions (timeouts, refusals, unsafe values, originate), closing, and, with
``ROUTECORE_PBX_TESTS=1``, the harness Asterisk itself."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fakeami import (
    FILTER_OK,
    LIMIT,
    Peer,
    connect,
    fields,
    messages,
    retag,
    run,
    said,
)

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue
from routecore_asterisk.ami import (
    ActionFailed,
    AmiClient,
    LoginRefused,
    connect_ami,
)

# ---------------------------------------------------------------- actions


def test_an_action_that_times_out_leaves_the_next_one_in_step() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        late = await peer.action()
        later = await peer.action()
        assert late is not None and later is not None
        # the late answer first, then the answer to the second action
        await peer.send(retag(FILTER_OK, {"rc-2": late["ActionID"]}))
        await peer.send(retag(said("c3", "rc-7"), {"rc-7": later["ActionID"]}))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            with pytest.raises(ProtocolError, match="no answer to Ping within 0.2 s"):
                await ami.action("Ping", 0.2)
            with pytest.raises(ActionFailed, match="No such channel"):
                await ami.action("Hangup", Channel="PJSIP/nosuch-00000000")

    run(script, client)


def test_answers_nothing_waits_for_and_other_messages_are_dropped() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        action = await peer.action()
        assert action is not None
        noise = retag(FILTER_OK, {"rc-2": "someone-else"}) + b"Neither: this\r\n\r\n"
        await peer.send(noise + retag(FILTER_OK, {"rc-2": action["ActionID"]}))
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            return await ami.action("Ping")

    response, _ = run(script, client)
    assert response["Message"] == "Success"


def test_a_refused_list_action_raises_with_asterisks_message() -> None:
    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(said("c3", "rc-8"), "rc-8")
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            with pytest.raises(ActionFailed) as failed:
                await ami.list_action("CoreShowChannels", "CoreShowChannelsComplete")
            return failed.value.response

    response, _ = run(script, client)
    assert response["Response"] == "Error"


UNSAFE: list[tuple[str, Callable[[AmiClient], Awaitable[Any]]]] = [
    ("line break", lambda a: a.action("Ping", X="a\r\nAction: Hangup")),
    ("line feed", lambda a: a.action("Ping", X="a\nb")),
    ("NUL", lambda a: a.action("Ping", X="a\x00")),
    ("leading blank", lambda a: a.action("Ping", X=" a")),
    ("too long", lambda a: a.action("Ping", X="a" * 1020)),
    ("not a string", lambda a: a.action("Ping", X=5)),  # type: ignore[arg-type]
    ("ActionID", lambda a: a.action("Ping", ActionID="rc-1")),
    ("actionid", lambda a: a.action("Ping", actionid="rc-1")),
    ("Action", lambda a: a.action("Ping", Action="Hangup")),
    ("repeated key", lambda a: a.action("Ping", Channel="a", channel="b")),
    ("bad key", lambda a: a.action("Ping", **{"Bad Key": "x"})),
    ("bad name", lambda a: a.action("Ping\r\nAction: Hangup")),
    ("bad event", lambda a: a.list_action("CoreShowChannels", "Complete\r\n")),
    ("too many", lambda a: a.action("Ping", **{f"K{i}": "v" for i in range(65)})),
    ("regex channel", lambda a: a.hangup("/.*/")),
    ("blank in channel", lambda a: a.hangup("PJSIP/a b")),
    ("bare channel", lambda a: a.hangup("caller-00000000")),
    ("cause", lambda a: a.hangup("PJSIP/a-1", 200)),
    ("bool cause", lambda a: a.hangup("PJSIP/a-1", True)),
    ("two targets", lambda a: a.originate("Local/1@x&PJSIP/2", "destinations", "1")),
    ("option", lambda a: a.originate("PJSIP/1@trunk,20,U(x)", "destinations", "1")),
    ("context", lambda a: a.originate("PJSIP/1@trunk", "from-400,1", "1")),
    ("caller id", lambda a: a.originate("PJSIP/1@trunk", "c", "1", caller_id='"Bob" <1>')),
    ("variable", lambda a: a.originate("PJSIP/1@t", "c", "1", variables={"A": "x,B=y"})),
    ("variable name", lambda a: a.originate("PJSIP/1@t", "c", "1", variables={"A(x)": "1"})),
    ("ring timeout", lambda a: a.originate("PJSIP/1@t", "c", "1", ring_timeout=0)),
    ("priority", lambda a: a.redirect("PJSIP/a-1", "c", "1", priority=0)),
    ("exten", lambda a: a.redirect("PJSIP/a-1", "c", "1;2")),
    ("expansion", lambda a: a.redirect("PJSIP/a-1", "c", "${EXTEN}")),
]


def test_unsafe_values_are_refused_before_anything_is_sent() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.answer(FILTER_OK, "rc-2")
        await peer.finish()
        return peer.received

    async def client(port: int) -> list[str]:
        passed = []
        async with await connect(port) as ami:
            for name, call in UNSAFE:
                try:
                    await call(ami)
                except UnsafeValue:
                    continue
                passed.append(name)
            await ami.action("Ping")
        return passed

    passed, received = run(script, client)
    assert passed == []
    assert [fields(raw)["Action"] for raw in received] == ["Login", "Filter", "Ping", "Logoff"]


def test_originate_sends_variables_and_caller_id_and_returns_the_outcome() -> None:
    async def script(peer: Peer) -> bytes:
        await peer.login()
        await peer.answer(said("c5", "rc-4"), "rc-4")
        await peer.finish()
        return peer.received[2]

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            return await ami.originate(
                "PJSIP/13800138000@trunk",
                "agents",
                "4006001003",
                priority=2,
                caller_id="4006001003",
                ring_timeout=25,
                variables={"ROUTECORE_CALL": "c1", "B": "2"},
            )

    outcome, action = run(script, client)
    assert outcome["Event"] == "OriginateResponse" and outcome["Response"] == "Success"
    assert retag(action, {fields(action)["ActionID"]: "*"}) == (
        b"Action: Originate\r\nActionID: *\r\nChannel: PJSIP/13800138000@trunk\r\n"
        b"Context: agents\r\nExten: 4006001003\r\nPriority: 2\r\nCallerID: 4006001003\r\n"
        b"Timeout: 25000\r\nVariable: ROUTECORE_CALL=c1,B=2\r\nAsync: true\r\n\r\n"
    )


def test_originate_waits_no_longer_than_the_ring_timeout_and_its_slack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from routecore_asterisk import ami as module

    monkeypatch.setattr(module, "ORIGINATE_SLACK", 0.2)
    queued = messages(said("c5", "rc-4"))[0]  # the response, never the outcome

    async def script(peer: Peer) -> None:
        await peer.login()
        await peer.answer(queued, "rc-4")
        await peer.finish()

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            with pytest.raises(ProtocolError, match="no answer to Originate within 1.2 s"):
                await ami.originate("PJSIP/1@trunk", "c", "1", ring_timeout=1)

    run(script, client)


# ---------------------------------------------------------------- closing


def test_close_logs_off_and_never_raises() -> None:
    async def script(peer: Peer) -> list[bytes]:
        await peer.login()
        await peer.finish()
        return peer.received

    async def client(port: int) -> Any:
        ami = await connect(port)
        await ami.close()
        await ami.close()
        assert ami.closed
        with pytest.raises(ChannelGone):
            await ami.live_calls()
        with pytest.raises(ChannelGone):
            await ami.next_hangup(LIMIT)

    _, received = run(script, client)
    assert fields(received[-1])["Action"] == "Logoff"


def test_close_after_the_peer_vanished() -> None:
    async def vanish(peer: Peer) -> None:
        await peer.login()
        await peer.action()
        peer.writer.transport.abort()

    async def client(port: int) -> Any:
        ami = await connect(port)
        with pytest.raises(ChannelGone):
            await ami.action("Ping")
        await ami.close()
        await ami.close()

    run(vanish, client)


def test_close_fails_an_action_still_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    from routecore_asterisk import ami as module

    monkeypatch.setattr(module, "CLOSE_WAIT", 0.2)

    async def silent(peer: Peer) -> None:
        await peer.login()
        while await peer.action() is not None:  # Ping, then Logoff: never answered
            pass

    async def client(port: int) -> Any:
        ami = await connect(port)
        task = asyncio.create_task(ami.action("Ping"))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        await ami.close()
        with pytest.raises(ChannelGone):
            await task
        return time.monotonic() - start

    elapsed, _ = run(silent, client)
    assert elapsed < 1.0


# ---------------------------------------------------------------- the real Asterisk

PBX = os.environ.get("ROUTECORE_PBX_TESTS") == "1"
real_pbx = pytest.mark.skipif(
    not PBX, reason="real Asterisk: set ROUTECORE_PBX_TESTS=1 with the harness up (AMI :5038)"
)
AMI_PORT = int(os.environ.get("ASTERISK_AMI_PORT", "5038"))


@real_pbx
def test_real_asterisk_lists_a_call_and_hears_it_end() -> None:
    async def main() -> None:
        async with await connect_ami("127.0.0.1", AMI_PORT, "routecore", "routecore") as ami:
            before = await ami.live_calls()
            with pytest.raises(ActionFailed, match="Extension does not exist"):
                await ami.originate("Local/13800138000@destinations", "destinations", "1")
            busy = await ami.originate(
                "Local/13800138004@destinations", "destinations", "13800138000"
            )
            assert (busy["Response"], busy["Reason"]) == ("Failure", "5")
            up = await ami.originate(
                "Local/13800138000@destinations", "destinations", "13800138000", ring_timeout=5
            )
            assert up["Response"] == "Success"
            live = await ami.live_calls()
            assert up["Uniqueid"] in live - before
            assert await ami.hangup(up["Channel"]) is True  # requested: it ends a moment later
            heard: set[str] = set()
            deadline = time.monotonic() + LIMIT
            while up["Uniqueid"] not in heard and time.monotonic() < deadline:
                heard.add(await ami.next_hangup(1.0) or "")
            assert up["Uniqueid"] in heard
            assert up["Uniqueid"] not in await ami.live_calls()
            assert await ami.hangup(up["Channel"]) is False  # gone now

    asyncio.run(main())


@real_pbx
def test_real_asterisk_refuses_a_wrong_secret() -> None:
    async def main() -> None:
        with pytest.raises(LoginRefused, match="Authentication failed"):
            await connect_ami("127.0.0.1", AMI_PORT, "routecore", "wrong")

    asyncio.run(main())
