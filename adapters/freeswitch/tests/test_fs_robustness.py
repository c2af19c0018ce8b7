"""The ESL server when calls go wrong: a hang-up or a closed socket at every application,
caller IDs built to inject, broken and stalled FreeSWITCH bytes beside a healthy call, and
random truncation and hang-up points. Whatever happens: every claim is released, each call
has exactly one record, nothing escapes the server."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from fakefs import (
    BUSY,
    MONDAY_10,
    NIXEVENT,
    Bridge,
    FakeFreeSwitch,
    Script,
    busy,
    idle,
    play,
    records,
    run,
    serving,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.adapter.values import checked

# (destination, script options, FakeFreeSwitch options, clock)
SCENARIOS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "recorded+survey": ("8006001007", {"keys": ["1", "3"], "bridges": [Bridge()]}, {}),
    "busy+voicemail": ("4006001006", {"keys": ["1", "1"], "bridges": [BUSY, BUSY]}, {}),
    "conference": ("8006001007", {"keys": ["2", "20261"]}, {}),
    "at once": ("4006001002", {"bridges": [Bridge(answer=1)]}, {}),
    "extensions": ("4006001004", {"keys": ["801", "800"], "bridges": [BUSY, Bridge()]}, {}),
    "outbound": (
        "13912345678",
        {"bridges": [Bridge()]},
        {"caller": "13800138001", "service": "4006001003", "outbound": True},
    ),
}


def fake_of(templates: Any, name: str, **script: Any) -> FakeFreeSwitch:
    destination, options, call = SCENARIOS[name]
    return FakeFreeSwitch(
        templates, Script(**{**options, **script}), destination=destination, **call
    )


def no_errors(caplog: Any) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_hang_up_or_close_at_every_application(
    fs_host: Any, templates: Any, caplog: Any, name: str
) -> None:
    async def main() -> None:
        async with serving(fs_host, clock=MONDAY_10) as s:
            clean = fake_of(templates, name)
            await clean.run(s.port)
            await idle(s.server)
            assert len(records(fs_host, clean)) == 1 and busy(fs_host) == {}
            steps = clean.step
            assert steps >= 2
            for step in range(steps):
                for how in ("hangup_at", "close_at"):
                    fake = fake_of(templates, name, **{how: step})
                    await fake.run(s.port)
                    await idle(s.server)
                    assert len(records(fs_host, fake)) == 1, (how, step)
                    assert busy(fs_host) == {}, (how, step)
                    assert fake.closed_by_server or how == "close_at"
                    if step < len(fake.executed):  # (a weighted pick may make it shorter)
                        # nothing is sent to a channel that has gone
                        assert len(fake.executed) == step + 1, (how, step, fake.executed[step:])

    asyncio.run(main())
    no_errors(caplog)


EVIL_CALLERS = [
    "13800138000\nexecute-app-name: hangup",
    "13800138000\n\napi uuid_kill all",
    "138,00|13{80}[00]^'\"",
    "\x00\x01\x1b[31m\x7f\x9b",
    '"Evil" <sip:13800138000@10.0.0.1;user=phone>',
    "${system(rm -rf /)}",
    "%0Aevent-lock: false",
    "138\u2028\u2029 00\r\n",
    "",
    "9" * 300,
]
_ATOM = re.compile(r"[A-Za-z0-9_.+*:@/\-\u4e00-\u9fff]{1,1024}")
_LEG = re.compile(r"\[leg_timeout=(\d+),origination_uuid=([0-9a-f-]{36})\]([^,\[\]]+)")
_CONSTANTS = {"[0-9*#]+", "[1-4]", "#"}


def _atom(word: str) -> bool:
    return _ATOM.fullmatch(word) is not None and ".." not in word


def _word_ok(app: str, word: str) -> bool:
    if _atom(word) or word in _CONSTANTS:
        return True
    if word.startswith("file_string://"):
        return all(_atom(w) for w in word.removeprefix("file_string://").split("!"))
    if app in ("set", "multiset") and "=" in word:
        name, value = word.split("=", 1)
        return _atom(name) and (_atom(value) or _word_ok("file", value))
    if app == "bridge":
        legs = _LEG.findall(word)
        joined = ",".join(f"[leg_timeout={t},origination_uuid={u}]{s}" for t, u, s in legs)
        return bool(legs) and joined == word and all(_atom(s) for _, _, s in legs)
    return False


def assert_strict(fake: FakeFreeSwitch) -> None:
    """Every command is well formed and made of checked values and our own separators."""
    for raw in fake.received:
        text = raw.decode("utf-8")
        assert text.endswith("\n\n") and "\n\n" not in text[:-2]
        lines = text[:-2].split("\n")
        for line in lines:
            assert line.isprintable(), line
        if lines[0] != "sendmsg":
            words = lines[0].split(" ")
            assert lines[0] in ("connect", "myevents", NIXEVENT.decode()[:-2], "linger") or (
                words[:2] == ["api", "uuid_kill"] and all(_atom(w) for w in words[2:])
            ), lines
            continue
        names = [line.split(": ", 1)[0] for line in lines[1:]]
        fields = dict(line.split(": ", 1) for line in lines[1:])
        app = fields["execute-app-name"]
        lock = [] if app == "bridge" else ["event-lock"]  # a bridge runs unlocked
        assert names in (
            ["call-command", "execute-app-name", "execute-app-arg", "Event-UUID", *lock],
            ["call-command", "execute-app-name", "Event-UUID", *lock],
        ), lines
        assert _atom(app) and fields.get("event-lock", "true") == "true"
        for word in fields.get("execute-app-arg", "x").split(" "):
            assert _word_ok(app, word), (app, word)


@pytest.mark.parametrize("caller", EVIL_CALLERS)
def test_caller_ids_never_reach_a_command(fs_host: Any, templates: Any, caller: str) -> None:
    fake = FakeFreeSwitch(templates, Script(keys=["1", "1"], bridges=[Bridge()]), caller=caller)
    run(fs_host, fake)
    [record] = records(fs_host, fake)
    assert record["outcome"] == "answered" and busy(fs_host) == {}
    assert record["caller"].isprintable()
    assert_strict(fake)
    sent = b"".join(fake.received).decode()
    arguments = " ".join(e.arg for e in fake.executed)
    assert len(caller) < 4 or caller not in arguments
    for marker in ("uuid_kill all", "system(", "event-lock: false", "Evil", "user=phone", "[31m"):
        assert marker not in sent, marker
    assert len(fake.executed) >= 8


def test_announcements_and_recordings_are_strict(fs_host: Any, templates: Any) -> None:
    fake = fake_of(templates, "recorded+survey")
    run(fs_host, fake)
    assert_strict(fake)
    assert any(e.app == "record_session" for e in fake.executed)


BROKEN = {
    "bad length": b"Content-Length: 12x\nContent-Type: text/event-plain\n\n",
    "negative length": b"Content-Length: -5\n\n",
    "short length": (
        b"Content-Length: 10\nContent-Type: text/event-plain\n\n"
        b"Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: x\n\n"
    ),
    "huge body": b"Content-Length: 2000000\nContent-Type: text/event-plain\n\n" + b"x" * 4096,
    "huge line": b"Event-Name: " + b"A" * 20000,
    "binary": b"\x00\xff\xfe\n\x01\x02\n\n",
    "no colon": b"this is not a header\n\n",
    "reply out of turn": b"Content-Type: command/reply\nReply-Text: +OK\n\n" * 2,
}


@pytest.mark.parametrize("how", [*BROKEN, "stall"])
def test_broken_freeswitch_ends_that_call_only(
    make_host: Any, templates: Any, caplog: Any, how: str
) -> None:
    runtime = make_host(reply_timeout=0.5)
    # the bad call is at its bridge (step 7: claims held) when FreeSWITCH breaks
    script = Script(keys=["1", "1"], bridges=[Bridge()])
    if how == "stall":
        script.stall_at = 7
    else:
        script.corrupt_at, script.corruption = 7, BROKEN[how]
    bad = FakeFreeSwitch(templates, script)
    good = FakeFreeSwitch(
        templates, Script(bridges=[Bridge(talk=5)]), caller="01012345678", destination="4006001001"
    )

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await play(runtime, bad, good)
        return loop.time() - start

    elapsed = asyncio.run(main())
    assert elapsed < 3.0
    [record] = records(runtime, good)
    assert record["outcome"] == "answered" and record["talk_seconds"] == 5
    assert len(records(runtime, bad)) == 1
    assert busy(runtime) == {}
    assert bad.closed_by_server
    assert [e.app for e in bad.executed][-1] in ("bridge", "hangup")
    no_errors(caplog)


@pytest.fixture
def hypothesis_host(make_host: Any) -> Any:
    return make_host(reply_timeout=1.0)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_truncation_and_hang_up_points(
    hypothesis_host: Any, templates: Any, caplog: Any, data: st.DataObject
) -> None:
    runtime = hypothesis_host
    clean = fake_of(templates, "recorded+survey")
    run(runtime, clean)
    # the clean call's length varies with the agent the weighted group picks: draw fractions
    cut = data.draw(st.one_of(st.none(), st.floats(0, 1)), label="cut")
    budget = None if cut is None else int(cut * clean.sent)
    hangup = data.draw(st.one_of(st.none(), st.integers(0, 16)), label="hangup_at")
    fake = fake_of(templates, "recorded+survey", budget=budget, hangup_at=hangup)
    setup = clean.setup_bytes
    run(runtime, fake)
    rows = records(runtime, fake)
    assert len(rows) == (0 if budget is not None and budget < setup else 1)
    assert busy(runtime) == {}
    assert_strict(fake)
    no_errors(caplog)


def test_checked_is_the_alphabet_the_strictness_check_allows() -> None:
    for word in ("/tmp/prompts/welcome.wav", "rc-4006001003-board-1@default", "digits/8.wav"):
        assert checked(word, "x") == word and _atom(word)
    for bad in ("a b", "a,b", "a|b", "{a}", "[a]", "a^b", "a'b", 'a"b', "a\nb", "a!b", "a..b"):
        assert not _atom(bad)
