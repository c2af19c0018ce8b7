"""The agent's outbound call, a part of :class:`routecore.engine.session.CallSession`: one Dial
to the customer shown the 400 number, the agent held while it talks, a call to another seat
claimed as any destination (B3, V5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from routecore.engine.actions import Action, Dial, DialResult, OutboundStarted
from routecore.engine.dialer import Dialer
from routecore.engine.plan import Plan, plan_for
from routecore.engine.record import CallRecord
from routecore.engine.ringing import Ringing, Wait

__all__ = ["OUTBOUND_RING_TIMEOUT", "OutboundCalls"]

OUTBOUND_RING_TIMEOUT = 45  # B3: seconds an outbound call rings the customer
_OUTBOUND: Any = None  # an outbound call's Ringing has no node of the plan


def _log() -> Any:
    import logging  # only when there is something to say

    return logging.getLogger("routecore.engine")


class OutboundCalls:
    """The outbound half of a CallSession (which has the attributes and steps declared here)."""

    if not TYPE_CHECKING:  # no __dict__ for the session (mypy sees the attributes below)
        __slots__ = ()

    if TYPE_CHECKING:
        image: Any
        state: Any
        record: CallRecord | None
        plan: Plan | None
        wait: Wait | None
        _now: float
        _classify: Callable[[str], Any]
        _dialer: Dialer | None
        _hold: Dialer | None
        _ring: Ringing | None

        def _end(self, outcome: str | None, cause: str) -> list[Action]: ...
        def _mark_answer(self, ev: DialResult) -> None: ...
        def _talk(self, ev: DialResult, who: str) -> None: ...

    def _start_outbound(self, ev: OutboundStarted) -> list[Action]:
        """B3: the agent ``ev.agent`` calls the customer; one Dial, then the record. An agent
        the shared state knows is held for the call (no inbound call is offered to it); a
        customer it knows is another seat (V5's internal call): claimed as any destination,
        and a busy one is not rung."""
        self._now = ev.at
        rec = self.record = CallRecord(
            ev.call_id, ev.did, ev.agent, kind="outbound", callee=ev.customer, start=ev.at
        )
        rec.caller_number = ev.agent
        self.plan = plan_for(self.image, ev.did)
        customer = self._classify(ev.customer)
        rec.caller_kind, rec.caller_area = customer.kind, customer.area_code
        number = customer.number or ev.customer  # dialled in national form when it has one
        rec.tried.append(number)
        if self.state is not None:
            self._hold_agent(ev.agent, ev.call_id)
            self._dialer = Dialer(self.state, ev.call_id)
            if self.state.destination(number) is not None:  # a seat: an internal call
                rec.kind = "internal"
                if not self._dialer.take((number,)):
                    rec.busy.append(number)
                    return self._end("not_answered", "busy")
        self.wait = Wait.OUTBOUND
        self._ring = Ringing(_OUTBOUND, [(number,)])
        self._ring.targets = (number,)
        record = self.plan is not None and self.plan.record
        return [Dial((number,), ring_timeout=OUTBOUND_RING_TIMEOUT, record=record)]

    def _hold_agent(self, agent: str, call_id: str) -> None:
        """Claim ``agent`` for an outbound call when the shared state knows it; one that has no
        room is still the caller (it placed the call): logged, not held."""
        assert self.state is not None
        if not agent.isdigit() or self.state.destination(agent) is None:
            return
        hold = Dialer(self.state, call_id)
        if hold.take((agent,)):
            self._hold = hold
        else:
            _log().info("call %s: the agent %s places it with no room left", call_id, agent)

    def _outbound_result(self, ev: DialResult) -> list[Action]:
        rec = self.record
        assert rec is not None and self._ring is not None
        if ev.outcome == "answered" or self._ring.winner is not None:
            if rec.answer is None:
                self._mark_answer(ev)
            who = self._ring.winner or ev.answered_by or self._ring.targets[0]
            if who not in self._ring.targets:  # not the customer dialled: as reported, flagged
                _log().warning("call %s: answered_by %s was not dialled", rec.call_id, who)
                rec.answered_unlisted = True
            self._talk(ev, who)
            return self._end("answered", "normal")
        cause = "busy" if ev.outcome == "busy" else "no_answer"
        return self._end("not_answered", cause if ev.outcome != "failed" else "error")
