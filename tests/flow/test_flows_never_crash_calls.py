"""A flow that validates never makes a call raise: the flow format, the Actions and the compiled
core share one set of rules for names, numbers, zones and times (``routecore.rules``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    CallStarted,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    KeepAlive,
    SurveyResult,
    VoicemailResult,
)
from routecore.engine.session import CallSession
from routecore.errors import FlowError
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows
from routecore.rules import TIME_MAX
from tests.strategies import flows

DID = "4001234567"


def compile_or_none(backend, data):
    """The image of ``data``, or None when it does not validate (FlowError, nothing else)."""
    try:
        flow = validate_flow(json.loads(json.dumps(data)), source=f"{DID}.json")[0]
    except FlowError:
        return None
    return backend.Image.from_buffer(compile_flows([flow], core=backend))


def drive(backend, image, state, caller, at, script):
    classify = backend.default_classifier().classify
    s = CallSession(image, state, seed=5, classify=classify)
    actions = s.handle(CallStarted(DID, caller, at, "fz"))
    last = None
    for i, step in enumerate(script):
        last = next((a for a in reversed(actions) if isinstance(a, Dial)), last)
        now = min(at + i, TIME_MAX)
        kind, value = step
        if kind == "digits":
            ev = Digits(value, now)
        elif kind == "pickup" and last is not None:
            ev = Answered(last.targets[value % len(last.targets)], now)
        elif kind == "answer" and last is not None:
            ev = DialResult("answered", last.targets[value % len(last.targets)], value, at=now)
        elif kind == "result":
            ev = DialResult(value, at=now)
        elif kind == "voicemail":
            ev = VoicemailResult("vm-1", 3, now)
        elif kind == "conference":
            ev = ConferenceResult(bool(value), now)
        elif kind == "survey":
            ev = SurveyResult(value, now)
        else:
            ev = KeepAlive(now)
        actions = s.handle(ev)
    s.handle(CallerHungUp())
    assert s.done and s.record is not None and s.record.outcome != "in_progress"
    return s


# --- the cases that once validated and then crashed a call ---


def test_extension_numbers_written_as_people_write_them_are_dialled_as_digits(backend, tmp_path):
    data = {
        "number": DID,
        "start": "extensions",
        "extensions": {"numbers": {"801": ["138-2222-3333", "+86 139 0000 1111", "010-6552-8888"]}},
    }
    image = compile_or_none(backend, data)
    assert image is not None
    state = backend.State.create(str(tmp_path / "s"), destinations=16, memory=8, numbers=2)
    s = CallSession(image, state, classify=backend.default_classifier().classify)
    s.handle(CallStarted(DID, "13900139000", 1.8e9, "c1"))
    dial = s.handle(Digits("801"))[-1]
    assert dial.targets == ("13822223333",)
    assert s.handle(DialResult("no_answer"))[-1].targets == ("13900001111",)
    assert s.handle(DialResult("no_answer"))[-1].targets == ("01065528888",)


@pytest.mark.parametrize(
    ("section", "name"),
    [("voicemail", "box\n"), ("menus", "main\n"), ("groups", "g\r"), ("voicemail", "-box")],
)
def test_a_name_with_a_line_break_or_a_leading_dash_does_not_validate(section, name):
    data = {
        "number": DID,
        "start": name,
        "prompts": {"p": "p.wav"},
        "destinations": {"d": {"number": "13800138001"}},
        section: {
            "voicemail": {name: {"max_seconds": 60}},
            "menus": {name: {"prompt": "p", "keys": {"1": "hangup"}}},
            "groups": {name: {"members": ["d"]}},
        }[section],
    }
    with pytest.raises(FlowError, match="bad name"):
        validate_flow(data, source=f"{DID}.json")


def test_a_conference_room_with_a_leading_dash_does_not_validate():
    data = {
        "number": DID,
        "start": "conf",
        "conferences": {"conf": {"password": "1234", "room": "-ops"}},
    }
    with pytest.raises(FlowError, match="room"):
        validate_flow(data, source=f"{DID}.json")


# --- any flow that validates, driven by any events at any valid time, never raises ---

EDGE_NAMES = st.sampled_from(["box\n", "-x", "x.y", "a b", "中文", "_ok", "ok-1", "a" * 65])
EDGE_NUMBERS = st.sampled_from(
    ["138-2222-3333", "+86 139 0000 1111", "0086 10 6552 8888", "13800138000\n", "1", "+1 212"]
)
EDGE_ZONES = st.sampled_from(
    ["Asia/Shanghai", "UTC", "America/New_York", "posix/Asia/Shanghai", "right/UTC", "localtime",
     "Factory", "Asia/Kolkata", "Pacific/Chatham"]
)  # fmt: skip
steps = st.lists(
    st.one_of(
        st.tuples(st.just("digits"), st.text("0123456789*#", max_size=6)),
        st.tuples(st.just("pickup"), st.integers(0, 9)),
        st.tuples(st.just("answer"), st.integers(0, 3600)),
        st.tuples(st.just("result"), st.sampled_from(["busy", "no_answer", "failed"])),
        st.tuples(st.just("voicemail"), st.just(0)),
        st.tuples(st.just("conference"), st.integers(0, 1)),
        st.tuples(st.just("survey"), st.sampled_from([1, 2, 3, 4, None])),
        st.tuples(st.just("keepalive"), st.just(0)),
    ),
    max_size=25,
)


@st.composite
def edged_flows(draw):
    """A valid random flow, then a few values from the edges of what the format allows."""
    flow = draw(flows())
    flow["timezone"] = draw(EDGE_ZONES)
    if draw(st.booleans()) and flow.get("voicemail"):
        old = next(iter(flow["voicemail"]))
        new = draw(EDGE_NAMES)
        flow["voicemail"][new] = flow["voicemail"].pop(old)
        for m in flow["menus"].values():
            m["keys"] = {k: (new if t == old else t) for k, t in m["keys"].items()}
    if draw(st.booleans()):
        flow["extensions"] = {
            "numbers": {"801": [draw(EDGE_NUMBERS)], "802": [next(iter(flow["destinations"]))]},
            "on_fail": "hangup",
            "invalid_prompt": "menu",
        }
        flow["menus"]["m0"]["keys"]["9"] = "extensions"
    if draw(st.booleans()):
        flow["conferences"] = {
            "conf": {"password": "1234", "room": draw(st.sampled_from(["ops", "-ops", "a_b-1"]))}
        }
        flow["menus"]["m0"]["keys"]["8"] = "conf"
    return flow


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    flow=edged_flows(),
    caller=st.sampled_from(["13900139000", "anonymous", '"X" <01065528888>', ""]),
    at=st.floats(0, TIME_MAX, allow_nan=False) | st.sampled_from([0.0, float(TIME_MAX)]),
    script=steps,
)
def test_any_flow_that_validates_never_makes_a_call_raise(
    backend, tmp_path_factory, flow, caller, at, script
):
    image = compile_or_none(backend, flow)
    if image is None:
        return  # refused by validation, with a FlowError: the other half of the promise
    state = backend.State.create(
        str(tmp_path_factory.mktemp("s") / "state"), destinations=64, memory=16, numbers=8
    )
    drive(backend, image, state, caller, at, script)
    assert all(d.busy == 0 for d in state.destinations_now())
