"""Complete calls of the examples through the ESL server, over real sockets: the fake
FreeSWITCH speaks the transcript's bytes, the server drives the routing engine."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fakefs import (
    BUSY,
    MONDAY_10,
    NO_ANSWER,
    REFUSED,
    SUNDAY_22,
    Bridge,
    FakeFreeSwitch,
    Script,
    busy,
    records,
    run,
)


def apps(fake: FakeFreeSwitch) -> list[str]:
    """``app arg`` of every application the server ran, in order."""
    return [f"{e.app} {e.arg}".strip() for e in fake.executed]


def bridged(fake: FakeFreeSwitch) -> list[list[tuple[str, str]]]:
    """Per bridge, its legs as (target, ring timeout)."""
    out = []
    for e in fake.executed:
        if e.app == "bridge":
            legs = re.findall(r"\[leg_timeout=(\d+),origination_uuid=[0-9a-f-]{36}\]([^,]+)", e.arg)
            out.append([(s.split("/")[1], t) for t, s in legs])
    return out


def one_record(runtime: Any, fake: FakeFreeSwitch) -> dict[str, Any]:
    rows = records(runtime, fake)
    assert len(rows) == 1, rows
    assert busy(runtime) == {}, "a claim leaked"
    assert fake.closed_by_server and fake.notice_sent
    return rows[0]


def prompt(runtime: Any, *parts: str) -> str:
    return str(Path(runtime.config.prompts, *parts))


def test_menu_to_domestic_group(fs_host: Any, templates: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="routecore.call")
    fake = FakeFreeSwitch(templates, Script(keys=["1", "1"], bridges=[Bridge(talk=4)]))
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    [[(target, timeout)]] = bridged(fake)
    assert target in ("13800138001", "13800138002") and timeout == "20"
    assert record["outcome"] == "answered" and record["answered_by"] == target
    assert record["talk_seconds"] == 4 and record["branches"] == ["main.1", "sales.1"]
    assert apps(fake)[:5] == [
        "answer",
        "playback " + prompt(fs_host, "4006001003", "welcome.wav"),
        f"play_and_get_digits 1 1 1 5000 none {prompt(fs_host, 'main_menu.wav')} "
        "silence_stream://250 rc_digits_1 [0-9*#]+",
        f"play_and_get_digits 1 1 1 5000 none {prompt(fs_host, 'sales_menu.wav')} "
        "silence_stream://250 rc_digits_2 [0-9*#]+",
        "playback " + prompt(fs_host, "sys_transfer.wav"),
    ]
    assert apps(fake)[5] == "multiset continue_on_fail=true hangup_after_bridge=false"
    assert apps(fake)[-1] == "hangup NORMAL_CLEARING"
    # every application holds the channel's queue while it runs, but the bridge: its
    # announcement (bridge_pre_execute_aleg_app) must run at the answer, not after the call
    assert all(("event-lock: true" in e.lines) == (e.app != "bridge") for e in fake.executed)
    uuids = [line for e in fake.executed for line in e.lines if line.startswith("Event-UUID: ")]
    assert len(set(uuids)) == len(fake.executed)
    [line] = [r.getMessage() for r in caplog.records if r.name == "routecore.call"]
    logged = json.loads(line)
    assert logged["call"] == fake.uuid and logged["protocol"] == "esl"
    assert logged["outcome"] == "answered" and logged["answered_by"] == target
    assert logged["error"] is None and logged["setup_ms"] is not None


def test_menu_timeouts_go_to_the_operator(fs_host: Any, templates: Any) -> None:
    script = Script(keys=["", "", "", ""], bridges=[Bridge(talk=2)])
    fake = FakeFreeSwitch(templates, script)
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [[("075523456780", "20")]]
    assert record["answered_by"] == "075523456780"


@pytest.mark.parametrize(
    ("caller", "legs", "answered_by"),
    [
        ("01012345678", ["13800138000", "01065528888"], "01065528888"),  # Beijing: in order
        ("02112345678", ["13916001234"], None),  # Shanghai
        ("075512345678", ["075588886666"], None),  # Shenzhen
        ("13912345678", ["02087654321"], None),  # a Liaoning mobile: head office
    ],
)
def test_area_routes(
    fs_host: Any, templates: Any, caller: str, legs: list[str], answered_by: str | None
) -> None:
    fake = FakeFreeSwitch(
        templates,
        Script(bridges=[NO_ANSWER, Bridge(talk=5)]),
        caller=caller,
        destination="4006001001",
    )
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    timeout = "30" if legs == ["02087654321"] else "20"
    assert bridged(fake) == [[(leg, timeout)] for leg in legs]
    assert record["answered_by"] == answered_by
    if answered_by is None:
        assert record["outcome"] == "no_answer" and apps(fake)[-1] == "hangup NO_ANSWER"
    assert apps(fake)[0] == "answer"  # sys_transfer is the first media


def test_office_hours_ring_at_once_and_free_the_loser(fs_host: Any, templates: Any) -> None:
    seen: list[dict[str, int]] = []

    async def at_bridge(number: str) -> None:
        import asyncio

        for _ in range(500):  # the server handles the CHANNEL_BRIDGE: the loser is freed
            if busy(fs_host).get("02161234567", 0) == 0:
                break
            await asyncio.sleep(0.002)
        seen.append(busy(fs_host))

    fake = FakeFreeSwitch(
        templates,
        Script(bridges=[Bridge(answer=1, talk=9)], on_bridge=at_bridge),
        destination="4006001002",
    )
    run(fs_host, fake, clock=MONDAY_10)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [[("02161234567", "25"), ("02161234568", "25")]]
    assert seen == [{"02161234568": 1}]  # while the call talks, only the winner is busy
    assert record["answered_by"] == "02161234568" and record["talk_seconds"] == 9
    answered = fs_host.state.destination("02161234568")
    assert answered.answered == 1 and answered.talk_seconds == 9


def test_nights_go_to_the_salesperson(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(templates, Script(bridges=[BUSY]), destination="4006001002")
    run(fs_host, fake, clock=SUNDAY_22)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [[("13700137000", "40")]]
    assert record["outcome"] == "busy" and apps(fake)[-1] == "hangup USER_BUSY"


def test_busy_agents_then_voicemail(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(
        templates,
        Script(keys=["1", "1"], bridges=[BUSY, BUSY], record_seconds=12),
        destination="4006001006",
    )
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [[("13800138011", "20")], [("13800138012", "20")]]
    recordings = fs_host.config.recordings
    assert apps(fake)[-3:] == [
        "playback " + prompt(fs_host, "sys_voicemail.wav"),
        f"record {recordings}/{fake.uuid}-vm.wav 120 200 5",
        "hangup NORMAL_CLEARING",
    ]
    assert record["outcome"] == "voicemail" and record["voicemail"] == f"{fake.uuid}-vm.wav"
    assert record["busy"] == [] and record["tried"] == ["13800138011", "13800138012"]


def test_no_answer_keep_waiting_then_nothing_left(fs_host: Any, templates: Any) -> None:
    script = Script(
        keys=["1", "2", "1"], bridges=[NO_ANSWER, REFUSED, NO_ANSWER, NO_ANSWER], record_seconds=0
    )
    fake = FakeFreeSwitch(templates, script, destination="4006001006")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert len(bridged(fake)) == 4
    assert record["outcome"] == "voicemail" and record["voicemail"] is None  # nothing said


def test_direct_voicemail_key(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(templates, Script(keys=["8"]), destination="4006001006")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert bridged(fake) == []
    assert record["voicemail"] == f"{fake.uuid}-vm.wav"
    assert not any(a.startswith("unset record_seconds") for a in apps(fake))


def test_recorded_call_with_announcement_and_survey(fs_host: Any, templates: Any) -> None:
    Path(prompt(fs_host, "8006001007")).mkdir()
    Path(prompt(fs_host, "8006001007", "agent_zhang.wav")).write_bytes(b"RIFF")
    fake = FakeFreeSwitch(
        templates,
        Script(keys=["1", "2"], bridges=[Bridge(talk=6)]),
        destination="8006001007",
    )
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    [[(target, _)]] = bridged(fake)
    announcement = {
        "13800138100": prompt(fs_host, "8006001007", "agent_zhang.wav"),
        "13800138101": "file_string://digits/8.wav!digits/0.wav!digits/5.wav",
    }[target]
    recording = f"{fs_host.config.recordings}/{fake.uuid}.wav"
    done = apps(fake)
    start = done.index(
        "multiset continue_on_fail=true hangup_after_bridge=false RECORD_BRIDGE_REQ=true"
    )
    assert done[start:] == [
        "multiset continue_on_fail=true hangup_after_bridge=false RECORD_BRIDGE_REQ=true",
        f"record_session {recording}",
        "multiset bridge_pre_execute_aleg_app=playback "
        f"bridge_pre_execute_aleg_data={announcement}",
        done[start + 3],  # the bridge
        f"stop_record_session {recording}",
        f"play_and_get_digits 1 1 1 10000 # {prompt(fs_host, 'sys_survey.wav')} "
        "silence_stream://250 rc_digits_2 [1-4]",
        "hangup NORMAL_CLEARING",
    ]
    assert record["recording"] == f"{fake.uuid}.wav" and record["recorded"]
    assert record["survey"] == 2 and record["talk_seconds"] == 6
    assert record["answered_by"] == target


def test_blacklisted_caller_is_refused_unanswered(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(templates, caller="13812345678", destination="8006001007")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert apps(fake) == ["hangup CALL_REJECTED"]
    assert record["outcome"] == "blacklisted"


def test_extensions_with_a_second_transfer(fs_host: Any, templates: Any) -> None:
    script = Script(keys=["801", "099"], bridges=[BUSY, Bridge(talk=3), Bridge(talk=8)])
    fake = FakeFreeSwitch(templates, script, destination="4006001004")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [
        [("01065520001", "20")],
        [("13911112222", "20")],
        [("02161234500", "20")],
    ]
    collects = [a for a in apps(fake) if a.startswith("play_and_get_digits")]
    assert len(collects) == 3  # the third: the caller hangs up instead of keying
    assert all(" 1 3 1 5000 none " in f" {c.split(' ', 1)[1]}" for c in collects)
    assert record["branches"] == ["extensions.801", "extensions.099"]
    # the first agent answered; both extensions talked and both legs are billed
    assert record["outcome"] == "answered" and record["answered_by"] == "13911112222"
    assert record["talked_with"] == ["13911112222", "02161234500"]
    assert record["talk_seconds"] == 11
    assert sum("continue_on_fail=true" in app for app in apps(fake)) == 1


@pytest.mark.parametrize("joins", [True, False])
def test_conference(fs_host: Any, templates: Any, joins: bool) -> None:
    script = Script(keys=["2", "20261"], conference_joins=joins)
    fake = FakeFreeSwitch(templates, script, destination="8006001007")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    done = apps(fake)
    password = done.index("set conference_max_members=3") - 1
    assert done[password].startswith("play_and_get_digits 1 8 1 10000 # ")
    assert done[password + 2] == "conference rc-8006001007-board-1@default"
    if joins:
        assert record["outcome"] == "conference" and done[-1] == "hangup NORMAL_CLEARING"
    else:  # back to the main menu, where the caller hangs up
        assert record["outcome"] == "caller_hung_up"
        assert done[-1].startswith("play_and_get_digits 1 1 1 5000 none ")


def test_outbound_call_of_an_agent(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(
        templates,
        Script(bridges=[Bridge(talk=11)]),
        caller="13800138001",
        destination="13912345678",
        service="4006001003",
        outbound=True,
    )
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert bridged(fake) == [[("13912345678", "45")]]
    assert record["kind"] == "outbound" and record["callee"] == "13912345678"
    assert record["outcome"] == "answered" and record["talk_seconds"] == 11
    assert "answer" not in apps(fake)


@pytest.mark.parametrize(
    ("destination", "service"), [("4006009999", "same"), ("lobby", None), ("4006001003", "x1")]
)
def test_refused_calls(fs_host: Any, templates: Any, destination: str, service: str | None) -> None:
    fake = FakeFreeSwitch(templates, destination=destination, service=service)
    run(fs_host, fake)
    rows = records(fs_host, fake)
    if destination == "4006009999":  # a number without a flow: the engine's no_route
        assert [r["outcome"] for r in rows] == ["no_route"]
        assert apps(fake) == ["hangup UNALLOCATED_NUMBER"]
    else:  # not a number at all: refused before a session
        assert rows == [] and apps(fake) == ["hangup NORMAL_TEMPORARY_FAILURE"]
    assert fake.closed_by_server


def test_a_second_answer_drops_that_leg(fs_host: Any, templates: Any) -> None:
    fake = FakeFreeSwitch(
        templates,
        Script(bridges=[Bridge(answer=0, second=1, talk=2)]),
        destination="4006001002",
    )
    run(fs_host, fake, clock=MONDAY_10)
    record = one_record(fs_host, fake)
    [legs] = [e.arg for e in fake.executed if e.app == "bridge"]
    second = re.findall(r"origination_uuid=([0-9a-f-]{36})", legs)[1]
    assert fake.api == [f"api uuid_kill {second}"]
    assert record["answered_by"] == "02161234567"


def test_caller_hangs_up_while_ringing(fs_host: Any, templates: Any) -> None:
    script = Script(bridges=[NO_ANSWER], hangup_at=3)  # answer, playback, multiset, bridge
    fake = FakeFreeSwitch(templates, script, destination="4006001001")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert record["outcome"] == "caller_hung_up" and record["tried"] == ["13800138000"]  # Beijing
    assert apps(fake)[-1].startswith("bridge ")  # nothing more was sent to the dead channel


def test_caller_hangs_up_while_talking(fs_host: Any, templates: Any) -> None:
    script = Script(bridges=[Bridge(talk=21)], hangup_at=3)
    fake = FakeFreeSwitch(templates, script, destination="4006001001")
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    assert record["outcome"] == "answered" and record["talk_seconds"] == 21
    assert apps(fake)[-1].startswith("bridge ")


def test_metrics_count_the_calls(fs_host: Any, templates: Any) -> None:
    from routecore.adapter.metrics import Metrics

    metrics = Metrics(fs_host.state)
    fakes = [
        FakeFreeSwitch(templates, Script(keys=["1", "1"], bridges=[Bridge()])),
        FakeFreeSwitch(templates, caller="13812345678", destination="8006001007"),
    ]
    run(fs_host, *fakes, observer=metrics)
    sample = metrics.registry.get_sample_value
    assert sample("routecore_calls_total", {"outcome": "answered"}) == 1
    assert sample("routecore_calls_total", {"outcome": "blacklisted"}) == 1
    assert sample("routecore_active_calls") == 0
    assert sample("routecore_setup_seconds_count") == 2


def test_metrics_name_destinations_only_when_asked(fs_host: Any, templates: Any) -> None:
    from prometheus_client import generate_latest

    from routecore.adapter.metrics import Metrics

    fake = FakeFreeSwitch(templates, Script(keys=["1", "1"], bridges=[Bridge()]))
    run(fs_host, fake)
    quiet = generate_latest(Metrics(fs_host.state).registry).decode()
    assert "routecore_destinations_answered_total 1.0" in quiet
    assert "destination=" not in quiet  # customers' numbers stay out of the labels
    named = Metrics(fs_host.state, per_destination=True).registry.get_sample_value
    answered = one_record(fs_host, fake)["answered_by"]
    assert named("routecore_destination_answered_total", {"destination": answered}) == 1


def test_a_seat_transfer_rings_the_new_seat_and_the_record_names_both(
    fs_host: Any, templates: Any
) -> None:
    """V5: ``routecore_transfer`` on the caller's channel when the bridge completes is the
    seat's transfer: unset at once, the new seat rung after the transfer prompt."""
    seat = "13900001111"
    script = Script(keys=["1", "1"], bridges=[Bridge(talk=30, transfer=seat), Bridge(talk=20)])
    fake = FakeFreeSwitch(templates, script)
    run(fs_host, fake)
    record = one_record(fs_host, fake)
    [[(first, _)], [(second, timeout)]] = bridged(fake)
    assert (second, timeout) == (seat, "30")
    done = apps(fake)
    at = done.index("unset routecore_transfer")
    assert done[at - 1].startswith("bridge ") and done[at + 1].startswith("playback ")
    assert done.count("unset routecore_transfer") == 1  # the second bridge carried none
    assert record["talked_with"] == [first, seat] and record["transfers"] == [seat]
    assert record["talk_seconds"] == 50 and record["answered_by"] == first
