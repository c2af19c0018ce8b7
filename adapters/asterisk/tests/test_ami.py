"""The AMI client (``routecore_asterisk.ami``) over real loopback sockets.

The fake Asterisk speaks the bytes a real Asterisk 22.10.1 sent (``adapters/transcripts/
asterisk-22-ami.log``): whole captured conversations replayed action by action (what the client
sends must equal what was sent to the real one, ActionIDs aside), or captured messages arranged
by a test (a Hangup inside a channel list, a connection cut mid-list). With
``ROUTECORE_PBX_TESTS=1`` the last tests talk to the harness Asterisk itself.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue
from routecore_asterisk.ami import (
    MAX_BANNER,
    MAX_LINES,
    MAX_MESSAGE,
    ActionFailed,
    AmiClient,
    AmiReader,
    LoginRefused,
    connect_ami,
)

TRANSCRIPT = Path(__file__).resolve().parents[2] / "transcripts" / "asterisk-22-ami.log"
LIMIT = 5.0  # no wait in these tests is longer: nothing can hang


def _load() -> dict[str, list[tuple[str, bytes]]]:
    conversations: dict[str, list[tuple[str, bytes]]] = {}
    for line in TRANSCRIPT.read_text(encoding="ascii").splitlines():
        _time, conn, direction, rest = line.split(" ", 3)
        if direction in ("<<", ">>"):
            conversations.setdefault(conn, []).append((direction, ast.literal_eval(rest)))
    return conversations


CONVERSATIONS = _load()


def turns(conn: str) -> list[tuple[bytes, bytes]]:
    """``(action sent, all Asterisk sent after it until the next action)`` of one captured
    connection; the first turn's action is ``b""`` (Asterisk's banner comes unasked)."""
    out = [(b"", b"")]
    for direction, data in CONVERSATIONS[conn]:
        if direction == ">>":
            out.append((data, b""))
        else:
            out[-1] = (out[-1][0], out[-1][1] + data)
    return out


def sent(conn: str) -> list[bytes]:
    """Every action sent to the real Asterisk on ``conn``, in order."""
    return [data for direction, data in CONVERSATIONS[conn] if direction == ">>"]


def said(conn: str, action_id: str) -> bytes:
    """What the real Asterisk sent after the action ``action_id`` of ``conn``."""
    for action, answer in turns(conn):
        if f"ActionID: {action_id}\r\n".encode() in action:
            return answer
    raise KeyError(action_id)


def messages(data: bytes) -> list[bytes]:
    """``data`` cut into whole messages (each with its empty line)."""
    return [part + b"\r\n\r\n" for part in data.split(b"\r\n\r\n") if part]


def fields(raw: bytes) -> dict[str, str]:
    """The fields of one message (a plain reading, independent of the code under test)."""
    out: dict[str, str] = {}
    for line in raw.decode().split("\r\n"):
        if line:
            key, _, value = line.partition(": ")
            out.setdefault(key, value)
    return out


def retag(data: bytes, ids: dict[str, str]) -> bytes:
    """``data`` with each ``ActionID: old`` of ``ids`` replaced by the new one."""
    return re.sub(
        rb"ActionID: ([^\r]*)\r\n",
        lambda m: b"ActionID: " + ids.get(m[1].decode(), m[1].decode()).encode() + b"\r\n",
        data,
    )


def uniqueids(data: bytes, event: str) -> list[str]:
    """The Uniqueid of every ``event`` message in ``data``, in order."""
    return [
        fields(raw)["Uniqueid"]
        for raw in messages(data)
        if raw.startswith(f"Event: {event}\r\n".encode())
    ]


def asterisk_bytes(conn: str) -> bytes:
    return b"".join(data for direction, data in CONVERSATIONS[conn] if direction == "<<")


BANNER = turns("c3")[0][1]
LOGIN_OK = said("c3", "rc-1")
LOGIN_REFUSED = said("c1", "rc-1")
FILTER_OK = said("c5", "rc-2")
CHANNELS_NONE = said("c3", "rc-2")
CHANNELS_TWO = said("c3", "rc-5")
GOODBYE = said("c3", "rc-11")
HANGUP_EVENTS = [m for m in messages(asterisk_bytes("c3")) if m.startswith(b"Event: Hangup\r\n")]


# ---------------------------------------------------------------- the fake Asterisk


class Peer:
    """The fake Asterisk's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def action(self) -> dict[str, str] | None:
        """The next action the client sent (its fields), or None once it closed."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), LIMIT)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.received.append(raw)
        return fields(raw)

    async def answer(self, data: bytes, old_id: str) -> dict[str, str] | None:
        """Read the next action and send ``data`` with ``old_id`` retagged to its ActionID."""
        action = await self.action()
        if action is not None:
            await self.send(retag(data, {old_id: action["ActionID"]}))
        return action

    async def login(self) -> None:
        """The banner, then the real answers to Login and Filter."""
        await self.send(BANNER)
        await self.answer(LOGIN_OK, "rc-1")
        await self.answer(FILTER_OK, "rc-2")

    async def finish(self) -> None:
        """Answer the client's Logoff (if it sends one) with the real Goodbye."""
        await self.answer(GOODBYE, "rc-11")


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


