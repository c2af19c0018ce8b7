"""Complete calls of the example flows through the FastAGI server, over real sockets, with a
fake Asterisk 22 on the other end (``fakeast``): the exact commands the server sends, the call
record it leaves in the store and the claims it leaves (none) in the shared state."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakeast import (
    FakeAsterisk,
    Ring,
    Scenario,
    busy,
    check_call,
    environment,
    records,
    run,
    serving,
)

from routecore.adapter.runtime import Runtime
from routecore.engine.actions import CallStarted, Collect, Dial
from routecore.engine.simulate import simulate

SHANGHAI = ZoneInfo("Asia/Shanghai")
DOMESTIC = ("13800138001", "13800138002")


def call(host: Runtime, scenario: Scenario, env: bytes) -> tuple[FakeAsterisk, int]:
    """One call through a fresh server on ``host``; the fake and the answer port."""

    async def body() -> tuple[FakeAsterisk, int]:
        async with serving(host) as served:
            fake = await served.call(scenario, env)
            return fake, served.handler.answer_port or 0

    fake, port = run(body())
    check_call(fake)
    assert busy(host) == {}, "a claim outlived its call"
    return fake, port


def one_record(host: Runtime, call_id: str) -> dict[str, Any]:
    rows = records(host, call_id)
    assert len(rows) == 1, rows
    return rows[0]


def paths(host: Runtime) -> tuple[str, str]:
    return host.media.prompts, host.media.recordings


def dial_line(targets: list[str], seconds: int, call_id: str, port: int, extra: str = "") -> str:
    dial = "&".join(f"Local/{t}@destinations" for t in targets)
    return f"EXEC Dial {dial},{seconds},gU(rc-answered^{call_id}^{port}^127.0.0.1){extra}"


ANSWERED = ["GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}"]


# ---------------------------------------------------------------- B14: the two-level menu


def test_menu_sales_then_domestic_rings_the_domestic_group(host: Runtime) -> None:
    fake, port = call(host, Scenario(digits=["1", "1"], rings=[Ring(talk=42)]), environment())
    p, _ = paths(host)
    target = fake.dials()[0].split("/")[1].split("@")[0]
    assert target in DOMESTIC
    assert fake.commands() == [
        "ANSWER",
        f'STREAM FILE {p}/4006001003/welcome ""',
        f"GET DATA {p}/main_menu 5000 1",
        f"GET DATA {p}/sales_menu 5000 1",
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line([target], 20, "rcpbx-1796174071.0", port),
        *ANSWERED,
        "EXEC Hangup 16",
    ]
    # the answer subroutine asked who answered and was closed at once
    assert [a.lines for a in fake.answers] == [[]]  # the Local channel names its target
    # after EXEC Hangup, Asterisk's 200 and HANGUP: the server closed the socket itself
    assert fake.lines[-1] == b"EXEC Hangup 16\n" and fake.closed_by_server
    rec = one_record(host, "rcpbx-1796174071.0")
    assert rec["did"] == "4006001003" and rec["caller"] == "13800138000"
    assert rec["outcome"] == "answered" and rec["answered_by"] == target
    assert rec["talk_seconds"] == 42 and rec["tried"] == [target]
    assert rec["branches"] == ["main.1", "sales.1"]
    assert rec["answer"] is not None
    d = host.state.destination(target)
    assert d is not None and d.busy == 0 and d.offered == 1 and d.answered == 1


def test_menu_support_goes_round_robin(host: Runtime) -> None:
    first, _ = call(host, Scenario(digits=["2"], rings=[Ring()]), environment(uniqueid="rr-1"))
    second, _ = call(host, Scenario(digits=["2"], rings=[Ring()]), environment(uniqueid="rr-2"))
    targets = [f.dials()[0].split("/")[1].split("@")[0] for f in (first, second)]
    assert sorted(targets) == ["075523456781", "075523456782"]
    assert [one_record(host, c)["branches"] for c in ("rr-1", "rr-2")] == [["main.2"]] * 2


def test_menu_invalid_keys_retry_then_the_operator(host: Runtime, tmp_path: Path) -> None:
    p, _ = paths(host)
    (Path(p) / "4006001003" / "invalid_key.wav").write_bytes(b"RIFF")
    keys = ["7", "7", "7", "7"]
    fake, port = call(host, Scenario(digits=list(keys), rings=[Ring()]), environment())
    # the engine's own decision for the same keys: as many menu prompts, then the operator
    image = host.image.current()
    sim = simulate(image, CallStarted("4006001003", "13800138000", 1.8e9, "sim"), keys)
    collects = [a for _, acts in sim.steps for a in acts if isinstance(a, Collect)]
    dials = [a for _, acts in sim.steps for a in acts if isinstance(a, Dial)]
    assert dials[0].targets == ("075523456780",)
    cmds = fake.commands()
    assert cmds.count(f"GET DATA {p}/main_menu 5000 1") == len(collects) >= 3
    assert cmds.count(f'STREAM FILE {p}/4006001003/invalid_key ""') == len(collects) - 1
    assert cmds[-3] == dial_line(["075523456780"], 20, "rcpbx-1796174071.0", port)
    assert one_record(host, "rcpbx-1796174071.0")["answered_by"] == "075523456780"


def test_menu_timeout_everywhere_goes_to_the_operator(host: Runtime) -> None:
    fake, _ = call(host, Scenario(digits=[], rings=[Ring("BUSY")]), environment())
    assert fake.dials()[-1].startswith("EXEC Dial Local/075523456780@destinations,20,")
    rec = one_record(host, "rcpbx-1796174071.0")
    assert rec["outcome"] == "busy" and rec["answered_by"] is None
    assert fake.commands()[-1] == "EXEC Hangup 17"


# ---------------------------------------------------------------- B6: area routes


@pytest.mark.parametrize(
    ("caller", "group"),
    [
        ("13800138000", ["13800138000", "01065528888"]),  # a Beijing mobile: beijing
        ("01062345678", ["13800138000", "01065528888"]),  # a Beijing landline
        ("02112345678", ["13916001234"]),  # Shanghai landline: shanghai
        ("075512345678", ["075588886666"]),  # Shenzhen: shenzhen
        ("02012345678", ["02087654321"]),  # Guangzhou: nobody's area, the head office
    ],
)
def test_area_route_by_the_callers_area(host: Runtime, caller: str, group: list[str]) -> None:
    seconds = 30 if group == ["02087654321"] else 20
    fake, port = call(
        host,
        Scenario(rings=[Ring()]),
        environment(dnid="4006001001", caller=caller, uniqueid="area-1"),
    )
    assert fake.dials() == [dial_line(group[:1], seconds, "area-1", port)]
    rec = one_record(host, "area-1")
    assert rec["answered_by"] == group[0] and rec["caller_number"] == caller


def test_sequential_dial_first_no_answer_then_second_answers(host: Runtime) -> None:
    p, _ = paths(host)
    scenario = Scenario(rings=[Ring("NOANSWER"), Ring(talk=7)])
    fake, port = call(host, scenario, environment(dnid="4006001001", uniqueid="seq-1"))
    assert fake.commands() == [
        "ANSWER",
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["13800138000"], 20, "seq-1", port),
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["01065528888"], 20, "seq-1", port),
        *ANSWERED,
        "EXEC Hangup 16",
    ]
    rec = one_record(host, "seq-1")
    assert rec["tried"] == ["13800138000", "01065528888"]
    assert rec["answered_by"] == "01065528888" and rec["talk_seconds"] == 7
    first = host.state.destination("13800138000")
    assert first is not None and (first.offered, first.answered, first.unanswered) == (1, 0, 1)


def test_sequential_dial_nobody_answers(host: Runtime) -> None:
    scenario = Scenario(rings=[Ring("NOANSWER"), Ring("CHANUNAVAIL")])
    fake, _ = call(host, scenario, environment(dnid="4006001001", uniqueid="seq-2"))
    assert len(fake.dials()) == 2
    assert fake.commands()[-1] == "EXEC Hangup 19"
    assert one_record(host, "seq-2")["outcome"] == "no_answer"


# ---------------------------------------------------------------- B7: time routes


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


@pytest.mark.parametrize(
    ("when", "office"),
    [
        ("2026-11-30 10:00", True),  # a Monday in office hours
        ("2026-11-30 22:00", False),  # Monday night
        ("2026-11-29 10:00", False),  # Sunday
        ("2026-12-31 14:00", True),  # New Year's Eve, before it closes early
        ("2026-12-31 16:00", False),  # ... after
        ("2026-10-01 10:00", False),  # National Day, a Thursday
    ],
)
def test_time_route_by_the_moment_of_the_call(
    host: Runtime, monkeypatch: pytest.MonkeyPatch, when: str, office: bool
) -> None:
    import routecore_asterisk.calls as calls_module

    at = _at(when)
    monkeypatch.setattr(calls_module, "time", SimpleNamespace(time=lambda: at))
    fake, port = call(
        host,
        Scenario(rings=[Ring("NOANSWER"), Ring()]),
        environment(dnid="4006001002", uniqueid="time-1"),
    )
    rec = one_record(host, "time-1")
    assert rec["start"] == at
    # routecore's own decision for that moment
    sim = simulate(host.image.current(), CallStarted("4006001002", "13800138000", at, "s"), [])
    expected = next(a for _, acts in sim.steps for a in acts if isinstance(a, Dial))
    first = fake.dials()[0]
    if office:
        assert expected.targets == ("02161234567", "02161234568")
        assert first == dial_line(["02161234567", "02161234568"], 25, "time-1", port)
        # nobody in the office answers: on to the salesperson
        assert fake.dials()[1] == dial_line(["13700137000"], 40, "time-1", port)
    else:
        assert expected.targets == ("13700137000",)
        assert first == dial_line(["13700137000"], 40, "time-1", port)


def test_time_route_now_agrees_with_routecore(host: Runtime) -> None:
    fake, port = call(
        host, Scenario(rings=[Ring()]), environment(dnid="4006001002", uniqueid="time-2")
    )
    rec = one_record(host, "time-2")
    sim = simulate(
        host.image.current(), CallStarted("4006001002", "13800138000", rec["start"], "s"), []
    )
    expected = next(a for _, acts in sim.steps for a in acts if isinstance(a, Dial))
    assert fake.dials()[0] == dial_line(
        list(expected.targets), expected.ring_timeout, "time-2", port
    )


# ---------------------------------------------------------------- B9: the answer moment


def test_simultaneous_dial_releases_the_losers_at_the_answer(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routecore_asterisk.calls as calls_module

    at = _at("2026-11-30 10:00")
    monkeypatch.setattr(calls_module, "time", SimpleNamespace(time=lambda: at))
    seen: dict[str, Any] = {}

    def during_dial(k: int, line: bytes, fake: FakeAsterisk) -> None:
        if line.startswith(b"EXEC Dial"):
            seen["ringing"] = busy(host)

    def at_the_answer(fake: FakeAsterisk) -> None:
        seen["answered"] = busy(host)

    scenario = Scenario(
        rings=[Ring(answerer="02161234568", talk=30, on_answer=at_the_answer)],
        on_step=during_dial,
    )
    fake, _ = call(host, scenario, environment(dnid="4006001002", uniqueid="sim-1"))
    # both phones were claimed while ringing; at the answer (before Dial's reply) the loser
    # was free again and the winner still held
    assert seen["ringing"] == {"02161234567": 1, "02161234568": 1}
    assert seen["answered"] == {"02161234568": 1}
    assert fake.answers[0].lines == []
    rec = one_record(host, "sim-1")
    assert rec["answered_by"] == "02161234568" and rec["talk_seconds"] == 30
    assert rec["tried"] == ["02161234567", "02161234568"]
    loser = host.state.destination("02161234567")
    assert loser is not None and loser.busy == 0 and loser.unanswered == 1


def test_a_second_answer_on_the_same_attempt_is_hung_up(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routecore_asterisk.calls as calls_module

    at = _at("2026-11-30 10:00")
    monkeypatch.setattr(calls_module, "time", SimpleNamespace(time=lambda: at))
    ring = Ring(answerer="02161234567", second="02161234568")
    fake, _ = call(host, Scenario(rings=[ring]), environment(dnid="4006001002", uniqueid="r-1"))
    first, second = fake.answers
    assert first.lines == []  # a Local channel names its target
    # the late leg: asked who it is, then hung up (Asterisk's 200 and HANGUP; the server closed)
    assert second.lines == [b"HANGUP\n"]  # the loser's leg, named by its Local channel
    assert first.closed and second.closed
    rec = one_record(host, "r-1")
    assert rec["answered_by"] == "02161234567"


def test_an_answer_for_an_unknown_call_is_closed(host: Runtime) -> None:
    async def body() -> Any:
        async with serving(host) as served:
            fake = FakeAsterisk(Scenario(), b"")
            port = served.handler.answer_port or 0
            got = await fake.answer(port, "no-such-call", "13800138001", [])
            await served.settle()
            return got

    got = run(body())
    assert got.lines == [] and got.closed


# ---------------------------------------------------------------- V1: the extension dialer


def test_extension_dialer_with_a_second_transfer(host: Runtime) -> None:
    p, _ = paths(host)
    scenario = Scenario(
        digits=["801", "802"],
        rings=[Ring("NOANSWER"), Ring(talk=11), Ring(talk=5)],
        hangup_at=13,  # the caller hangs up when asked for a third extension
    )
    fake, port = call(host, scenario, environment(dnid="4006001004", uniqueid="ext-1"))
    assert fake.commands() == [
        "ANSWER",
        f'STREAM FILE {p}/welcome ""',
        "GET DATA silence/1 5000 3",  # pv_inputext.wav is not uploaded: silence, logged
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["01065520001"], 20, "ext-1", port),  # 801: the desk first, then the mobile
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["13911112222"], 20, "ext-1", port),
        *ANSWERED,
        "GET DATA silence/1 5000 3",  # second transfer
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["13822223333"], 20, "ext-1", port),
        *ANSWERED,
        "GET DATA silence/1 5000 3",  # ... HANGUP, 511: the call ends here
    ]
    rec = one_record(host, "ext-1")
    assert rec["branches"] == ["extensions.801", "extensions.802"]
    assert rec["tried"] == ["01065520001", "13911112222", "13822223333"]
    assert rec["answered_by"] in ("13911112222", "13822223333")


def test_extension_dialer_uses_the_uploaded_prompt(host: Runtime) -> None:
    p, _ = paths(host)
    (Path(p) / "4006001004").mkdir()
    (Path(p) / "4006001004" / "pv_inputext.wav").write_bytes(b"RIFF")
    scenario = Scenario(digits=["800"], rings=[Ring()], hangup_at=8)
    fake, _ = call(host, scenario, environment(dnid="4006001004", uniqueid="ext-2"))
    assert fake.commands()[2] == f"GET DATA {p}/4006001004/pv_inputext 5000 3"


# ---------------------------------------------------------------- V3, B10: memory, announcements


def _agent_prompts(host: Runtime, ids: tuple[int, ...]) -> None:
    p, _ = paths(host)
    for i in ids:
        (Path(p) / f"agent_{i}.wav").write_bytes(b"RIFF")


AGENTS = {"13800138801": 801, "13800138802": 802, "13800138803": 803}


def test_agent_id_announced_when_its_prompt_exists(host: Runtime) -> None:
    p, _ = paths(host)
    _agent_prompts(host, (801, 802, 803))
    fake, port = call(host, Scenario(rings=[Ring()]), environment(dnid="4006001005", uniqueid="a"))
    target = fake.dials()[0].split("/")[1].split("@")[0]
    assert fake.dials()[0] == dial_line([target], 15, "a", port, f"A(:{p}/agent_{AGENTS[target]})")


def test_agent_id_not_announced_without_its_prompt(host: Runtime) -> None:
    fake, port = call(host, Scenario(rings=[Ring()]), environment(dnid="4006001005", uniqueid="b"))
    target = fake.dials()[0].split("/")[1].split("@")[0]
    assert fake.dials()[0] == dial_line([target], 15, "b", port)


def test_call_memory_rings_the_last_agent_first(host: Runtime) -> None:
    call(host, Scenario(rings=[Ring()]), environment(dnid="4006001005", uniqueid="mem-1"))
    agent = one_record(host, "mem-1")["answered_by"]
    assert agent in AGENTS
    for n in (2, 3, 4):
        again, _ = call(
            host, Scenario(rings=[Ring()]), environment(dnid="4006001005", uniqueid=f"mem-{n}")
        )
        assert again.dials()[0].startswith(f"EXEC Dial Local/{agent}@destinations,15,")
    other, _ = call(
        host,
        Scenario(rings=[Ring("BUSY"), Ring("BUSY"), Ring("BUSY")]),
        environment(dnid="4006001005", uniqueid="mem-9", caller="13900000000"),
    )
    assert len(other.dials()) == 3  # another caller: the group's own order, everyone


# ---------------------------------------------------------------- B5: voicemail


def test_busy_agents_then_a_voicemail(host: Runtime) -> None:
    p, r = paths(host)
    scenario = Scenario(digits=["1", "1"], rings=[Ring("BUSY"), Ring("BUSY")], record_ms=9000)
    fake, port = call(host, scenario, environment(dnid="4006001006", uniqueid="vm-1"))
    assert fake.commands() == [
        "ANSWER",
        "GET DATA silence/1 5000 1",  # menu.wav is not uploaded
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["13800138011"], 20, "vm-1", port),
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line(["13800138012"], 20, "vm-1", port),
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        "GET DATA silence/1 5000 1",  # "1 leave a message, 2 keep waiting": 1
        f'STREAM FILE {p}/sys_voicemail ""',
        f"RECORD FILE {r}/vm-1-vm wav # 120000 BEEP s=5",
        "EXEC Hangup 16",
    ]
    rec = one_record(host, "vm-1")
    assert rec["outcome"] == "voicemail" and rec["voicemail"] == "vm-1-vm.wav"
    assert rec["tried"] == ["13800138011", "13800138012"]


def test_voicemail_keep_waiting_rings_again(host: Runtime) -> None:
    scenario = Scenario(digits=["1", "2"], rings=[Ring("BUSY"), Ring("BUSY"), Ring("BUSY"), Ring()])
    fake, _ = call(host, scenario, environment(dnid="4006001006", uniqueid="vm-2"))
    assert len(fake.dials()) == 4
    rec = one_record(host, "vm-2")
    assert rec["outcome"] == "answered" and rec["voicemail"] is None


def test_voicemail_with_nothing_recorded_keeps_no_reference(host: Runtime) -> None:
    scenario = Scenario(digits=["8"], record_ms=0)
    fake, _ = call(host, scenario, environment(dnid="4006001006", uniqueid="vm-3"))
    assert any(c.startswith("RECORD FILE ") for c in fake.commands())
    assert one_record(host, "vm-3")["voicemail"] is None


# ---------------------------------------------------------------- 8006001007: B8 B12 B13 V4


def test_recording_and_survey_after_the_agent_hangs_up(host: Runtime) -> None:
    p, r = paths(host)
    scenario = Scenario(digits=["1", "2"], rings=[Ring(talk=33)])
    fake, port = call(host, scenario, environment(dnid="8006001007", uniqueid="rcpbx-17.4"))
    target = fake.dials()[0].split("/")[1].split("@")[0]
    assert target in ("13800138100", "13800138101")
    cmds = fake.commands()
    assert cmds[:3] == ["ANSWER", f'STREAM FILE {p}/welcome ""', f"GET DATA {p}/main_menu 5000 1"]
    assert cmds[3:] == [
        f"EXEC MixMonitor {r}/rcpbx-17.4.wav,b",  # named from the call id alone
        dial_line([target], 20, "rcpbx-17.4", port),
        *ANSWERED,
        'EXEC StopMixMonitor ""',
        f"GET DATA {p}/sys_survey 10000 1",  # the survey after the agent hung up (g)
        "EXEC Hangup 16",
    ]
    rec = one_record(host, "rcpbx-17.4")
    assert rec["recording"] == "rcpbx-17.4.wav" and rec["recorded"]
    assert rec["survey"] == 2 and rec["talk_seconds"] == 33


def test_survey_with_an_invalid_key_keeps_no_rating(host: Runtime) -> None:
    scenario = Scenario(digits=["1", "7"], rings=[Ring()])
    call(host, scenario, environment(dnid="8006001007", uniqueid="sv-2"))
    assert one_record(host, "sv-2")["survey"] is None


def test_a_caller_id_that_is_no_plain_name_gets_a_digest_recording(host: Runtime) -> None:
    _, r = paths(host)
    fake, _ = call(
        host,
        Scenario(digits=["1", "1"], rings=[Ring()]),
        environment(dnid="8006001007", uniqueid="x/../../etc y"),
    )
    mix = next(c for c in fake.commands() if c.startswith("EXEC MixMonitor"))
    assert mix.startswith(f"EXEC MixMonitor {r}/call-") and mix.endswith(".wav,b")


def test_custom_agent_prompt_announced(host: Runtime) -> None:
    p, _ = paths(host)
    (Path(p) / "8006001007").mkdir()
    (Path(p) / "8006001007" / "agent_zhang.wav").write_bytes(b"RIFF")
    _agent_prompts(host, (805,))
    for n in range(6):
        fake, _ = call(
            host,
            Scenario(digits=["1", "1"], rings=[Ring()]),
            environment(dnid="8006001007", uniqueid=f"z-{n}"),
        )
        dial = fake.dials()[0]
        if "13800138100" in dial:
            assert dial.endswith(f"A(:{p}/8006001007/agent_zhang)")
        else:
            assert dial.endswith(f"A(:{p}/agent_805)")


def test_conference_with_its_password(host: Runtime) -> None:
    p, _ = paths(host)
    scenario = Scenario(digits=["2", "20261"], conference="HANGUP")
    fake, _ = call(host, scenario, environment(dnid="8006001007", uniqueid="conf-1"))
    assert fake.commands() == [
        "ANSWER",
        f'STREAM FILE {p}/welcome ""',
        f"GET DATA {p}/main_menu 5000 1",
        "GET DATA silence/1 10000 8",  # the conference's prompt is not uploaded
        'SET VARIABLE CONFBRIDGE(bridge,max_members) "3"',
        "EXEC ConfBridge rc-8006001007-board-1",
        "GET VARIABLE CONFBRIDGE_RESULT",
        "EXEC Hangup 16",
    ]
    assert one_record(host, "conf-1")["outcome"] == "conference"


def test_conference_wrong_password_back_to_the_menu(host: Runtime) -> None:
    scenario = Scenario(digits=["2", "11111", "11111", "11111", "1"], rings=[Ring()])
    fake, _ = call(host, scenario, environment(dnid="8006001007", uniqueid="conf-2"))
    assert not any("ConfBridge" in c for c in fake.commands())
    assert len(fake.dials()) == 1


@pytest.mark.parametrize("caller", ["13812345678", "17012345678", "+86 171-2345-6789"])
def test_blacklisted_caller_refused_without_answer(host: Runtime, caller: str) -> None:
    fake, _ = call(host, Scenario(), environment(dnid="8006001007", caller=caller, uniqueid="bl-1"))
    # never ANSWERed; Asterisk 22's PJSIP turns cause 21 into SIP 403: 603 is asked for by name
    assert fake.commands() == ["EXEC PJSIPHangup 603"]
    assert one_record(host, "bl-1")["outcome"] == "blacklisted"


@pytest.mark.parametrize("channel", ["IAX2/trunk-00000001", "DAHDI/1-1", "Local/x@y-0001;2"])
def test_blacklisted_caller_on_another_channel_type_gets_cause_21(
    host: Runtime, channel: str
) -> None:
    env = environment(dnid="8006001007", caller="13812345678", uniqueid="bl-2", channel=channel)
    fake, _ = call(host, Scenario(), env)
    assert fake.commands() == ["EXEC Hangup 21"]  # call rejected, as that technology maps it
    assert one_record(host, "bl-2")["outcome"] == "blacklisted"


# ---------------------------------------------------------------- B3: outbound


def test_outbound_call_dials_the_customer(host: Runtime) -> None:
    env = environment(
        script="outbound?did=4006001003",
        caller="13800138001",
        dnid="13912345678",
        extension="13912345678",
        context="agents-out",
        channel="PJSIP/801-00000004",
        uniqueid="out-1",
    )
    fake, port = call(host, Scenario(rings=[Ring(talk=12)]), env)
    assert fake.commands() == [
        'SET VARIABLE CALLERID(num) "4006001003"',  # B3: the customer sees the 400 number
        'SET VARIABLE CALLERID(name) "4006001003"',
        dial_line(["13912345678"], 45, "out-1", port),
        *ANSWERED,
        "EXEC Hangup 16",
    ]
    rec = one_record(host, "out-1")
    assert rec["kind"] == "outbound" and rec["did"] == "4006001003"
    assert rec["caller"] == "13800138001" and rec["callee"] == "13912345678"
    assert rec["answered_by"] == "13912345678" and rec["talk_seconds"] == 12


def test_outbound_without_a_customer_number_is_refused(host: Runtime) -> None:
    env = environment(
        script="outbound?did=4006001003", caller="801", extension="s", uniqueid="out-2"
    )
    fake, _ = call(host, Scenario(), env)
    assert fake.commands() == ["EXEC Hangup 41"]
    assert records(host, "out-2") == []


# ---------------------------------------------------------------- the 400 number


def test_the_did_query_overrides_the_dialled_number(host: Runtime) -> None:
    env = environment(script="route?did=8006001007", dnid="4006001003", uniqueid="q-1")
    call(host, Scenario(digits=["1", "1"], rings=[Ring()]), env)
    assert one_record(host, "q-1")["did"] == "8006001007"


def test_the_first_agi_argument_overrides_the_dialled_number(host: Runtime) -> None:
    env = environment(dnid="4006001003", args=("8006001007",), uniqueid="q-2")
    call(host, Scenario(digits=["1", "1"], rings=[Ring()]), env)
    assert one_record(host, "q-2")["did"] == "8006001007"


def test_a_number_without_a_flow_ends_no_route(host: Runtime) -> None:
    fake, _ = call(host, Scenario(), environment(dnid="4009999999", uniqueid="nr-1"))
    assert fake.commands() == ["EXEC Hangup 1"]
    assert one_record(host, "nr-1")["outcome"] == "no_route"


def test_not_a_number_is_refused_with_a_temporary_failure(host: Runtime) -> None:
    fake, _ = call(host, Scenario(), environment(dnid="s", extension="s", uniqueid="nr-2"))
    assert fake.commands() == ["EXEC Hangup 41"]
    assert records(host, "nr-2") == []


def test_the_environment_is_the_transcripts_byte_for_byte(agi_transcript: list[Any]) -> None:
    sent = b"".join(b for conn, d, b in agi_transcript if conn == "c10" and d == "<<")
    block = sent[: sent.index(b"\n\n") + 2]
    assert environment() == block


# ---------------------------------------------------------------- dial templates, long calls


def test_dial_templates_per_kind_of_number(host: Runtime) -> None:
    from dataclasses import replace

    from routecore.adapter.dialstrings import DialTemplates

    templates = {"default": "Local/{number}@destinations", "mobile": "PJSIP/{number}@trunk"}
    runtime = Runtime(replace(host.config, dial=DialTemplates(templates)))
    try:
        scenario = Scenario(rings=[Ring("BUSY"), Ring(answerer="01065528888")])
        fake, port = call(runtime, scenario, environment(dnid="4006001001", uniqueid="k-1"))
    finally:
        runtime.close()
    u = f"gU(rc-answered^k-1^{port}^127.0.0.1)"
    assert fake.dials() == [
        f"EXEC Dial PJSIP/13800138000@trunk,20,{u}",  # a mobile: through the trunk
        f"EXEC Dial Local/01065528888@destinations,20,{u}",  # a landline: the default
    ]
    assert one_record(host, "k-1")["answered_by"] == "01065528888"


def test_a_long_dial_renews_its_claims_and_ends_normally(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from fakeast import errors_logged

    from routecore.adapter.call import CallDriver

    renewals: list[str] = []
    keep_alive = CallDriver.keep_alive

    def counted(driver: CallDriver) -> None:
        renewals.append(driver.call_id)
        keep_alive(driver)

    monkeypatch.setattr(CallDriver, "keep_alive", counted)
    runtime = Runtime(replace(host.config, keepalive_every=0.05))
    seen: dict[str, Any] = {}
    ring = Ring(delay=0.4, talk=600, on_answer=lambda fake: seen.update(held=busy(runtime)))
    try:
        with errors_logged() as errors:
            call(runtime, Scenario(digits=["2"], rings=[ring]), environment(uniqueid="long"))
    finally:
        runtime.close()
    assert errors.records == []
    assert list(seen["held"].values()) == [1]
    assert len(renewals) >= 3 and set(renewals) == {"long"}  # every 0.05 s while dialling
    rec = one_record(host, "long")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 600


def test_a_server_writes_records_and_sms_off_its_event_loop(host: Runtime) -> None:
    """B2: the post-call SMS of a flow that has one is queued in the store's outbox; in a server
    records and SMS are written by the worker's writer thread (never on the event loop), and a
    call's connection closes only once both are stored."""
    host.start_writer()
    caller = "13912345678"  # a mobile: it can get an SMS
    scenario = Scenario(digits=["1", "2"], rings=[Ring(talk=5)])
    call(host, scenario, environment(dnid="8006001007", uniqueid="sms-1", caller=caller))
    rec = one_record(host, "sms-1")  # stored when the call ended, not eventually
    assert rec["outcome"] == "answered"
    outbox = host.calls.pending_sms()
    assert [(row["kind"], row["to_number"]) for row in outbox] == [("hangup", caller)]


def test_a_caller_who_hangs_up_while_the_targets_ring_ends_the_call(host: Runtime) -> None:
    """Asterisk's DIALSTATUS CANCEL: the caller hung up during the Dial. The call ends there:
    no other target is tried (or offered), and the record says the caller hung up."""
    scenario = Scenario(digits=["1", "1"], rings=[Ring(status="CANCEL", result=-1), Ring()])
    fake, _ = call(host, scenario, environment(uniqueid="cancel-1"))
    assert len(fake.dials()) == 1
    rec = one_record(host, "cancel-1")
    assert rec["outcome"] == "caller_hung_up" and len(rec["tried"]) == 1
    assert busy(host) == {}
