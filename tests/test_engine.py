"""CallSession scenarios on the examples' flows: the exact Actions and the CallRecord."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routecore
from routecore.actions import (
    CallerHungUp,
    CallStarted,
    Collect,
    Conference,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    Hangup,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
)
from routecore.engine import CallSession
from routecore.flow import load_flow
from routecore.flow.compile import compile_flows

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=SH).timestamp()


@pytest.fixture(scope="module")
def image():
    flows = [load_flow(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return routecore.Image.from_buffer(compile_flows(flows))


@pytest.fixture
def state(tmp_path):
    return routecore.State.create(tmp_path / "state", destinations=256, memory=64, numbers=16)


def call(image, state, did, caller, at=MONDAY_10, call_id="c1"):
    s = CallSession(image, state, seed=1)
    return s, s.handle(CallStarted(did, caller, at, call_id))


def all_free(state):
    return all(d.busy == 0 for d in state.destinations_now())


def test_area_routing_sends_callers_to_their_branch(image, state):
    for caller, first in [
        ("01065529988", "13800138000"),
        ("075588886666", "075588886666"),
        ("02161234567", "13916001234"),
        ("02087654321", "02087654321"),
    ]:
        s, actions = call(image, state, "4006001001", caller)
        assert actions[0].targets[0] == first, caller
        s.handle(CallerHungUp())
    assert all_free(state)


def test_time_routing_office_hours_and_weekend(image, state):
    _, actions = call(image, state, "4006001002", "13900000000", at=MONDAY_10)
    assert actions == [Dial(("02161234567", "02161234568"), simultaneous=True, ring_timeout=25)]
    _s, actions = call(image, state, "4006001002", "13900000000", at=SATURDAY_10, call_id="c2")
    assert actions == [Dial(("13700137000",), ring_timeout=40)]


def test_two_level_menu_invalid_keys_and_retries(image, state):
    s, actions = call(image, state, "4006001003", "13900000000")
    assert actions == [Play("welcome"), Collect("main_menu", 1, 5)]
    assert s.handle(Digits("7")) == [Play("invalid"), Collect("main_menu", 1, 5)]
    assert s.handle(Digits("")) == [Collect("main_menu", 1, 5)]  # a timeout: no invalid prompt
    assert s.handle(Digits("1")) == [Collect("sales_menu", 1, 5)]
    actions = s.handle(Digits("2"))
    assert actions == [Dial(("13800138003",), ring_timeout=20)]
    assert s.handle(DialResult("answered", "13800138003", 61)) == [Hangup("normal")]
    rec = s.record
    assert (rec.outcome, rec.answered_by, rec.talk_seconds) == ("answered", "13800138003", 61)
    assert rec.branches == ["main.1", "sales.2"] and rec.tried == ["13800138003"]
    assert state.branch_counts("4006001003", MONDAY_10).sum() == 2
    assert all_free(state)


def test_menu_gives_up_after_its_retries(image, state):
    s, _ = call(image, state, "4006001003", "13900000000")
    for _ in range(3):
        s.handle(Digits(""))
    assert s.handle(Digits("")) == [Dial(("075523456780",), ring_timeout=20)]  # on_fail: operator


def test_extensions_ring_their_destinations_in_order_and_transfer_again(image, state):
    s, actions = call(image, state, "4006001004", "13900000000")
    assert actions == [Play("welcome"), Collect("inputext", 3, 5)]
    assert s.handle(Digits("801")) == [Dial(("01065520001",), ring_timeout=20)]
    assert s.handle(DialResult("no_answer")) == [Dial(("13911112222",), ring_timeout=20)]
    # answered: the caller may dial another extension (second transfer)
    assert s.handle(DialResult("answered", "13911112222", 30)) == [Collect("inputext", 3, 5)]
    assert s.handle(Digits("802")) == [Dial(("13822223333",), ring_timeout=20)]
    s.handle(CallerHungUp())
    assert s.done and s.record.branches == ["extensions.801", "extensions.802"]
    assert all_free(state)


def test_busy_group_offers_voicemail_or_waiting(image, state):
    for n in ("13800138011", "13800138012"):
        state.claim([n], "other-call")
    s, actions = call(image, state, "4006001006", "13900000000")
    assert actions == [Collect("menu", 1, 5)]
    assert s.handle(Digits("1")) == [Collect("vm_offer", 1, 5)]  # all busy: leave or wait
    assert s.handle(Digits("1")) == [Voicemail("busy_box", None, 120)]
    assert s.handle(VoicemailResult("vm-0001", 17)) == [Hangup("normal")]
    assert (s.record.outcome, s.record.voicemail) == ("voicemail", "vm-0001")


def test_key_straight_to_voicemail(image, state):
    s, _ = call(image, state, "4006001006", "13900000000")
    assert s.handle(Digits("8")) == [Voicemail("direct_box", None, 120)]


def test_blacklist_rejects_before_anything_plays(image, state):
    for caller in ("13812345678", "17012345678", "+8613812345678", "013812345678"):
        s, actions = call(image, state, "8006001007", caller)
        assert actions == [Hangup("blacklisted")] and s.record.outcome == "blacklisted"


def test_recording_announcement_and_survey(image, state):
    s, actions = call(image, state, "8006001007", "13900000000")
    assert actions[0] == Play("welcome")
    menu = actions[1]
    assert isinstance(menu, Collect)
    key = next(k for k, t in s._flow["menus"]["main"]["keys"].items() if t == "service")
    dial = s.handle(Digits(key))[0]
    assert isinstance(dial, Dial) and dial.record is True
    assert dial.announce in ("zhang_id", 805)
    assert s.handle(DialResult("answered", dial.targets[0], 100)) == [Survey()]
    assert s.handle(SurveyResult(1)) == [Hangup("normal")]
    assert (s.record.survey, s.record.recorded) == (1, True)


def test_conference_password_three_tries(image, state):
    s, _ = call(image, state, "8006001007", "13900000000")
    key = next(k for k, t in s._flow["menus"]["main"]["keys"].items() if t == "board")
    assert isinstance(s.handle(Digits(key))[0], Collect)
    assert isinstance(s.handle(Digits("1111"))[0], Collect)
    assert s.handle(Digits("20261")) == [Conference("board-1", 3)]
    assert s.handle(ConferenceResult(True)) == [Hangup("normal")]
    assert s.record.outcome == "conference"


def test_call_memory_puts_todays_agent_first(image, state):
    s, first = call(image, state, "4006001005", "13900000000")
    dial = next(a for a in first if isinstance(a, Dial))
    s.handle(DialResult("answered", dial.targets[-1], 10))
    _again, actions = call(image, state, "4006001005", "13900000000", call_id="c2")
    redial = next(a for a in actions if isinstance(a, Dial))
    assert redial.targets == (dial.targets[-1],)


def test_hang_up_at_any_point_releases_every_claim(image, state):
    s, _actions = call(image, state, "4006001002", "13900000000")
    assert not all_free(state)  # the simultaneous attempt holds both phones
    s.handle(CallerHungUp())
    assert all_free(state) and s.done and s.record.outcome == "caller_hung_up"
    assert s.handle(Digits("1")) == []


def test_unknown_number_and_no_state(image):
    s = CallSession(image)
    assert s.handle(CallStarted("4009999999", "13900000000", MONDAY_10, "x")) == [
        Hangup("no_route")
    ]
    s = CallSession(image, seed=3)
    actions = s.handle(CallStarted("4006001003", "13900000000", MONDAY_10, "y"))
    assert actions[-1] == Collect("main_menu", 1, 5)


events = st.lists(
    st.one_of(
        st.builds(Digits, st.text("0123456789*#", max_size=4)),
        st.builds(
            lambda outcome, i, talk: (
                DialResult(outcome, None, 0)
                if outcome != "answered"
                else DialResult(outcome, "13800138000", talk)
            ),
            st.sampled_from(["answered", "busy", "no_answer", "failed"]),
            st.integers(0, 3),
            st.integers(0, 600),
        ),
        st.builds(VoicemailResult, st.sampled_from(["vm-1", None]), st.just(0)),
        st.builds(ConferenceResult, st.booleans()),
        st.builds(SurveyResult, st.sampled_from([1, 2, 3, 4, None])),
        st.just(CallerHungUp()),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    did=st.sampled_from(
        [
            "4006001001",
            "4006001002",
            "4006001003",
            "4006001004",
            "4006001005",
            "4006001006",
            "8006001007",
        ]
    ),
    caller=st.sampled_from(["13900000000", "01065529988", "17012345678", "", "+12125550100"]),
    at=st.floats(1.7e9, 1.9e9),
    evs=events,
)
def test_random_calls_never_raise_and_release_everything(
    image, tmp_path_factory, did, caller, at, evs
):
    state = routecore.State.create(
        tmp_path_factory.mktemp("s") / "state", destinations=64, memory=16, numbers=8
    )
    s = CallSession(image, state, seed=7)
    s.handle(CallStarted(did, caller, at, "rnd"))
    for ev in evs:
        s.handle(ev)
    s.handle(CallerHungUp())
    assert s.done and s.record is not None and s.record.outcome != "in_progress"
    assert all_free(state)