def replay(conn: str, extras: dict[str, bytes] | None = None) -> Script:
    """A fake Asterisk playing captured connection ``conn``: for each action the client sends,
    the next captured action must be the same (ActionIDs aside); what the real Asterisk sent
    after it is sent back with the client's ActionIDs. An action named in ``extras`` that the
    capture lacks (the client's Filter) is answered with those bytes instead. The connection
    closes after the last captured answer, as the real one did. Returns the actions received."""

    async def script(peer: Peer) -> list[bytes]:
        steps = turns(conn)
        await peer.send(steps[0][1])
        ids: dict[str, str] = {}
        pending = steps[1:]
        while pending:
            action = await peer.action()
            if action is None:
                break
            expected, answer = pending[0]
            if extras and action["Action"] != fields(expected)["Action"]:
                extra = extras[action["Action"]]
                await peer.send(retag(extra, {fields(extra)["ActionID"]: action["ActionID"]}))
                continue
            pending.pop(0)
            ids[fields(expected)["ActionID"]] = action["ActionID"]
            assert retag(peer.received[-1], {action["ActionID"]: "*"}) == retag(
                expected, {fields(expected)["ActionID"]: "*"}
            )
            await peer.send(retag(answer, ids))
        return peer.received

    return script


async def connect(port: int, **kw: Any) -> AmiClient:
    return await connect_ami("127.0.0.1", port, "routecore", "routecore", **kw)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------- the parser


def _parse(chunks: list[bytes]) -> tuple[str | None, list[dict[str, str]]]:
    reader = AmiReader()
    out = []
    for chunk in chunks:
        reader.feed(chunk)
        while (message := reader.next_message()) is not None:
            out.append(message)
    reader.eof()
    assert reader.finished
    return reader.banner, out


