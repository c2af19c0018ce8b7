"""A call that talks with more than one agent: a seat's transfer (V5) and the extension
dialer's second transfer (V1). The new agent is claimed, the old one freed, the record names
both and bills every leg."""

from __future__ import annotations

import pytest

from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    Dial,
    DialResult,
    Digits,
    Hangup,
    Play,
)
from routecore.errors import ActionError
from routecore.store import CallStore
from tests.engine.test_engine import MONDAY_10, all_free, call

TRANSFER = Play("sys_transfer")


AGENT, SEAT, OTHER = "13800138003", "13900001111", "13700002222"


def busy(state, number):
    found = state.destination(number)
    return 0 if found is None else found.busy


def talking(image, state, at=MONDAY_10):
    """A caller of 4006001003's sales line talking with AGENT (answered 5 s after the start)."""
    s, _ = call(image, state, "4006001003", "13900000000", at=at)
    s.handle(Digits("1"))
    assert s.handle(Digits("2")) == [TRANSFER, Dial((AGENT,), ring_timeout=20)]
    assert s.handle(Answered(AGENT, at=at + 5)) == []
    return s


def test_a_transfer_claims_the_new_seat_frees_the_old_and_bills_both_legs(image, state):
    s = talking(image, state)
    assert busy(state, AGENT) == 1
    actions = s.handle(DialResult("answered", AGENT, 40, at=MONDAY_10 + 45, transfer=SEAT))
    assert actions == [TRANSFER, Dial((SEAT,), ring_timeout=30)]
    assert busy(state, AGENT) == 0 and busy(state, SEAT) == 1
    assert s.handle(Answered(SEAT, at=MONDAY_10 + 50)) == []
    assert s.handle(DialResult("answered", SEAT, 20, at=MONDAY_10 + 70)) == [Hangup("normal")]
    rec = s.record
    assert (rec.outcome, rec.answered_by, rec.talk_seconds) == ("answered", AGENT, 60)
    assert rec.answer == MONDAY_10 + 5  # the first answer moment
    assert rec.talked_with == [AGENT, SEAT] and rec.transfers == [SEAT]
    assert rec.tried == [AGENT, SEAT]
    assert state.destination(SEAT).talk_seconds == 20
    assert state.destination(AGENT).talk_seconds == 40
    assert all_free(state)


def test_a_transfer_nobody_takes_rings_the_seat_that_sent_it(image, state):
    state.claim([SEAT], "another-call")
    s = talking(image, state)
    actions = s.handle(DialResult("answered", AGENT, 40, transfer=SEAT))
    assert actions == [TRANSFER, Dial((AGENT,), ring_timeout=30)]  # SEAT busy: never rung
    assert s.record.busy == [SEAT] and s.record.transfers == [SEAT]
    assert s.handle(DialResult("no_answer")) == [Hangup("normal")]  # nor the sender: it ends
    rec = s.record
    assert (rec.outcome, rec.answered_by, rec.talk_seconds) == ("answered", AGENT, 40)
    assert rec.talked_with == [AGENT]
    assert busy(state, AGENT) == 0


def test_transfers_chain_and_the_caller_hanging_up_counts_the_last_leg(image, state):
    s = talking(image, state)
    s.handle(DialResult("answered", AGENT, 10, at=MONDAY_10 + 15, transfer=SEAT))
    s.handle(Answered(SEAT, at=MONDAY_10 + 20))
    s.handle(DialResult("answered", SEAT, 5, at=MONDAY_10 + 25, transfer=OTHER))
    s.handle(Answered(OTHER, at=MONDAY_10 + 30))
    assert s.handle(CallerHungUp(at=MONDAY_10 + 42)) == []
    rec = s.record
    assert rec.talked_with == [AGENT, SEAT, OTHER] and rec.transfers == [SEAT, OTHER]
    assert rec.talk_seconds == 10 + 5 + 12 and rec.outcome == "answered"
    assert all_free(state)


def test_every_extension_of_a_second_transfer_is_billed(image, state):
    """Before: the second extension's talk replaced the first's (30 s lost from the bill)."""
    s, _ = call(image, state, "4006001004", "13900000000")
    s.handle(Digits("801"))
    s.handle(DialResult("no_answer"))
    s.handle(DialResult("answered", "13911112222", 30))
    s.handle(Digits("802"))
    s.handle(DialResult("answered", "13822223333", 45))
    s.handle(CallerHungUp())
    rec = s.record
    assert rec.talk_seconds == 75 and rec.answered_by == "13911112222"
    assert rec.talked_with == ["13911112222", "13822223333"] and rec.transfers == []


