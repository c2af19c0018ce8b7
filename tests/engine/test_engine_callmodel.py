"""The call model a real PBX needs, on both backends: the answer moment, destination capacity,
round robin from the shared state, lease renewal of long calls, raw caller IDs, answers from
numbers never rung, busy/no-answer outcomes, invalid extensions, branch slots, threads."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import routecore
from routecore.engine import dialer as dialer_module
from routecore.engine import plan as plan_module
from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    CallStarted,
    Collect,
    Dial,
    DialResult,
    Digits,
    DropLeg,
    Hangup,
    KeepAlive,
    OutboundStarted,
    Play,
    VoicemailResult,
)
from routecore.engine.session import CallSession
from routecore.engine.sms import SmsList
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows
from routecore.store import CallStore

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()  # a Monday, 10:00 in Shanghai
DID = "4006009001"
PHONES = ["13800138001", "13800138002", "13800138003"]
CALLER = "13900139000"


def flow_with(**parts):
    flow = {
        "number": DID,
        "start": "sales",
        "destinations": {f"p{i}": {"number": n, "agent_id": 801 + i} for i, n in enumerate(PHONES)},
        "groups": {"sales": {"members": ["p0", "p1", "p2"], "mode": "simultaneous"}},
    }
    flow.update(parts)
    return flow


def image_bytes(backend, *flows):
    validated = [validate_flow(f, source=f"{f['number']}.yaml")[0] for f in flows]
    return compile_flows(validated, core=backend)


def image_of(backend, *flows):
    return backend.Image.from_buffer(image_bytes(backend, *flows))


@pytest.fixture
def state(backend, tmp_path):
    return backend.State.create(str(tmp_path / "state"), destinations=64, memory=64, numbers=8)


def start(backend, image, state, call_id="c1", caller=CALLER, at=T0, **kw):
    s = CallSession(image, state, seed=1, classify=backend.default_classifier().classify, **kw)
    return s, s.handle(CallStarted(DID, caller, at, call_id))


def busy(state, number):
    d = state.destination(number)
    return 0 if d is None else d.busy


# --- 1. the answer moment ---


def test_first_answer_wins_and_frees_the_other_phones_at_once(backend, state):
    image = image_of(backend, flow_with(system_prompt_on_transfer=False))
    s, actions = start(backend, image, state)
    (dial,) = actions
    assert isinstance(dial, Dial) and dial.simultaneous and dial.targets == tuple(PHONES)
    assert [busy(state, n) for n in PHONES] == [1, 1, 1]  # all three ring
    assert s.handle(Answered(PHONES[1], T0 + 7)) == []
    assert [busy(state, n) for n in PHONES] == [0, 1, 0]  # the others are free at once
    assert s.record.answer == T0 + 7
    assert state.recall(DID, CALLER, T0 + 8) == PHONES[1]  # V3 remembered at the answer
    # a second answer on the same attempt: that leg is hung up; the same one again: nothing
    assert s.handle(Answered(PHONES[2], T0 + 8)) == [DropLeg(PHONES[2])]
    assert s.handle(Answered(PHONES[1], T0 + 8)) == []
    # a concurrent call meanwhile rings the two free phones, not the talking one
    s2, actions2 = start(backend, image, state, call_id="c2", caller="13900139001")
    assert actions2[0].targets == (PHONES[0], PHONES[2])
    assert PHONES[1] in s2.record.busy and PHONES[1] in s2.record.tried
    s2.handle(CallerHungUp())
    assert s.handle(DialResult("answered", PHONES[1], 95, "rec-1", T0 + 102)) == [Hangup("normal")]
    rec = s.record
    assert (rec.outcome, rec.answered_by, rec.talk_seconds, rec.recording) == (
        "answered",
        PHONES[1],
        95,
        "rec-1",
    )
    assert rec.answer == T0 + 7 and rec.end == T0 + 102
    assert all(d.busy == 0 for d in state.destinations_now())
    talked = state.destination(PHONES[1])
    assert (talked.answered, talked.talk_seconds) == (1, 95)


def test_without_the_answer_event_everything_is_released_at_the_end(backend, state):
    image = image_of(backend, flow_with(system_prompt_on_transfer=False))
    s, _ = start(backend, image, state)
    assert [busy(state, n) for n in PHONES] == [1, 1, 1]
    s.handle(DialResult("answered", PHONES[0], 30, at=T0 + 40))
    assert s.record.answer == T0 + 10 and s.record.answered_by == PHONES[0]
    assert all(d.busy == 0 for d in state.destinations_now())
    assert state.recall(DID, CALLER, T0 + 50) == PHONES[0]


CONCURRENT_CALLER = """
import sys, {backend} as b
state = b.State.open(sys.argv[1])
claim = state.claim(sys.argv[2:], "other-process", all=True)
print(",".join(claim.numbers) if claim is not None else "-")
"""


def test_the_answer_moment_is_seen_by_another_process(backend, state):
    image = image_of(backend, flow_with())
    s, _ = start(backend, image, state)
    script = CONCURRENT_CALLER.format(backend=backend.__name__)
    run = [sys.executable, "-c", script, state.path, *PHONES]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "-"
    s.handle(Answered(PHONES[0]))
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"{PHONES[1]},{PHONES[2]}"  # the other process got the two freed phones


# --- 2. capacity ---


def test_a_trunk_of_capacity_30_takes_30_calls_and_refuses_the_31st(backend, state):
    flow = flow_with(
        destinations={"trunk": {"number": "02161234567", "capacity": 30}},
        groups={"sales": {"members": ["trunk"], "on_busy": "hangup"}},
        system_prompt_on_transfer=False,
    )
    image = image_of(backend, flow)
    calls = [start(backend, image, state, call_id=f"c{i}") for i in range(31)]
    for _s, actions in calls[:30]:
        assert isinstance(actions[0], Dial) and actions[0].targets == ("02161234567",)
    last, actions = calls[30]
    assert actions == [Hangup("busy")]
    assert last.record.outcome == "busy" and last.record.tried == ["02161234567"]
    assert state.destination("02161234567").capacity == 30 and busy(state, "02161234567") == 30
    calls[0][0].handle(CallerHungUp())
    _s, actions = start(backend, image, state, call_id="c31")
    assert isinstance(actions[0], Dial)  # one freed, one more taken


def test_a_trunk_reached_only_through_an_extension_takes_its_capacity(backend, state):
    flow = flow_with(
        start="extensions",
        destinations={"trunk": {"number": "02161234567", "capacity": 30}},
        groups={},
        extensions={"numbers": {"801": ["trunk"]}},
        system_prompt_on_transfer=False,
    )
    image = image_of(backend, flow)
    for i in range(3):
        s, _ = start(backend, image, state, call_id=f"e{i}")
        assert s.handle(Digits("801"))[0].targets == ("02161234567",)
    assert state.destination("02161234567").capacity == 30


def test_publishing_gives_known_destinations_their_capacity_and_keeps_online(backend, state):
    state.add_destination(PHONES[0], capacity=1, online=False)
    flow = flow_with()
    flow["destinations"]["p0"]["capacity"] = 5
    image = image_of(backend, flow)
    _s, actions = start(backend, image, state)
    assert state.destination(PHONES[0]).capacity == 1  # a call never changes a known one
    assert dialer_module.write_capacities(state, image) == 1  # publishing does
    d = state.destination(PHONES[0])
    assert (d.capacity, d.online) == (5, False)
    assert PHONES[0] not in actions[-1].targets  # offline: not rung


def test_a_call_on_an_older_image_never_undoes_a_newer_capacity(backend, state):
    def trunk_flow(capacity):
        return flow_with(
            prompts={"m": "m.wav"},
            start="main",
            menus={"main": {"prompt": "m", "keys": {"1": "sales"}}},
            destinations={"trunk": {"number": "02161234567", "capacity": capacity}},
            groups={"sales": {"members": ["trunk"]}},
        )

    old, new = image_of(backend, trunk_flow(1)), image_of(backend, trunk_flow(30))
    a, _ = start(backend, old, state, call_id="a")  # waits in the menu on the old image
    b, _ = start(backend, new, state, call_id="b")
    b.handle(Digits("1"))  # the new image's first call inserts the trunk with 30
    dialer_module.write_capacities(state, new)
    a.handle(Digits("1"))  # the old image's call dials too
    assert state.destination("02161234567").capacity == 30
    calls = [start(backend, new, state, call_id=f"n{i}")[0] for i in range(28)]
    assert all(isinstance(c.handle(Digits("1"))[-1], Dial) for c in calls)  # 30 in all


def test_a_full_destination_table_makes_the_call_busy_never_an_exception(backend, tmp_path):
    small = backend.State.create(str(tmp_path / "small"), destinations=4, memory=8, numbers=2)
    for i in range(4):
        small.add_destination(f"1370000000{i}")  # the table is full with other phones
    image = image_of(backend, flow_with())
    s, actions = start(backend, image, small)
    assert actions == [Hangup("busy")] and s.record.outcome == "busy"
    assert s.record.busy == PHONES


# --- 3. round robin ---

ROTATE = """
import sys, {backend} as b
from routecore.engine.session import CallSession
from routecore.engine.actions import CallStarted, CallerHungUp
image = b.Image.open(sys.argv[1]); state = b.State.open(sys.argv[2])
for i in range(int(sys.argv[3])):
    s = CallSession(image, state, classify=b.default_classifier().classify)
    actions = s.handle(CallStarted("{did}", "13900139000", 1795000000.0, f"p{{i}}"))
    print(actions[-1].targets[0]); s.handle(CallerHungUp())