@pytest.mark.parametrize("conn", sorted(CONVERSATIONS))
def test_the_reader_parses_every_real_message_however_the_bytes_are_split(conn: str) -> None:
    data = asterisk_bytes(conn)
    banner, whole = _parse([data])
    assert banner == "Asterisk Call Manager/11.0.0"
    expected = messages(data.partition(b"\r\n")[2])
    assert whole == [fields(raw) for raw in expected]
    assert _parse([data[i : i + 1] for i in range(len(data))]) == (banner, whole)
    rng = random.Random(conn)
    cuts = sorted(rng.sample(range(1, len(data)), min(40, len(data) - 1)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert _parse(chunks) == (banner, whole)


def test_values_keep_their_colons_and_keys_their_case() -> None:
    _, parsed = _parse([BANNER + said("c3", "rc-8")])
    assert parsed == [
        {
            "Response": "Error",
            "ActionID": "rc-8",
            "Message": "Invalid/unknown command: NoSuchAction. "
            "Use Action: ListCommands to show available commands.",
        }
    ]


def test_the_reader_takes_bare_line_feeds_replaces_bad_utf8_and_skips_blank_lines() -> None:
    data = b"Asterisk Call Manager/11.0.0\n\r\n\nEvent: Hangup\nUniqueid: a\xff\nUniqueid: b\n\n"
    assert _parse([data]) == (
        "Asterisk Call Manager/11.0.0",
        [{"Event": "Hangup", "Uniqueid": "a\ufffd"}],  # the first of a repeated key wins
    )


def _refused(data: bytes, match: str) -> None:
    reader = AmiReader()
    with pytest.raises(ProtocolError, match=match):
        reader.feed(data)
        reader.eof()
    with pytest.raises(ProtocolError, match="already failed"):  # and it stays failed
        reader.feed(b"\r\n")


def test_the_reader_refuses_what_breaks_a_bound_or_the_format() -> None:
    big = b"X: " + b"y" * MAX_MESSAGE + b"\r\n\r\n"
    _refused(BANNER + big, "larger than")
    _refused(BANNER + b"X: " + b"y" * MAX_MESSAGE, "larger than")  # no line end yet
    lines = b"".join(b"K%d: v\r\n" % i for i in range(MAX_LINES + 1))
    _refused(BANNER + lines + b"\r\n", f"more than {MAX_LINES} lines")
    _refused(b"x" * (MAX_BANNER + 1), "banner longer")
    _refused(BANNER + b"no colon here\r\n\r\n", "malformed AMI line")
    _refused(BANNER + b": empty key\r\n\r\n", "malformed AMI line")
    _refused(BANNER + b"Two words: x\r\n\r\n", "malformed AMI line")
    _refused(BANNER + b"Response: Success\r\n", "middle of a message")  # eof inside
    _refused(BANNER + b"Response: Succ", "middle of a message")
    reader = AmiReader()
    reader.feed(BANNER + b"".join(b"K%d: v\r\n" % i for i in range(MAX_LINES)) + b"\r\n")
    assert len(reader.next_message() or {}) == MAX_LINES  # the bound itself passes


# ---------------------------------------------------------------- whole captured sessions


def test_a_real_session_is_replayed_byte_for_byte() -> None:
    """c5: login, filter, a busy and an answered originate, the list, a hang-up, logoff."""
    hangup_action = fields(sent("c5")[5])
    assert hangup_action["Action"] == "Hangup"

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            busy = await ami.originate(
                "Local/13800138004@destinations",
                "destinations",
                "13800138000",
                caller_id="4006001003",
                ring_timeout=10,
            )
            up = await ami.originate(
                "Local/13800138000@destinations",
                "destinations",
                "13800138000",
                caller_id="4006001003",
                ring_timeout=10,
            )
            live = await ami.live_calls()
            gone = await ami.hangup(hangup_action["Channel"])
            after = await ami.live_calls()
            ended = [await ami.next_hangup(LIMIT) for _ in range(4)]
            nothing = await ami.next_hangup(0.05)
        return busy, up, live, gone, after, ended, nothing

    (busy, up, live, gone, after, ended, nothing), received = run(replay("c5"), client)
    assert received == sent("c5")  # every byte, ActionIDs included
    assert (busy["Response"], busy["Reason"], busy["Uniqueid"]) == ("Failure", "5", "<unknown>")
    assert (up["Response"], up["Reason"]) == ("Success", "4")
    assert live == set(uniqueids(said("c5", "rc-5"), "CoreShowChannel"))
    assert up["Uniqueid"] in live and len(live) == 2
    assert gone is True
    assert after == set()
    assert ended == uniqueids(asterisk_bytes("c5"), "Hangup")
    assert set(ended[2:]) == live
    assert nothing is None


def test_events_interleaved_with_responses_and_lists() -> None:
    """c3, without a filter on Asterisk's side: ~20 events a call come between the answers."""

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            assert await ami.live_calls() == set()
            assert await ami.list_action("BridgeList", "BridgeListComplete") == []
            queued = await ami.action(
                "Originate",
                Channel="Local/13800138000@destinations",
                Application="Wait",
                Data="60",
                CallerID="4006001003",
                Timeout="10000",
                Async="true",
            )
            live = await ami.live_calls()
            bridges = await ami.list_action("BridgeList", "BridgeListComplete")
            assert await ami.hangup("PJSIP/nosuch-00000000") is False
            with pytest.raises(ActionFailed, match="unknown command: NoSuchAction. Use Action"):
                await ami.action("NoSuchAction")
            listed = await ami.action(
                "Hangup", Channel="/^Local/13800138000@destinations-.*;1$/", Cause="16"
            )
            ended = {await ami.next_hangup(LIMIT), await ami.next_hangup(LIMIT)}
            after = await ami.live_calls()
        return queued, live, bridges, listed, ended, after

    extras = {"Filter": FILTER_OK}
    (queued, live, bridges, listed, ended, after), received = run(replay("c3", extras), client)
    assert queued["Message"] == "Originate successfully queued"
    assert live == set(uniqueids(said("c3", "rc-5"), "CoreShowChannel"))
    assert bridges == []  # two Local halves, no bridge
    assert listed["EventList"] == "start"  # its ChannelHungup list events are dropped
    assert ended == live
    assert after == set()
    assert len(received) == len(sent("c3")) + 1  # the Filter


def test_a_caller_up_in_agi_a_redirect_and_hangups_of_every_kind() -> None:
    """c4: a SIPp caller held by a FastAGI, a refused originate, a redirect, a hang-up."""
    redirect = fields(sent("c4")[5])
    hangup = fields(sent("c4")[6])
    assert (redirect["Action"], hangup["Action"]) == ("Redirect", "Hangup")

    async def client(port: int) -> Any:
        async with await connect(port) as ami:
            caller = await ami.live_calls()
            with pytest.raises(ActionFailed, match="Originate failed") as refused:
                await ami.action(
                    "Originate",
                    Channel="PJSIP/13800138000@nosuch",
                    Application="Wait",
                    Data="1",
                    Timeout="2000",
                )
            for number in ("13800138000", "13800138010"):
                await ami.action(
                    "Originate",
                    Channel=f"Local/{number}@destinations",
                    Application="Wait",
                    Data="60",
                    CallerID="4006001003",
                    Async="true",
                )
            await ami.redirect(redirect["Channel"], "destinations", "13800138001")
            gone = await ami.hangup(hangup["Channel"])
            after = await ami.live_calls()
            ended = []
            while (uid := await ami.next_hangup(0.05)) is not None:
                ended.append(uid)
        return caller, refused.value.response, gone, after, ended

    (caller, refusal, gone, after, ended), _ = run(replay("c4", {"Filter": FILTER_OK}), client)
    assert caller == set(uniqueids(said("c4", "rc-2"), "CoreShowChannel"))
    assert refusal["Message"] == "Originate failed"
    assert gone is True
    assert after == set()
    assert ended == uniqueids(asterisk_bytes("c4"), "Hangup")
    assert caller <= set(ended)  # the caller's BYE: a Hangup with Cause 0


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