def test_a_transfer_is_only_for_an_answered_leg_and_names_a_number():
    with pytest.raises(ActionError, match="transfer"):
        DialResult("no_answer", transfer=SEAT)
    with pytest.raises(ActionError, match="transfer"):
        DialResult("answered", AGENT, 3, transfer="80a")
    assert DialResult("answered", AGENT, 3, transfer="801").transfer == "801"


def test_the_call_store_keeps_both_agents(image, state, tmp_path):
    s = talking(image, state)
    s.handle(DialResult("answered", AGENT, 40, transfer=SEAT))
    s.handle(DialResult("answered", SEAT, 20))
    with CallStore(tmp_path / "calls.db") as calls:
        calls.add(s.record)
        (row,) = list(calls.calls("4006001003"))
        assert row["transfers"] == [SEAT] and row["talked_with"] == [AGENT, SEAT]
        assert calls.call("4006001003", "c1")["talked_with"] == [AGENT, SEAT]


def outbound(image, state, agent, customer, call_id="o1"):
    from routecore.engine import CallSession
    from routecore.engine.actions import OutboundStarted

    s = CallSession(image, state)
    return s, s.handle(OutboundStarted("4006001003", agent, customer, MONDAY_10, call_id))


def test_a_seat_placing_a_call_back_is_held_until_it_ends(image, state):
    state.add_destination(AGENT, capacity=1)
    s, actions = outbound(image, state, AGENT, "13900139000")
    assert actions[0].targets == ("13900139000",) and s.record.kind == "outbound"
    assert busy(state, AGENT) == 1  # no inbound call is offered to it meanwhile
    assert state.destination("13900139000") is None  # a customer never enters the state
    s.handle(DialResult("answered", "13900139000", 30))
    assert busy(state, AGENT) == 0 and s.record.talked_with == ["13900139000"]


def test_an_internal_call_claims_the_other_seat_and_a_busy_one_is_not_rung(image, state):
    state.add_destination(AGENT, capacity=1)
    state.add_destination(SEAT, capacity=1)
    s, actions = outbound(image, state, AGENT, SEAT)
    assert actions[0].targets == (SEAT,) and s.record.kind == "internal"
    assert busy(state, SEAT) == 1 and busy(state, AGENT) == 1
    s.handle(Answered(SEAT, at=MONDAY_10 + 3))
    s.handle(DialResult("answered", SEAT, 12))
    assert s.record.outcome == "answered" and all_free(state)
    state.claim([SEAT], "an-inbound-call")
    s, actions = outbound(image, state, AGENT, SEAT, "o2")
    assert actions == [Hangup("busy")]
    assert (s.record.outcome, s.record.busy) == ("not_answered", [SEAT])
    assert busy(state, AGENT) == 0  # released with the call


def test_internal_calls_bill_as_outbound_and_leave_no_missed_call_sms(image, state):
    from routecore.billing.usage import usage
    from routecore.engine import CallSession
    from routecore.engine.actions import OutboundStarted
    from routecore.engine.sms import SmsList

    state.add_destination(SEAT, capacity=1)
    sent = SmsList()
    s = CallSession(image, state, notifier=sent)
    s.handle(OutboundStarted("4006001003", AGENT, SEAT, MONDAY_10, "o3"))
    s.handle(DialResult("no_answer"))
    assert s.record.kind == "internal" and sent.sent == []
    row = {"kind": "internal", "answer": MONDAY_10, "talk_seconds": 61}
    assert (usage([row]).outbound_calls, usage([row]).outbound_minutes) == (1, 2)


def test_a_transfer_to_an_extension_rings_its_phones_in_order(image, state):
    s, _ = call(image, state, "4006001004", "13900000000")
    s.handle(Digits("802"))
    s.handle(Answered("13822223333", at=MONDAY_10 + 5))
    actions = s.handle(DialResult("answered", "13822223333", 9, transfer="801"))
    assert actions == [TRANSFER, Dial(("01065520001",), ring_timeout=30)]
    assert s.handle(DialResult("no_answer")) == [TRANSFER, Dial(("13911112222",), ring_timeout=30)]
    assert s.handle(DialResult("busy")) == [TRANSFER, Dial(("13822223333",), ring_timeout=30)]
    assert s.record.transfers == ["801"]