"""


def rotation(backend, image, state, n, first=0):
    out = []
    for i in range(n):
        s, actions = start(backend, image, state, call_id=f"r{first + i}")
        out.append(actions[-1].targets[0])
        s.handle(CallerHungUp())
    return out


def test_round_robin_rotates_across_calls_processes_and_publishes(backend, state, tmp_path):
    flow = flow_with(groups={"sales": {"members": ["p0", "p1", "p2"], "mode": "round_robin"}})
    image = image_of(backend, flow)
    assert rotation(backend, image, state, 4) == [PHONES[0], PHONES[1], PHONES[2], PHONES[0]]
    path = tmp_path / "routes.img"
    path.write_bytes(image_bytes(backend, flow))
    script = ROTATE.format(backend=backend.__name__, did=DID)
    run = [sys.executable, "-c", script, str(path), state.path, "1"]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
    assert out == [PHONES[1]]  # a process per call carries on the rotation
    republished = image_of(backend, {**flow, "greeting": "hello", "prompts": {"hello": "h.wav"}})
    # five calls so far: a new image goes on from the sixth, not from the first member
    assert rotation(backend, republished, state, 2, first=10) == [PHONES[2], PHONES[0]]


def test_round_robin_without_room_for_its_cursor_rotates_by_the_seed(backend, tmp_path):
    tiny = backend.State.create(str(tmp_path / "tiny"), destinations=16, memory=8, numbers=1)
    for i in range(64):  # other groups fill the cursor table (16 entries a number)
        tiny.next_cursor("4006009999", f"g{i}")
    assert tiny.next_cursor(DID, "sales") is None
    flow = flow_with(groups={"sales": {"members": ["p0", "p1", "p2"], "mode": "round_robin"}})
    image = image_of(backend, flow)
    firsts = set()
    for seed in range(6):
        s = CallSession(image, tiny, seed=seed, classify=backend.default_classifier().classify)
        firsts.add(s.handle(CallStarted(DID, CALLER, T0, f"s{seed}"))[-1].targets[0])
        s.handle(CallerHungUp())
    assert firsts == set(PHONES)


# --- 4. long calls ---


def test_a_long_call_keeps_its_agent_while_kept_alive(backend, state, monkeypatch):
    monkeypatch.setattr(dialer_module, "LEASE_SECONDS", 1.0)
    image = image_of(backend, flow_with())
    s, _ = start(backend, image, state)
    s.handle(Answered(PHONES[0]))
    for _ in range(5):  # 1.5 s of conversation, a keep-alive every 0.3 s
        time.sleep(0.3)
        s.handle(KeepAlive())
        state.reap()
    assert busy(state, PHONES[0]) == 1  # still talking: never taken for stale
    time.sleep(1.3)  # no keep-alive for longer than the lease: the lease runs out
    state.reap()
    assert busy(state, PHONES[0]) == 0
    s.handle(CallerHungUp())


# --- 5. raw caller IDs ---------------------------------------------------------------------------


AREA_FLOW = flow_with(
    start="by_area",
    routes={"by_area": {"by": "area", "areas": {"010": "beijing"}, "default": "others"}},
    groups={
        "beijing": {"members": ["p0"]},
        "others": {"members": ["p1"]},
    },
    blacklist={"numbers": ["13812345678"]},
    system_prompt_on_transfer=False,
)


@pytest.mark.parametrize(
    ("raw", "number", "kind", "rings"),
    [
        ("+86 138-0013-8000", "13800138000", "mobile", PHONES[0]),  # a Beijing mobile
        ('"Zhang San" <01065529988>', "01065529988", "landline", PHONES[0]),
        ("sip:075588886666@10.0.0.1;user=phone", "075588886666", "landline", PHONES[1]),
        ("anonymous", None, "withheld", PHONES[1]),
        ("unknown", None, "withheld", PHONES[1]),
        ("Restricted", None, "withheld", PHONES[1]),
        ("", None, "withheld", PHONES[1]),
        ("x\r\nAGI EXEC Dial 1|2", None, "withheld", PHONES[1]),
    ],
)
def test_raw_caller_ids_route_and_are_recorded(backend, state, raw, number, kind, rings):
    image = image_of(backend, AREA_FLOW)
    s, actions = start(backend, image, state, caller=raw)
    assert actions == [actions[0]] and actions[0].targets == (rings,)
    rec = s.record
    assert (rec.caller_number, rec.caller_kind) == (number, kind)
    assert rec.caller == CallStarted(DID, raw, 0, "c").caller  # as sent, sanitised
    assert "\n" not in rec.caller and "\r" not in rec.caller
    s.handle(CallerHungUp())


def test_a_blacklisted_caller_behind_a_display_name_is_refused(backend, state):
    image = image_of(backend, AREA_FLOW)
    s, actions = start(backend, image, state, caller='"Someone" <+86 138 1234 5678>')
    assert actions == [Hangup("blacklisted")] and s.record.outcome == "blacklisted"


def test_a_withheld_caller_gets_no_call_memory_and_no_sms(backend, state):
    flow = flow_with(call_memory=True, sms={"text": "Thanks", "signature": "ACME",
                                            "approval": "approved"})  # fmt: skip
    image = image_of(backend, flow)
    for caller, sent in (("anonymous", 0), ("13900139000", 1)):
        box = SmsList()
        s, _ = start(backend, image, state, caller=caller, call_id=caller, notifier=box)
        s.handle(Answered(PHONES[0]))
        s.handle(DialResult("answered", PHONES[0], 5))
        assert s.record.outcome == "answered" and len(box.sent) == sent
    assert state.recall(DID, "anonymous", T0) is None
    assert state.recall(DID, "13900139000", T0) == PHONES[0]


# --- 6. answered_by from the PBX -----------------------------------------------------------------


def test_an_answer_by_a_number_never_rung_is_recorded_flagged_not_credited(backend, tmp_path):
    small = backend.State.create(str(tmp_path / "small"), destinations=8, memory=8, numbers=2)
    image = image_of(backend, flow_with(system_prompt_on_transfer=False, call_memory=True))
    for i in range(31):  # 31 strangers: the small destination table must not fill
        s, _ = start(backend, image, small, call_id=f"c{i}")
        assert s.handle(Answered(f"1370000{i:04d}")) == []  # not rung: ignored
        s.handle(DialResult("answered", f"1370000{i:04d}", 10))
        rec = s.record
        assert rec.answered_unlisted and rec.answered_by == f"1370000{i:04d}"
        assert rec.outcome == "answered"
    assert small.destination("13700000000") is None
    assert small.recall(DID, CALLER, T0) is None
    assert all(d.answered == 0 for d in small.destinations_now())
    s, actions = start(backend, image, small, call_id="later")
    assert isinstance(actions[0], Dial) and len(actions[0].targets) == 3


# --- 7. outcomes ---


def test_everyone_busy_ends_busy_and_lists_who_was_busy(backend, state):
    flow = flow_with(groups={"sales": {"members": ["p0", "p1"], "mode": "sequential"}})
    image = image_of(backend, flow)
    for n in PHONES[:2]:
        state.claim([n], "elsewhere")
    s, actions = start(backend, image, state)
    assert actions == [Hangup("busy")]
    assert s.record.outcome == "busy" and s.record.tried == PHONES[:2]
    assert s.record.busy == PHONES[:2]


def test_nobody_answering_ends_no_answer(backend, state):
    flow = flow_with(groups={"sales": {"members": ["p0", "p1"], "mode": "sequential"}})
    image = image_of(backend, flow)
    s, actions = start(backend, image, state)
    actions = s.handle(DialResult("no_answer"))
    assert isinstance(actions[-1], Dial)
    assert s.handle(DialResult("busy")) == [Hangup("no_answer")]
    assert s.record.outcome == "no_answer" and s.record.tried == PHONES[:2]


def test_a_failed_group_frees_its_phones_before_the_flow_goes_on(backend, state):
    flow = flow_with(
        groups={"sales": {"members": ["p0"], "on_no_answer": "box"}},
        voicemail={"box": {"max_seconds": 60}},
    )
    image = image_of(backend, flow)
    s, _ = start(backend, image, state)
    assert busy(state, PHONES[0]) == 1
    actions = s.handle(DialResult("no_answer"))
    assert actions[0].box == "box"
    assert busy(state, PHONES[0]) == 0  # free for another caller while this one leaves a message
    s.handle(KeepAlive())
    assert busy(state, PHONES[0]) == 0
    assert s.handle(VoicemailResult("vm-1", 12)) == [Hangup("normal")]
    assert s.record.outcome == "voicemail" and s.record.voicemail == "vm-1"


def test_an_answered_call_that_ends_with_the_caller_keeps_its_answer(backend, state):
    image = image_of(backend, flow_with())
    s, _ = start(backend, image, state)
    s.handle(Answered(PHONES[1], T0 + 5))
    s.handle(CallerHungUp(T0 + 65))  # before the PBX reported the end of the attempt
    rec = s.record
    assert (rec.outcome, rec.answered_by, rec.talk_seconds) == ("answered", PHONES[1], 60)
    assert (rec.answer, rec.end) == (T0 + 5, T0 + 65)
    d = state.destination(PHONES[1])
    assert (d.answered, d.talk_seconds, d.busy) == (1, 60, 0)


def test_an_outbound_answer_from_another_number_is_flagged(backend, state):
    image = image_of(backend, flow_with())
    s = CallSession(image, state, classify=backend.default_classifier().classify)
    s.handle(OutboundStarted(DID, PHONES[0], "13900139000", T0, "o1"))
    s.handle(DialResult("answered", "13711112222", 30))
    assert s.record.answered_unlisted and s.record.answered_by == "13711112222"
    s = CallSession(image, state, classify=backend.default_classifier().classify)
    s.handle(OutboundStarted(DID, PHONES[0], "13900139000", T0, "o2"))
    s.handle(DialResult("answered", "13900139000", 30))
    assert not s.record.answered_unlisted


def test_a_caller_who_chooses_to_hang_up_after_a_busy_group_ends_normally(backend, state):
    flow = flow_with(
        prompts={"m": "m.wav"},
        groups={"sales": {"members": ["p0"], "on_busy": "sorry"}},
        menus={"sorry": {"prompt": "m", "keys": {"1": "sales", "2": "hangup"}}},
    )
    image = image_of(backend, flow)
    state.claim([PHONES[0]], "elsewhere")
    s, actions = start(backend, image, state)
    assert isinstance(actions[0], Collect)  # everyone busy: the flow offers a menu
    assert s.handle(Digits("2")) == [Hangup("normal")]
    assert s.record.outcome == "normal" and s.record.busy == [PHONES[0]]


# --- 8. invalid extensions ---


def ext_flow(**ext):
    return flow_with(
        start="extensions",
        extensions={"numbers": {"801": ["p0"], "802": ["p1"]}, "retries": 2, **ext},
        system_prompt_on_transfer=False,
    )


def test_an_unknown_extension_plays_the_invalid_prompt_and_asks_again(backend, state):
    image = image_of(backend, ext_flow())
    s, actions = start(backend, image, state)
    ask = actions[0]
    assert isinstance(ask, Collect) and ask.prompt == "sys_enter_extension"
    assert s.handle(Digits("809")) == [Play("sys_invalid_extension"), ask]
    assert s.handle(Digits("")) == [ask]  # a timeout: asked again, no invalid prompt
    assert s.handle(Digits("7")) == [Hangup("normal")]  # retries spent: on_fail (hangup)


def test_the_flow_may_set_the_invalid_extension_prompt_and_a_fixed_length(backend, state):
    flow = ext_flow(fixed_length=3, invalid_prompt="noext", on_fail="box")
    flow["prompts"] = {"noext": "noext.wav"}
    flow["voicemail"] = {"box": {"max_seconds": 60}}
    image = image_of(backend, flow)
    s, actions = start(backend, image, state)
    assert s.handle(Digits("80")) == [Play("noext"), actions[0]]  # wrong length
    assert s.handle(Digits("801"))[-1].targets == (PHONES[0],)
    assert s.record.branches == ["extensions.801"]


# --- 9. branch statistics ---


def menus_flow(tz="Asia/Shanghai"):
    menus = {
        f"m{i}": {
            "prompt": "p",
            "keys": {str(k): (f"m{i + 1}" if i < 3 else "hangup") for k in range(1, 10)},
        }
        for i in range(4)
    }
    return flow_with(
        start="m0",
        timezone=tz,
        prompts={"p": "p.wav"},
        menus=menus,
        extensions={"numbers": {str(800 + i): ["p0"] for i in range(1, 10)}},
    )


def test_every_branch_has_a_counter_slot_of_its_own(backend, state, tmp_path):
    image = image_of(backend, menus_flow())
    slots = json.loads(image.blob(f"{DID}/branches"))
    assert len(set(slots.values())) == len(slots) == 4 * 9 + 9
    store = CallStore(tmp_path / "calls.db")
    for call, keys in enumerate(["1111", "2222", "1234", "9991"]):
        s, _ = start(backend, image, state, call_id=f"b{call}", records=store)
        for k in keys:
            s.handle(Digits(k))
        s.handle(CallerHungUp())
    counts = state.branch_counts(DID, T0)
    stored = {r["branch"]: r["calls"] for r in store.branch_stats(DID)}
    assert stored == {
        "m0.1": 2, "m1.1": 1, "m2.1": 1, "m3.1": 2, "m0.2": 1, "m1.2": 2, "m2.2": 1,
        "m3.2": 1, "m2.3": 1, "m3.4": 1, "m0.9": 1, "m1.9": 1, "m2.9": 1,
    }  # fmt: skip
    assert {label: int(counts[slot]) for label, slot in slots.items() if counts[slot]} == stored


def test_the_compilers_slots_fit_the_states_rows_and_more_are_a_warning(backend):
    from routecore.flow.compile import BRANCH_SLOTS

    assert BRANCH_SLOTS == backend.STATE_BRANCHES
    many = flow_with(
        start="extensions",
        extensions={"numbers": {str(1000 + i): ["p0"] for i in range(300)}},
    )
    _, issues = validate_flow(many, source=f"{DID}.yaml")
    (warning,) = [i for i in issues if "live counters" in i.message]
    assert warning.severity == "warning" and "300 branches" in warning.message
    slots = json.loads(image_of(backend, many).blob(f"{DID}/branches"))
    assert len(slots) == BRANCH_SLOTS and max(slots.values()) == BRANCH_SLOTS - 1


def test_an_image_compiled_before_branch_slots_still_counts_branches(backend, state):
    from routecore.flow.compile import flow_sections

    flow = validate_flow(menus_flow(), source=f"{DID}.yaml")[0]
    sections = flow_sections(flow, backend)
    slots = json.loads(backend.Image.from_buffer(backend.build_image(sections)).blob(
        f"{DID}/branches"))  # fmt: skip
    del sections[f"{DID}/branches"]
    image = backend.Image.from_buffer(backend.build_image(sections))
    s, _ = start(backend, image, state)
    s.handle(Digits("3"))
    assert state.branch_counts(DID, T0)[slots["m0.3"]] == 1


def test_a_caller_id_written_as_a_formula_is_exported_as_text(backend, state, tmp_path):
    import io

    from routecore.store.reports import report_rows, write_csv

    store = CallStore(tmp_path / "calls.db")
    image = image_of(backend, flow_with())
    s, _ = start(backend, image, state, caller='=HYPERLINK("http://x")', records=store)
    s.handle(CallerHungUp())
    out = io.StringIO()
    write_csv(report_rows(store, "calls", DID), out)
    assert "'=HYPERLINK" in out.getvalue() and ",=HYPERLINK" not in out.getvalue()


def test_branches_count_days_in_the_flows_own_zone(backend, state):
    ny = "America/New_York"
    image = image_of(backend, menus_flow(ny))
    at = datetime(2026, 11, 23, 20, 0, tzinfo=ZoneInfo(ny)).timestamp()  # Shanghai: the 24th
    s, _ = start(backend, image, state, at=at)
    s.handle(Digits("5"))
    slot = json.loads(image.blob(f"{DID}/branches"))["m0.5"]
    assert state.branch_counts(DID, at, tz=ny)[slot] == 1
    next_day_in_shanghai = datetime(2026, 11, 24, 12, 0, tzinfo=SH).timestamp()
    assert state.branch_counts(DID, next_day_in_shanghai, tz="Asia/Shanghai")[slot] == 0


# --- 10. threads ---


def test_many_sessions_in_threads_share_nothing_that_races(backend, state):
    flow = flow_with(
        start="main",
        prompts={"m": "m.wav"},
        menus={"main": {"prompt": "m", "keys": {"1": "sales"}}},
        groups={"sales": {"members": ["p0", "p1", "p2"], "mode": "round_robin"}},
    )
    images = [image_of(backend, flow), image_of(backend, {**flow, "greeting": "m"})]
    errors: list[BaseException] = []
    records: list = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        try:
            for i in range(40):
                if i % 10 == 0:
                    with plan_module._PLANS_LOCK:
                        plan_module._PLANS.clear()  # force plans to be rebuilt concurrently
                s, _ = start(backend, images[i % 2], state, call_id=f"t{w}-{i}")
                actions = s.handle(Digits("1"))
                dial = actions[-1]
                if isinstance(dial, Dial):
                    s.handle(Answered(dial.targets[0]))
                    s.handle(KeepAlive())
                    s.handle(DialResult("answered", dial.targets[0], 3))
                s.handle(CallerHungUp())
                with lock:
                    records.append(s.record)
        except BaseException as e:  # reported below, outside the thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(records) == 240 and all(r.outcome in ("answered", "busy") for r in records)
    assert all(d.busy == 0 for d in state.destinations_now())


# --- the engine as a package ---


def test_engine_modules_never_import_the_package_root():
    import ast
    from pathlib import Path

    folder = Path(routecore.__file__).parent / "engine"
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert all(a.name != "routecore" for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                assert node.module != "routecore", path.name


def test_the_public_api_still_exports_the_engine():
    from routecore.engine import actions

    for name in ("CallSession", "CallRecord", "Answered", "KeepAlive", "DropLeg", "route"):
        assert name in routecore.__all__
    assert routecore.Answered is actions.Answered and routecore.CallSession is CallSession
