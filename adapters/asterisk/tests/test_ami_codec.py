"""The AMI client's reader and whole captured sessions: the bytes a real Asterisk 22.10.1 sent
(``adapters/transcripts/asterisk-22-ami.log``) parsed however they are split, and replayed action
by action (what the client sends equals what was sent to the real one, ActionIDs aside)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fakeami import (
    BANNER,
    CONVERSATIONS,
    FILTER_OK,
    LIMIT,
    asterisk_bytes,
    connect,
    fields,
    messages,
    replay,
    run,
    said,
    sent,
    uniqueids,
)

from routecore.adapter.errors import ProtocolError
from routecore_asterisk.ami import (
    MAX_BANNER,
    MAX_LINES,
    MAX_MESSAGE,
    ActionFailed,
    AmiReader,
)

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
