"""The FreeSWITCH adapter's pieces on their own: the first Event from the real connect reply,
the answering leg from the real CHANNEL_BRIDGE, the result table, the applications on a
scripted channel (the answer moment, announcements, DropLeg), the console command."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from routecore.adapter.errors import ChannelGone, UnsafeValue
from routecore.engine.actions import (
    CallStarted,
    Collect,
    Conference,
    Dial,
    DropLeg,
    Hangup,
    OutboundStarted,
    Play,
    Survey,
    Voicemail,
)
from routecore_freeswitch import cli
from routecore_freeswitch.applications import Applications, _answering, dial_outcome
from routecore_freeswitch.calls import first_event
from routecore_freeswitch.codec import Event, Frame, FrameReader

LEG = "f715f6b5-0a94-467d-a138-9c129a938414"


def frames(chunks: list[bytes]) -> list[Frame]:
    reader = FrameReader()
    out = []
    for chunk in chunks:
        reader.feed(chunk)
        while (frame := reader.next_frame()) is not None:
            out.append(frame)
    return out


def transcript_event(chunks: list[bytes], name: str, application: str | None = None) -> Event:
    for frame in frames(chunks):
        event = frame.event()
        if event is not None and event.name == name:
            if application is None or event.get("Application") == application:
                return event
    raise AssertionError(name)


def test_first_event_of_the_transcripts_call(fs_chunks: list[bytes]) -> None:
    data = frames(fs_chunks[:1])[0].channel_data()
    first = first_event(data, 1796174498.0)
    assert first == CallStarted(
        "4006001003", "13800138000", 1796174498.0, "71cef200-1bf0-46fb-b827-38adb8fe5e15"
    )
    del data["variable_routecore_service"]  # the destination number then
    assert first_event(data, 1.0).did == "4006001003"
    data.update(variable_routecore_service="4006001003", variable_routecore_outbound="true")
    data["Caller-Destination-Number"] = "13912345678"
    assert first_event(data, 1.0) == OutboundStarted(
        "4006001003", "13800138000", "13912345678", 1.0, "71cef200-1bf0-46fb-b827-38adb8fe5e15"
    )
    # the portal's click to call names the agent: an originated channel's caller ID may not
    data.update({"Caller-Caller-ID-Number": "destinations", "variable_routecore_agent": "801"})
    assert first_event(data, 1.0).agent == "801"
    data["Unique-ID"] = "a b/../../etc"  # not a plain name: a digest of it
    assert re.fullmatch(r"call-[0-9a-f]{32}", first_event(data, 1.0).call_id)


def test_answering_leg_of_the_transcripts_bridge(fs_chunks: list[bytes]) -> None:
    bridge = transcript_event(fs_chunks, "CHANNEL_BRIDGE")
    done = transcript_event(fs_chunks, "CHANNEL_EXECUTE_COMPLETE", "bridge")
    for event in (bridge, done):
        # by our origination_uuid first, then by the number FreeSWITCH names
        assert _answering(event, {LEG: "13800138001"}, ["13800138002", "13800138001"]) == (
            "13800138001"
        )
        assert _answering(event, {}, ["13800138002", "13800138001"]) == "13800138001"
        assert _answering(event, {}, ["13800138009"]) == "13800138009"  # the only one rung
        assert _answering(event, {}, ["13800138008", "13800138009"]) == "13800138001"
    assert done.variable("originate_disposition") == "SUCCESS"
    assert int(done.get("Event-Date-Timestamp")) - int(bridge.get("Event-Date-Timestamp")) == (
        3_020_000
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("SUCCESS", "answered"),
        ("USER_BUSY", "busy"),
        ("NO_ANSWER", "no_answer"),
        ("NO_USER_RESPONSE", "no_answer"),
        ("ORIGINATOR_CANCEL", "no_answer"),
        ("SUBSCRIBER_ABSENT", "failed"),
        ("CALL_REJECTED", "failed"),
        ("UNALLOCATED_NUMBER", "failed"),
        ("", "failed"),
    ],
)
def test_dial_outcomes(status: str, outcome: str) -> None:
    assert dial_outcome(status) == outcome


# -- the applications on a scripted channel ------------------------------------------------------


class ScriptedChannel:
    """A channel whose applications complete as ``results`` say (``app`` → variables, or a
    callable getting (arg, on_event) and returning them)."""

    def __init__(self, **results: Any) -> None:
        self.channel_uuid = "71cef200-1bf0-46fb-b827-38adb8fe5e15"
        self.hung_up = False
        self.results = results
        self.ran: list[tuple[str, str]] = []
        self.commands: list[str] = []

    async def execute(
        self,
        app: str,
        arg: str = "",
        *,
        timeout: float | None,
        reply_timeout: float | None = None,
        on_event: Callable[[Event], object] | None = None,
        event_lock: bool = True,
    ) -> Event:
        if self.hung_up:
            raise ChannelGone(app)
        self.ran.append((app, arg))
        result = self.results.get(app, {})
        if callable(result):
            result = result(arg, on_event)
            await asyncio.sleep(0)  # let what the answer moment started run
        headers = {"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Application": app}
        headers.update({f"variable_{k}": v for k, v in result.items()})
        return Event.of(headers)

    async def command(self, text: str, timeout: float | None) -> Frame:
        self.commands.append(text)
        return Frame({"Content-Type": "api/response"}, b"+OK\n")


class Driver:
    def __init__(self, answers: dict[str, list[Any]] | None = None) -> None:
        self.session = SimpleNamespace(plan=SimpleNamespace(flow={"prompts": {}}))
        self.answers = answers or {}
        self.answered_targets: list[str] = []

    def answered(self, target: str) -> list[Any]:
        self.answered_targets.append(target)
        return self.answers.get(target, [])

    def first_command(self) -> None:
        pass


def applications(runtime: Any, channel: ScriptedChannel, driver: Driver) -> Applications:
    return Applications(runtime, channel, driver, call_id="c-1", did="4006001003")


def bridge_answered_by(*indexes: int, status: str = "SUCCESS") -> Callable[..., dict[str, str]]:
    def bridge(arg: str, on_event: Callable[[Event], object]) -> dict[str, str]:
        legs = re.findall(r"origination_uuid=([0-9a-f-]{36})\]loopback/(\d+)/", arg)
        for index in indexes:
            uuid, number = legs[index]
            headers = {
                "Event-Name": "CHANNEL_BRIDGE",
                "Other-Leg-Unique-ID": uuid,
                "Other-Leg-Destination-Number": number,
                "Event-Date-Timestamp": "1000000",
            }
            on_event(Event.of(headers))
        return {"originate_disposition": status, "Event-Date-Timestamp": "1"}

    return bridge


def test_announcements_per_target_rung_at_once(fs_host: Any) -> None:
    channel = ScriptedChannel(bridge=bridge_answered_by(1))
    driver = Driver()
    apps = applications(fs_host, channel, driver)
    dial = Dial(("13800138801", "13800138802"), simultaneous=True, announce=(801, 802))
    result = asyncio.run(apps.perform(dial))
    assert result.outcome == "answered" and result.answered_by == "13800138802"
    assert driver.answered_targets == ["13800138802"]
    assert channel.commands == [
        "api uuid_broadcast 71cef200-1bf0-46fb-b827-38adb8fe5e15 "
        "file_string://digits/8.wav!digits/0.wav!digits/2.wav aleg"
    ]
    assert not any(arg.startswith("bridge_pre_execute") for _, arg in channel.ran)


def test_one_announcement_is_played_before_the_bridge_and_cleared_after(fs_host: Any) -> None:
    channel = ScriptedChannel(bridge=bridge_answered_by(status="NO_ANSWER"))
    apps = applications(fs_host, channel, Driver())

    async def main() -> None:
        await apps.perform(Dial(("13800138801",), announce=801))
        await apps.perform(Dial(("13800138801",), announce=801))
        await apps.perform(Dial(("13800138802",)))

    asyncio.run(main())
    sets = [(app, arg) for app, arg in channel.ran if "set" in app]
    assert sets == [
        ("multiset", "continue_on_fail=true hangup_after_bridge=false"),
        (
            "multiset",
            "bridge_pre_execute_aleg_app=playback bridge_pre_execute_aleg_data="
            "file_string://digits/8.wav!digits/0.wav!digits/1.wav",
        ),
        ("multiunset", "bridge_pre_execute_aleg_app bridge_pre_execute_app"),
    ]


def test_sequential_targets_are_one_bridge_each(fs_host: Any) -> None:
    outcomes = iter(["USER_BUSY", "NO_ANSWER", "SUBSCRIBER_ABSENT"])
    channel = ScriptedChannel(bridge=lambda arg, on_event: {"DIALSTATUS": next(outcomes)})
    apps = applications(fs_host, channel, Driver())
    result = asyncio.run(apps.perform(Dial(("13800138801", "13800138802", "13800138803"))))
    bridges = [arg for app, arg in channel.ran if app == "bridge"]
    assert len(bridges) == 3 and all(b.count("]loopback/") == 1 for b in bridges)
    assert result.outcome == "no_answer"  # any no answer, else any busy, else failed


def test_drop_leg_kills_the_leg_that_answered_second(fs_host: Any) -> None:
    channel = ScriptedChannel(bridge=bridge_answered_by(0, 1))
    driver = Driver({"13800138802": [DropLeg("13800138802")]})
    apps = applications(fs_host, channel, driver)
    dial = Dial(("13800138801", "13800138802"), simultaneous=True)
    result = asyncio.run(apps.perform(dial))
    [bridge] = [arg for app, arg in channel.ran if app == "bridge"]
    second = re.findall(r"origination_uuid=([0-9a-f-]{36})", bridge)[1]
    assert channel.commands == [f"api uuid_kill {second}"]
    assert result.answered_by == "13800138801"


def test_media_results_from_the_completion(fs_host: Any) -> None:
    channel = ScriptedChannel(
        play_and_get_digits=lambda arg, _: {arg.split(" ")[7]: "12#x"},
        record={"record_seconds": "abc"},
        conference={},
    )
    apps = applications(fs_host, channel, Driver())

    async def main() -> list[Any]:
        return [
            await apps.perform(Collect("main_menu", 4, 5, "#")),  # not keys: nothing
            await apps.perform(Voicemail("box")),  # no length: no message
            await apps.perform(Conference("room-1", 5)),  # no member id: not joined
            await apps.perform(Survey()),
            await apps.perform(Play("no_such_prompt")),  # no file: skipped
        ]

    digits, message, conference, survey, played = asyncio.run(main())
    assert digits.digits == "" and message.reference is None and message.seconds == 0
    assert not conference.joined and survey.rating is None and played is None
    assert [app for app, _ in channel.ran].count("answer") == 1
    collect = channel.ran[1][1].split(" ")
    assert collect[:5] == ["1", "4", "1", "5000", "#"] and collect[6:] == [
        "silence_stream://250",
        "rc_digits_1",
        "[0-9*#]+",
    ]


def test_a_gone_caller_ends_the_call(fs_host: Any) -> None:
    channel = ScriptedChannel()
    apps = applications(fs_host, channel, Driver())
    channel.hung_up = True
    with pytest.raises(ChannelGone):
        asyncio.run(apps.perform(Play("welcome")))
    assert asyncio.run(apps.perform(Hangup("busy"))) is None  # nothing to hang up
    assert channel.ran == []


def test_unsafe_files_never_reach_a_command(fs_host: Any, tmp_path: Any) -> None:
    folder = tmp_path / "a b"  # a prompts folder with a space
    (folder / "4006001003").mkdir(parents=True)
    (folder / "welcome.wav").write_bytes(b"RIFF")
    fs_host.media.prompts = str(folder)
    channel = ScriptedChannel()
    apps = applications(fs_host, channel, Driver())
    with pytest.raises(UnsafeValue):
        asyncio.run(apps.perform(Play("welcome")))
    assert channel.ran == [("answer", "")] or channel.ran == []


def test_console_defaults() -> None:
    args = cli.parser().parse_args(["serve"])
    assert args.listen == "127.0.0.1:8084" and args.dial_default == "loopback/{number}/destinations"
    assert cli.main(["serve", "--listen", "0.0.0.0:8084"]) == 2  # off loopback without --allow


def test_a_session_recording_cannot_pass_for_a_message(fs_host: Any) -> None:
    """``stop_record_session`` leaves ``record_seconds`` on the channel: it is unset before a
    voicemail, so a message that was never recorded is not reported."""
    channel = ScriptedChannel(
        bridge=bridge_answered_by(status="NO_ANSWER"),
        stop_record_session={"record_seconds": "9"},
    )
    apps = applications(fs_host, channel, Driver())

    async def main() -> Any:
        await apps.perform(Dial(("13800138801",), record=True))
        return await apps.perform(Voicemail("box", max_seconds=60))

    message = asyncio.run(main())
    ran = [f"{app} {arg}" for app, arg in channel.ran]
    recordings = fs_host.config.recordings
    assert ran == [
        "multiset continue_on_fail=true hangup_after_bridge=false RECORD_BRIDGE_REQ=true",
        f"record_session {recordings}/c-1.wav",
        ran[2],  # the bridge
        f"stop_record_session {recordings}/c-1.wav",
        "answer ",
        "unset record_seconds",
        f"record {recordings}/c-1-vm.wav 60 200 5",
    ]
    assert message.reference is None  # the scripted record app leaves no length of its own
