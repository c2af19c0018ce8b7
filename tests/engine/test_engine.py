"""CallSession scenarios on the examples' flows: the exact Actions and the CallRecord."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routecore
from routecore.engine import CallSession
from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    CallStarted,
    Collect,
    Conference,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    DropLeg,
    Hangup,
    KeepAlive,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
)
from routecore.engine.session import Wait
from routecore.engine.sms import SmsList
from routecore.flow import load_flow, validate_flow
from routecore.flow.compile import compile_flows, compile_texts
from routecore.store import CallStore
from tests.strategies import flows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=SH).timestamp()
TRANSFER = Play("sys_transfer")  # F2: the system prompt before each transfer


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
        assert actions[0] == TRANSFER and actions[1].targets[0] == first, caller
        s.handle(CallerHungUp())
    assert all_free(state)


def test_time_routing_office_hours_and_weekend(image, state):
    _, actions = call(image, state, "4006001002", "13900000000", at=MONDAY_10)
    office = Dial(("02161234567", "02161234568"), simultaneous=True, ring_timeout=25)
    assert actions == [TRANSFER, office]
    _s, actions = call(image, state, "4006001002", "13900000000", at=SATURDAY_10, call_id="c2")
    assert actions == [TRANSFER, Dial(("13700137000",), ring_timeout=40)]


def test_two_level_menu_invalid_keys_and_retries(image, state):
    s, actions = call(image, state, "4006001003", "13900000000")
    assert actions == [Play("welcome"), Collect("main_menu", 1, 5)]
    assert s.handle(Digits("7")) == [Play("invalid"), Collect("main_menu", 1, 5)]
    assert s.handle(Digits("")) == [Collect("main_menu", 1, 5)]  # a timeout: no invalid prompt
    assert s.handle(Digits("1")) == [Collect("sales_menu", 1, 5)]
    actions = s.handle(Digits("2"))
    assert actions == [TRANSFER, Dial(("13800138003",), ring_timeout=20)]
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
    operator = Dial(("075523456780",), ring_timeout=20)
    assert s.handle(Digits("")) == [TRANSFER, operator]  # on_fail: operator


def test_extensions_ring_their_destinations_in_order_and_transfer_again(image, state):
    s, actions = call(image, state, "4006001004", "13900000000")
    assert actions == [Play("welcome"), Collect("inputext", 3, 5)]
    assert s.handle(Digits("801")) == [TRANSFER, Dial(("01065520001",), ring_timeout=20)]
    assert s.handle(DialResult("no_answer")) == [TRANSFER, Dial(("13911112222",), ring_timeout=20)]
    # answered: the caller may dial another extension (second transfer)
    assert s.handle(DialResult("answered", "13911112222", 30)) == [Collect("inputext", 3, 5)]
    assert s.handle(Digits("802")) == [TRANSFER, Dial(("13822223333",), ring_timeout=20)]
    s.handle(CallerHungUp())
    assert s.done and s.record.branches == ["extensions.801", "extensions.802"]
    assert all_free(state)


def test_busy_group_offers_voicemail_or_waiting(image, state):
    for n in ("13800138011", "13800138012"):
        state.claim([n], "other-call")
    s, actions = call(image, state, "4006001006", "13900000000")
    assert actions == [Collect("menu", 1, 5)]
    assert s.handle(Digits("1")) == [Collect("vm_offer", 1, 5)]  # all busy: leave or wait
    assert s.handle(Digits("1")) == [Voicemail("busy_box", "sys_voicemail", 120)]
    assert s.handle(VoicemailResult("vm-0001", 17)) == [Hangup("normal")]
    assert (s.record.outcome, s.record.voicemail) == ("voicemail", "vm-0001")


def test_key_straight_to_voicemail(image, state):
    s, _ = call(image, state, "4006001006", "13900000000")
    assert s.handle(Digits("8")) == [Voicemail("direct_box", "vm_direct", 120)]


def test_blacklist_rejects_before_anything_plays(image, state):
    for caller in ("13812345678", "17012345678", "+8613812345678", "013812345678"):
        s, actions = call(image, state, "8006001007", caller)
        assert actions == [Hangup("blacklisted")] and s.record.outcome == "blacklisted"


def test_recording_announcement_and_survey(image, state):
    s, actions = call(image, state, "8006001007", "13900000000")
    assert actions[0] == Play("welcome")
    menu = actions[1]
    assert isinstance(menu, Collect)
    key = next(k for k, t in s.plan.flow["menus"]["main"]["keys"].items() if t == "service")
    dial = s.handle(Digits(key))[0]
    assert isinstance(dial, Dial) and dial.record is True
    assert dial.announce in ("zhang_id", 805)
    assert s.handle(DialResult("answered", dial.targets[0], 100)) == [Survey()]
    assert s.handle(SurveyResult(1)) == [Hangup("normal")]
    assert (s.record.survey, s.record.recorded) == (1, True)


def test_conference_password_three_tries(image, state):
    s, _ = call(image, state, "8006001007", "13900000000")
    key = next(k for k, t in s.plan.flow["menus"]["main"]["keys"].items() if t == "board")
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
        st.builds(Answered, st.sampled_from(["13800138000", "13800138003", "075588886666"])),
        st.just(KeepAlive()),
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
    caller=st.sampled_from(
        [
            "13900000000",
            "01065529988",
            "17012345678",
            "",
            "+12125550100",
            "anonymous",
            '"Wang" <+86 10 6552 9988>',
            "+86 170-1234-5678",
        ]
    ),
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


# --- the call's clock, the record, the store and the post-call SMS ---------------------------


def test_event_times_give_the_records_answer_and_end(image, state):
    s, _ = call(image, state, "4006001003", "13900000000")
    s.handle(Digits("1", MONDAY_10 + 8))
    s.handle(Digits("2", MONDAY_10 + 12))
    s.handle(DialResult("answered", "13800138003", 61, "rec-c1", at=MONDAY_10 + 90))
    rec = s.record
    assert (rec.start, rec.answer, rec.end) == (MONDAY_10, MONDAY_10 + 29, MONDAY_10 + 90)
    assert (rec.recorded, rec.recording) == (True, "rec-c1")


def test_without_event_times_the_end_is_start_plus_talk(image, state):
    s, _ = call(image, state, "4006001003", "13900000000")
    s.handle(Digits("1"))
    s.handle(Digits("2"))
    s.handle(DialResult("answered", "13800138003", 61))
    assert (s.record.answer, s.record.end) == (MONDAY_10, MONDAY_10 + 61)


def test_the_caller_hanging_up_gives_the_records_end(image, state):
    s, actions = call(image, state, "4006001002", "13900000000", at=MONDAY_10)
    assert actions[-1].targets == ("02161234567", "02161234568")
    s.handle(CallerHungUp(MONDAY_10 + 5))
    assert s.record.end == MONDAY_10 + 5 and s.record.outcome == "caller_hung_up"


def test_simultaneous_attempt_announces_whoever_answers(tmp_path, state):
    flow = load_flow(EXAMPLES / "4006001005.yaml").model_copy(
        update={"system_prompt_on_transfer": False}
    )
    data = flow.model_dump(mode="json", exclude_none=True)
    data["groups"]["service"]["mode"] = "simultaneous"
    img = routecore.Image.from_buffer(compile_texts({"4006001005": json.dumps(data)}))
    s = CallSession(img, state, seed=1)
    (dial,) = s.handle(CallStarted("4006001005", "13900000000", MONDAY_10, "sim"))
    assert dial.simultaneous and dial.targets == ("13800138801", "13800138802", "13800138803")
    assert dial.announce == (801, 802, 803)


def test_system_prompt_on_transfer_can_be_switched_off(image, state):
    s, _ = call(image, state, "8006001007", "13900000000")
    actions = s.handle(Digits("1"))
    assert len(actions) == 1 and isinstance(actions[0], Dial)  # no Play("sys_transfer")


def test_hang_up_sms_goes_to_mobile_callers_only(image, state, tmp_path):
    store = CallStore(tmp_path / "calls.db")
    for caller, call_id in [("13900000000", "m"), ("02161234567", "l"), ("", "w")]:
        s = CallSession(image, state, seed=1, records=store, notifier=store)
        s.handle(CallStarted("8006001007", caller, MONDAY_10, call_id))
        s.handle(CallerHungUp(MONDAY_10 + 3))
    outbox = store.pending_sms()
    assert [(m["kind"], m["to_number"], m["call_id"]) for m in outbox] == [
        ("hangup", "13900000000", "m")
    ]
    assert outbox[0]["text"] == "【远景科技】感谢致电远景科技，如需帮助请回复本短信。"
    assert [r["call_id"] for r in store.calls("8006001007")] == ["l", "m", "w"]


def test_no_hang_up_sms_before_approval_nor_to_blacklisted_callers(image, state):
    sent = SmsList()
    s = CallSession(image, state, notifier=sent)
    s.handle(CallStarted("8006001007", "13812345678", MONDAY_10, "b"))  # blacklisted
    pending = compile_texts({"8006001007": _with_sms_approval("8006001007", "pending")})
    s = CallSession(routecore.Image.from_buffer(pending), state, notifier=sent)
    s.handle(CallStarted("8006001007", "13900000000", MONDAY_10, "p"))
    s.handle(CallerHungUp())
    assert sent.sent == []


def _with_sms_approval(did: str, approval: str) -> str:
    data = load_flow(EXAMPLES / f"{did}.yaml").model_dump(mode="json", exclude_none=True)
    data["sms"]["approval"] = approval
    return json.dumps(data, ensure_ascii=False)


def test_outbound_call_not_answered_leaves_a_missed_call_sms(image, state):
    sent = SmsList()
    s = CallSession(image, state, notifier=sent)
    at = datetime(2026, 11, 24, 14, 5, 30, tzinfo=SH).timestamp()
    actions = s.handle(OutboundStarted("8006001007", "13800138100", "8613900139000", at, "o1"))
    assert actions == [Dial(("13900139000",), ring_timeout=45, record=True)]
    assert s.handle(DialResult("no_answer", at=at + 45)) == [Hangup("no_answer")]
    rec = s.record
    assert (rec.kind, rec.caller, rec.callee, rec.outcome) == (
        "outbound", "13800138100", "8613900139000", "not_answered",
    )  # fmt: skip
    (sms,) = sent.sent
    assert (sms.kind, sms.to, sms.did) == ("missed_call", "13900139000", "8006001007")
    assert sms.text == (
        "【远景科技】您好，远景科技 Vista Tech（8006001007）于2026-11-24 14:05"
        "致电您未接通，如需帮助请回拨8006001007。"
    )


def test_outbound_call_answered_or_to_a_landline_sends_nothing(image, state):
    sent = SmsList()
    s = CallSession(image, state, notifier=sent)
    s.handle(OutboundStarted("8006001007", "13800138100", "13900139000", MONDAY_10, "o2"))
    assert s.handle(DialResult("answered", "13900139000", 30)) == [Hangup("normal")]
    assert s.record.outcome == "answered" and s.record.talk_seconds == 30
    s = CallSession(image, state, notifier=sent)
    s.handle(OutboundStarted("8006001007", "13800138100", "02161234567", MONDAY_10, "o3"))
    s.handle(DialResult("busy"))
    assert s.record.outcome == "not_answered" and sent.sent == []


def test_a_failing_store_or_notifier_never_breaks_the_call(image, state, caplog):
    class Broken:
        def add(self, record):
            raise OSError("disk full")

        def send(self, sms):
            raise ConnectionError("gateway down")

    s = CallSession(image, state, records=Broken(), notifier=Broken())
    s.handle(CallStarted("8006001007", "13900000000", MONDAY_10, "x"))
    assert s.handle(CallerHungUp()) == [] and s.done
    assert "could not be stored" in caplog.text and "could not be sent" in caplog.text


# --- random valid flows, random calls ------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("digits"), st.text("0123456789*#", max_size=4)),
        st.tuples(st.just("answer"), st.integers(0, 7), st.integers(0, 600)),
        st.tuples(st.just("dial"), st.sampled_from(["busy", "no_answer", "failed"])),
        st.tuples(st.just("voicemail"), st.sampled_from(["vm-1", None])),
        st.tuples(st.just("survey"), st.sampled_from([1, 2, 3, 4, None])),
        st.tuples(st.just("hangup")),
        st.tuples(st.just("pickup"), st.integers(0, 7)),  # the answer moment
        st.tuples(st.just("keepalive")),
    ),
    max_size=30,
)
raw_callers = st.sampled_from(
    ["13900000000", "01065529988", "17012345678", "", "075588886666", "+86 139-0000-0000",
     '"Li Si" <01065529988>', "anonymous", "Restricted", "sip:13900000000@pbx;user=phone"]
) | st.text(max_size=40)  # fmt: skip


def _event(step, last_dial, now):
    kind = step[0]
    if kind == "digits":
        return Digits(step[1], now)
    if kind == "answer":
        if last_dial is None:
            return DialResult("no_answer", at=now)
        return DialResult("answered", last_dial.targets[step[1] % len(last_dial.targets)],
                          step[2], at=now)  # fmt: skip
    if kind == "dial":
        return DialResult(step[1], at=now)
    if kind == "voicemail":
        return VoicemailResult(step[1], 5 if step[1] else 0, now)
    if kind == "survey":
        return SurveyResult(step[1], now)
    if kind == "pickup":
        if last_dial is None:
            return KeepAlive(now)
        return Answered(last_dial.targets[step[1] % len(last_dial.targets)], now)
    if kind == "keepalive":
        return KeepAlive(now)
    return CallerHungUp(now)


def load_flow_text(flow):
    return validate_flow(flow, source=f"{flow['number']}.json")[0]


class _Records(list):
    add = list.append


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(flow=flows(), caller=raw_callers, at=st.floats(1.7e9, 1.9e9), script=steps)
def test_random_flows_and_calls_never_raise_and_release_everything(
    backend, tmp_path_factory, flow, caller, at, script
):
    validated = load_flow_text(flow)
    image = backend.Image.from_buffer(compile_flows([validated], core=backend))
    state = backend.State.create(
        str(tmp_path_factory.mktemp("s") / "state"), destinations=64, memory=16, numbers=8
    )
    records = _Records()
    numbers = {d["number"] for d in flow["destinations"].values()}
    classify = backend.default_classifier().classify
    s = CallSession(image, state, seed=3, records=records, classify=classify)
    actions = s.handle(CallStarted(flow["number"], caller, at, "rnd"))
    last_dial = None
    for i, step in enumerate(script):
        for a in actions:
            if isinstance(a, Dial):
                assert set(a.targets) <= numbers  # only the flow's own phones ring
                assert not any(
                    d.busy == 0 for d in state.destinations_now() if d.number in a.targets
                )
                last_dial = a
        actions = s.handle(_event(step, last_dial, at + i + 1))
        if s.wait is not Wait.DIAL:  # claims are held while a Dial rings or talks, never after
            assert all_free(state)
        for a in actions:  # the adapter's side of a DropLeg: only a leg of the attempt
            if isinstance(a, DropLeg):
                assert last_dial is not None and a.target in last_dial.targets
    s.handle(CallerHungUp())
    assert s.done and len(records) == 1 and records[0] is s.record
    rec = s.record
    assert rec.outcome != "in_progress" and rec.end >= rec.start
    assert set(rec.tried) <= numbers and (rec.answered_by is None or rec.answered_by in numbers)
    assert not rec.answered_unlisted  # every answer came from a target of the attempt
    assert set(rec.busy) <= set(rec.tried)
    assert all_free(state)


# --- the brief's examples ------------------------------------------------------------------


def test_brief_five_destinations_of_an_extension_ring_in_order(image, state):
    s, _ = call(image, state, "4006001004", "13900000000")
    rung = []
    actions = s.handle(Digits("804"))
    for _ in range(5):
        rung.append(actions[-1].targets)
        actions = s.handle(DialResult("no_answer"))
    assert rung == [
        ("01065529999",), ("01065520001",), ("13844445555",), ("01065520004",), ("13911112222",),
    ]  # fmt: skip
    assert actions == [TRANSFER, Dial(("01065529999",), ring_timeout=20)]  # on_fail: reception
    s.handle(CallerHungUp())
    assert all_free(state)


def test_brief_office_hours_weekday_night_and_weekend(image, state):
    office = ("02161234567", "02161234568")
    for when, targets in [
        (datetime(2026, 11, 23, 9, 0, tzinfo=SH), office),  # Monday 09:00
        (datetime(2026, 11, 23, 17, 59, tzinfo=SH), office),
        (datetime(2026, 11, 23, 18, 0, tzinfo=SH), ("13700137000",)),  # night
        (datetime(2026, 11, 24, 8, 59, tzinfo=SH), ("13700137000",)),
        (datetime(2026, 11, 29, 11, 0, tzinfo=SH), ("13700137000",)),  # Sunday
        (datetime(2026, 10, 1, 11, 0, tzinfo=SH), ("13700137000",)),  # National Day
    ]:
        s, actions = call(image, state, "4006001002", "13900000000", at=when.timestamp())
        assert actions[-1].targets == targets, when
        s.handle(CallerHungUp())


def test_brief_call_memory_lasts_until_midnight_and_falls_back(image, state):
    evening = datetime(2026, 11, 23, 23, 50, tzinfo=SH).timestamp()
    s, first = call(image, state, "4006001005", "13900000000", at=evening)
    agent = first[-1].targets[0]
    s.handle(DialResult("answered", agent, 60))
    # 23:58 the same day: the agent who answered comes first
    s, again = call(image, state, "4006001005", "13900000000", at=evening + 480, call_id="c2")
    assert again[-1].targets == (agent,)
    # ...and does not answer: the group's own order follows, without that agent
    after = s.handle(DialResult("no_answer"))
    assert after[-1].targets != (agent,)
    s.handle(CallerHungUp())
    # busy on another call: the group's order, straight away
    busy = state.claim([agent], "elsewhere")
    _s, actions = call(image, state, "4006001005", "13900000000", at=evening + 500, call_id="c3")
    assert actions[-1].targets != (agent,)
    _s.handle(CallerHungUp())
    state.release(busy)
    # 00:05 the next day: forgotten
    assert state.recall("4006001005", "13900000000", evening + 900) is None
    seen = set()
    for i in range(8):
        s = CallSession(image, state, seed=i)
        actions = s.handle(CallStarted("4006001005", "13900000000", evening + 900, f"n{i}"))
        seen.add(actions[-1].targets[0])
        s.handle(CallerHungUp())
    assert len(seen) > 1  # the group's random order again, not always the remembered agent
