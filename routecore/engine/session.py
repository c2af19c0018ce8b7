"""``CallSession``: one call through the published flow of its 400 number, Events in and Actions
out (``routecore.engine.actions``), so PBX adapters stay thin (B3, B4, B5, B6, B7, B8, B9, B10,
B11, B12, B13, B14, V1, V4, V5, F2).

The session walks the number's :class:`~routecore.engine.plan.Plan` (built once per image) and
leaves every claim on the shared state to its :class:`~routecore.engine.dialer.Dialer`. What one
inbound call does:

1. the caller ID is read as the PBX sent it (B6): the number in it is classified; a caller
   without one is withheld (default routes, no memory, no SMS);
2. a blacklisted caller (B13) is refused before anything plays: ``Hangup("blacklisted")``;
3. the greeting (B4) plays;
4. targets are followed from ``start``: routes by caller area (B6) or time (B7, in the flow's
   zone) lead on at once; a menu (B14) collects one key (timeouts and invalid keys retried,
   then ``on_fail``); a group (B9) dials attempt after attempt in the order the dialer gave and
   claimed them (round robin from the shared cursor, capacities from the flow), then
   ``on_busy``/``on_no_answer``; a voicemail box (B5) offers "leave a message or keep waiting";
   a conference (V4) asks for its password; the extension dialer (V1) collects an extension
   (an unknown one plays the invalid-extension prompt and asks again, then ``on_fail``), rings
   its destinations in order, and may take another extension after the call;
5. before each transfer the system's "please hold" prompt plays unless the flow switches it off
   (F2); on connect the call is recorded (B8) and the agent announced (B10); the first target
   to answer (:class:`~routecore.engine.actions.Answered`) wins, the others are released at
   once and a later answer on the same attempt is dropped (``DropLeg``); after the agent hangs
   up the survey (B12) runs if the flow has it;
6. at the end the :class:`CallRecord` goes to ``records`` and the post-call SMS (B2, B3) to
   ``notifier``. A call that found everyone busy or nobody answering ends ``busy`` or
   ``no_answer`` (outcome and hang-up cause), unless its flow led somewhere else.

An outbound session (B3) starts with ``OutboundStarted``: one Dial to the customer.

The call's clock: ``CallStarted.at``, then the ``at`` of every later Event that carries one.
Sessions share only their number's plan (read-only but for a cache of Dial Actions) and the
shared state: many may run at once in threads or tasks of one process.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from routecore.engine.actions import (
    CAUSES,
    SECONDS_MAX,
    Action,
    Answered,
    CallerHungUp,
    CallStarted,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    DropLeg,
    Event,
    Hangup,
    KeepAlive,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    VoicemailResult,
)
from routecore.engine.callerid import WITHHELD, caller_number_text, default_classify
from routecore.engine.dialer import Dialer
from routecore.engine.outbound import OutboundCalls
from routecore.engine.plan import (
    HANGUP,
    AreaNode,
    Branch,
    ConferenceNode,
    ExtensionsNode,
    GroupNode,
    MenuNode,
    Plan,
    TimeNode,
    VoicemailNode,
    plan_for,
)
from routecore.engine.prompts import SYSTEM_PROMPTS
from routecore.engine.record import CallRecord
from routecore.engine.ringing import DIGITS_WAITS, TRANSFERRED, Ringing, Transferred, Wait

if TYPE_CHECKING:
    import logging

    from routecore.engine.sms import Notifier

__all__ = ["SYSTEM_PROMPTS", "CallRecord", "CallSession"]


def _log() -> logging.Logger:
    """The engine's logger. ``logging`` (like the SMS module) is loaded when first needed: a
    process-per-call script reaches its first PBX command sooner, and most calls log nothing."""
    import logging

    return logging.getLogger("routecore.engine")


MAX_HOPS = 64  # automatic steps between two caller interactions (validation forbids loops)
VOICEMAIL_OFFER_DIGITS = {"1": "leave", "2": "wait"}
DIALS_CACHED = 256  # Dials kept per group (every one-target attempt, common simultaneous ones)
_TRANSFER = Play(SYSTEM_PROMPTS["transfer"])
_SURVEY = Survey()
_HANGUPS: dict[str, Hangup] = {c: Hangup(c) for c in CAUSES}  # type: ignore[arg-type]


class _Records(Protocol):
    def add(self, record: CallRecord) -> None: ...


class CallSession(OutboundCalls):
    """One call through the published flow of its 400 number.

    ``image`` is the routing image the call started with (``LiveImage.current()``); ``state``
    the host's shared state (None: no claims, memory or counters); ``seed`` the selection seed
    (default: from the call id); ``records`` receives the CallRecord when the call ends (a
    ``CallStore``; None: kept on ``self.record`` only); ``notifier`` receives the post-call SMS;
    ``classify`` classifies the caller (default: ``routecore.classify``).
    """

    __slots__ = (
        "_caller",
        "_classify",
        "_clocked",
        "_dialer",
        "_failed",
        "_hold",
        "_node",
        "_now",
        "_ring",
        "_seed",
        "_tries",
        "done",
        "image",
        "notifier",
        "plan",
        "record",
        "records",
        "state",
        "wait",
    )

    def __init__(
        self,
        image: Any,
        state: Any = None,
        *,
        seed: int | None = None,
        records: _Records | None = None,
        notifier: Notifier | None = None,
        classify: Callable[[str], Any] | None = None,
    ) -> None:
        self.image = image
        self.state = state
        self.records = records
        self.notifier = notifier
        self._classify = classify if classify is not None else default_classify()
        self._seed = seed
        self.record: CallRecord | None = None
        self.done = False
        self.plan: Plan | None = None
        self._dialer: Dialer | None = None
        self._caller: Any = None
        self._now = 0.0
        self._clocked = False  # an event after the first carried a time
        self.wait: Wait | None = None
        self._node: Any = None  # the node waited on
        self._tries = 0
        self._ring: Ringing | None = None
        self._failed: str | None = None  # busy / no_answer: how the last dialling ended
        self._hold: Dialer | None = None  # an outbound call's agent, held while it talks

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """The Actions that follow ``event`` (none once the call is over; an Event the session
        is not waiting for is ignored)."""
        if self.done:
            return []
        if self.record is None:
            if isinstance(event, CallStarted):
                return self._start(event)
            if isinstance(event, OutboundStarted):
                return self._start_outbound(event)
            return []
        at = event.at
        if at is not None and at >= self._now:
            self._now, self._clocked = at, True
        on = _ON.get(event.__class__)
        if on is None:  # a subclass of an Event type
            on = next((f for cls, f in _ON.items() if isinstance(event, cls)), _ignore)
        return on(self, event)

    def _on_digits(self, ev: Digits) -> list[Action]:
        wait = self.wait
        if wait not in DIGITS_WAITS:
            return []
        self.wait = None
        if wait is Wait.MENU:
            return self._menu_key(self._node, ev.digits)
        if wait is Wait.EXTENSION:
            return self._extension(self._node, ev.digits)
        if wait is Wait.PASSWORD:
            return self._password(self._node, ev.digits)
        node: VoicemailNode = self._node
        if VOICEMAIL_OFFER_DIGITS.get(ev.digits[:1]) == "wait" and node.keep_waiting:
            return self._goto(node.keep_waiting)
        self.wait = Wait.VOICEMAIL
        return [node.message_after_offer]

    def _on_answered(self, ev: Answered) -> list[Action]:
        if self.wait is Wait.DIAL or self.wait is Wait.OUTBOUND:
            return self._answered(ev.target)
        return []

    def _on_dial_result(self, ev: DialResult) -> list[Action]:
        if self.wait is Wait.DIAL:
            self.wait = None
            return self._dial_result(ev)
        if self.wait is Wait.OUTBOUND:
            self.wait = None
            return self._outbound_result(ev)
        return []

    def _on_keep_alive(self, ev: KeepAlive) -> list[Action]:
        if self._dialer is not None:
            self._dialer.renew()
        if self._hold is not None:
            self._hold.renew()
        return []

    def _on_hung_up(self, ev: CallerHungUp) -> list[Action]:
        rec, ring = self.record, self._ring
        assert rec is not None
        if ring is not None and ring.winner is not None:  # a leg not counted yet
            # the conversation ended with the caller before the PBX reported the attempt's end
            start = ring.answered_at
            talk = max(int(self._now - start), 0) if self._clocked and start is not None else 0
            if self._dialer is not None and self.wait is Wait.DIAL:
                self._dialer.count(ring.targets, ring.winner, talk)
            self._add_talk(ring.winner, talk)
            rec.recorded = rec.recorded or (self.plan is not None and self.plan.record)
        self._finish("caller_hung_up" if rec.outcome == "in_progress" else None)
        return []

    def _on_voicemail(self, ev: VoicemailResult) -> list[Action]:
        if self.wait is not Wait.VOICEMAIL:
            return []
        assert self.record is not None
        self.record.voicemail = ev.reference
        return self._end("voicemail", "normal")

    def _on_conference(self, ev: ConferenceResult) -> list[Action]:
        if self.wait is not Wait.CONFERENCE:
            return []
        if ev.joined:
            return self._end("conference", "normal")
        self.wait = None
        return self._goto(self._node.on_fail)

    def _on_survey(self, ev: SurveyResult) -> list[Action]:
        if self.wait is not Wait.SURVEY:
            return []
        assert self.record is not None
        self.record.survey = ev.rating
        return self._end(None, "normal")

    def _start(self, ev: CallStarted) -> list[Action]:
        self._now = ev.at
        rec = self.record = CallRecord(ev.call_id, ev.did, ev.caller, start=ev.at)
        plan = self.plan = plan_for(self.image, ev.did)
        if plan is None:
            return self._end("no_route", "no_route")
        sent = caller_number_text(ev.caller)
        caller = self._caller = self._classify(sent)
        number = caller.number or None
        rec.caller_number = number
        rec.caller_kind = caller.kind if number else WITHHELD
        rec.caller_area = caller.area_code
        if plan.blacklist is not None and self._blacklisted(plan.blacklist, number, sent):
            return self._end("blacklisted", "blacklisted")
        self._dialer = Dialer(self.state, ev.call_id)
        actions = self._goto(plan.start)
        if plan.greeting is not None:
            actions.insert(0, plan.greeting)
        return actions

    @staticmethod
    def _blacklisted(trie: Any, number: str | None, sent: str) -> bool:
        """B13: the caller's number, or the digits the PBX sent as they were, is listed."""
        if number and trie.lookup(number) is not None:
            return True
        digits = sent.lstrip("+")
        return digits != number and digits.isdigit() and trie.lookup(digits) is not None

    # -- walking the plan --------------------------------------------------------------------

    def _goto(self, target: str) -> list[Action]:
        nodes = self.plan.nodes  # type: ignore[union-attr]
        for _ in range(MAX_HOPS):
            node = nodes.get(target)
            if node is None:
                if target != HANGUP:
                    break
                rec, failed = self.record, self._failed
                if failed is not None and rec is not None and rec.outcome == "in_progress":
                    return self._end(failed, failed)
                return self._end(self._outcome_or("normal"), "normal")
            cls = node.__class__
            if cls is TimeNode:
                target = node.slots.get(node.plan.slot_at(self._now), node.otherwise)  # type: ignore[union-attr]
            elif cls is AreaNode:
                target = self._area(node)  # type: ignore[arg-type]
            else:
                return _ENTER[cls](self, node)
        return self._end("error", "error")

    def _enter_menu(self, node: MenuNode) -> list[Action]:
        self._tries, self._failed = 0, None  # the caller takes over
        self.wait, self._node = Wait.MENU, node
        return [node.ask]

    def _enter_extensions(self, node: ExtensionsNode) -> list[Action]:
        self._tries, self._failed = 0, None  # the caller takes over
        self.wait, self._node = Wait.EXTENSION, node
        return [node.ask]

    def _enter_conference(self, node: ConferenceNode) -> list[Action]:
        self._tries, self._failed = 0, None  # the caller takes over
        self.wait, self._node = Wait.PASSWORD, node
        return [node.ask]

    def _enter_voicemail(self, node: VoicemailNode) -> list[Action]:
        if node.offer is not None:
            self.wait, self._node = Wait.OFFER, node
            return [node.offer]
        self.wait = Wait.VOICEMAIL
        return [node.message]

    def _area(self, node: AreaNode) -> str:
        caller = self._caller
        code = caller.area_code
        if code:
            hit: int | None = node.codes.lookup(code)
            if hit is not None:
                return node.targets[hit]
        province = caller.province
        if province and province in node.provinces:
            return node.provinces[province]
        return node.default

    def _branch(self, branch: Branch) -> None:
        rec = self.record
        assert rec is not None and self.plan is not None
        rec.branches.append(branch.label)
        if self.state is not None and branch.slot is not None:
            self.state.count_branch(rec.did, branch.slot, self._now, tz=self.plan.tz)

    def _retry(self, wait: Wait, node: Any, invalid: Play | None) -> list[Action]:
        """Another try at ``node`` (the invalid prompt first when something wrong was keyed),
        or its ``on_fail`` once its retries are spent."""
        self._tries += 1
        if self._tries > node.retries:
            return self._goto(node.on_fail)
        self.wait, self._node = wait, node
        return [invalid, node.ask] if invalid is not None else [node.ask]

    def _menu_key(self, node: MenuNode, digits: str) -> list[Action]:
        branch = node.keys.get(digits[:1])
        if branch is not None:
            self._branch(branch)
            return self._goto(branch.to)
        return self._retry(Wait.MENU, node, node.invalid if digits else None)

    def _password(self, node: ConferenceNode, digits: str) -> list[Action]:
        if digits == node.password:
            self.wait, self._node = Wait.CONFERENCE, node
            return [node.join]
        self._tries += 1
        if self._tries >= node.tries:
            return self._goto(node.on_fail)
        self.wait, self._node = Wait.PASSWORD, node
        return [node.ask]

    def _extension(self, node: ExtensionsNode, digits: str) -> list[Action]:
        found = node.numbers.get(digits)
        if found is not None:
            targets, branch = found
            self._branch(branch)
            return self._ring_next(Ringing(node, [(t,) for t in targets]))  # V1: in order
        return self._retry(Wait.EXTENSION, node, node.invalid if digits else None)

    # -- ringing ------------------------------------------------------------------------------

    def _seed_of(self, call_id: str) -> int:
        # default: from the call id, the same in every process (str hash() is salted)
        return self._seed if self._seed is not None else zlib.crc32(call_id.encode())

    def _dial_group(self, node: GroupNode) -> list[Action]:
        rec, plan, dialer = self.record, self.plan, self._dialer
        assert rec is not None and plan is not None and dialer is not None
        order = dialer.order(
            node,
            seed=self._seed_of(rec.call_id),
            did=rec.did,
            caller=rec.caller_number,
            at=self._now,
            tz=plan.tz,
        )
        return self._ring_next(Ringing(node, order))

    def _ring_next(self, ring: Ringing) -> list[Action]:
        """Claim and dial the next attempt with room; when none is left, the node's way out."""
        rec, dialer, plan = self.record, self._dialer, self.plan
        assert rec is not None and dialer is not None and plan is not None
        order = ring.order
        for i in range(ring.index + 1, len(order)):
            wanted = order[i]
            taken = dialer.take(wanted, plan.capacities)
            rec.tried.extend(wanted)
            if len(taken) < len(wanted):  # those without room are busy: never rung
                rec.busy.extend(t for t in wanted if t not in taken)
            if taken:
                ring.index, ring.targets, ring.winner = i, taken, None
                return self._dial(ring)
        dialer.release()
        node = ring.node
        self._ring = None
        if node is TRANSFERRED:  # nobody took the transfer: the call ends as it was answered
            return self._end(None, "normal")
        self._failed = "busy" if ring.busy_only else "no_answer"
        if isinstance(node, ExtensionsNode):
            return self._goto(node.on_fail)
        return self._goto(node.on_busy if ring.busy_only else node.on_no_answer)

    def _dial(self, ring: Ringing) -> list[Action]:
        rec, plan = self.record, self.plan
        assert rec is not None and plan is not None
        targets = ring.targets
        self._ring, self.wait = ring, Wait.DIAL
        dial = self._dial_action(ring.node, targets, plan.record)
        return [_TRANSFER, dial] if plan.transfer else [dial]

    @staticmethod
    def _dial_action(node: Any, targets: tuple[str, ...], record: bool) -> Dial:
        if isinstance(node, ExtensionsNode | Transferred):
            return Dial(targets, ring_timeout=node.ring_timeout, record=record)
        dial: Dial | None = node.dials.get(targets)
        if dial is not None:
            return dial
        one = len(targets) == 1
        announce: Any = None
        if node.announce is not None:  # B10: the entry of each target (its prompt or agent id)
            each = tuple(node.announce.get(t) for t in targets)
            announce = each[0] if one else (each if any(a is not None for a in each) else None)
        dial = Dial(
            targets,
            simultaneous=not one,
            ring_timeout=node.ring_timeout,
            record=record,
            announce=announce,
        )
        if len(node.dials) < DIALS_CACHED:
            node.dials[targets] = dial
        return dial

    def _answered(self, target: str) -> list[Action]:
        """The answer moment: the first target of the attempt to answer wins."""
        ring = self._ring
        assert ring is not None
        if target not in ring.targets:
            _log().warning("call %s: answer from %s, which was not rung", self._call_id, target)
            return []
        if ring.winner is not None:
            return [] if target == ring.winner else [DropLeg(target)]
        ring.winner, ring.answered_at = target, self._now
        rec = self.record
        assert rec is not None
        if rec.answer is None:  # the first agent's answer: a transfer's leg keeps it
            rec.answer = self._now
        if self._dialer is not None:
            self._dialer.answer(target)
        if self.wait is Wait.DIAL:
            self._remember(target)
        return []

    @property
    def _call_id(self) -> str:
        return self.record.call_id if self.record is not None else "?"

    def _remember(self, agent: str) -> None:
        rec, plan = self.record, self.plan
        assert rec is not None and plan is not None and self._dialer is not None
        self._dialer.remember(rec.did, rec.caller_number, agent, self._now, plan.tz)

    def _mark_answer(self, ev: DialResult) -> None:
        rec = self.record
        assert rec is not None
        if rec.answer is not None:  # a later leg of the call: the first answer stays
            return
        # the attempt's end is known when the event carries it; the talk came just before
        rec.answer = max(rec.start, ev.at - ev.talk_seconds) if ev.at is not None else self._now

    def _talk(self, ev: DialResult, who: str) -> None:
        rec = self.record
        assert rec is not None
        self._add_talk(who, ev.talk_seconds)
        record = self.plan is not None and self.plan.record
        rec.recorded = rec.recorded or record or ev.recording is not None
        if rec.recording is None:  # a later leg's recording is the PBX's; the first is named
            rec.recording = ev.recording

    def _add_talk(self, who: str, seconds: int) -> None:
        """One leg of conversation: the first agent is ``answered_by``; every leg's seconds
        count (the caller's connected time, what is billed)."""
        rec = self.record
        assert rec is not None
        if rec.answered_by is None:
            rec.answered_by = who
        rec.talked_with.append(who)
        rec.talk_seconds = min(rec.talk_seconds + seconds, SECONDS_MAX)
        rec.outcome = "answered"

    def _dial_result(self, ev: DialResult) -> list[Action]:
        ring, dialer, rec = self._ring, self._dialer, self.record
        assert ring is not None and dialer is not None and rec is not None
        winner = ring.winner
        if winner is None and ev.outcome == "answered":
            reported = ev.answered_by
            assert reported is not None
            if reported in ring.targets:
                winner = reported
                self._remember(winner)
            else:  # never rung in this attempt: recorded as reported, never credited
                _log().warning("call %s: answered_by %s was not rung", rec.call_id, reported)
                rec.answered_unlisted = True
            self._mark_answer(ev)
        if winner is not None or ev.outcome == "answered":
            dialer.count(ring.targets, winner, ev.talk_seconds)
            dialer.release()
            self._talk(ev, winner or ev.answered_by or "")
            self._ring = None
            self._failed = None
            if ev.transfer is not None:
                return self._transfer(ev.transfer, winner or ev.answered_by)
            node = ring.node
            if isinstance(node, ExtensionsNode) and node.second_transfer:
                return self._enter_extensions(node)
            assert self.plan is not None
            if self.plan.survey:
                self.wait = Wait.SURVEY
                return [_SURVEY]
            return self._end(None, "normal")
        dialer.count(ring.targets, None, 0)
        dialer.release()
        if ev.outcome != "busy":
            ring.busy_only = False
        return self._ring_next(ring)

    def _transfer(self, to: str, by: str | None) -> list[Action]:
        """V5: the seat ``by`` sent the caller on to ``to``, a number or an extension of the
        flow's extension dialer (its phones in order): claim and ring it (the transfer prompt
        first, as any transfer); when nobody there answers, ring ``by`` again."""
        rec, plan = self.record, self.plan
        assert rec is not None and plan is not None
        rec.transfers.append(to)
        targets: tuple[str, ...] = (to,)
        for node in plan.nodes.values():
            if isinstance(node, ExtensionsNode) and to in node.numbers:
                targets = tuple(node.numbers[to][0])
                break
        order: list[tuple[str, ...]] = [(t,) for t in targets]
        if by is not None and by not in targets:
            order.append((by,))
        return self._ring_next(Ringing(TRANSFERRED, order))

    # -- ending -------------------------------------------------------------------------------

    def _outcome_or(self, default: str) -> str:
        rec = self.record
        return rec.outcome if rec is not None and rec.outcome != "in_progress" else default

    def _finish(self, outcome: str | None) -> None:
        if self._dialer is not None:
            self._dialer.release()
        if self._hold is not None:
            self._hold.release()
        self.wait = None
        self._ring = None
        self.done = True
        rec = self.record
        if rec is None:
            return
        if outcome is not None:
            rec.outcome = outcome
        if self._clocked:
            rec.end = self._now
        else:  # no event after the first carried a time: the talk is all we know of
            rec.end = (rec.answer if rec.answer is not None else rec.start) + rec.talk_seconds
        if self.records is not None or self.notifier is not None:
            self._after_call(rec)

    def _after_call(self, rec: CallRecord) -> None:
        """Hand the record to the store and the post-call SMS to the notifier. A failing store
        or notifier is logged, never raised into the PBX's call handling."""
        if self.records is not None:
            try:
                self.records.add(rec)
            except Exception:
                _log().exception("call %s: the call record could not be stored", rec.call_id)
        if self.notifier is not None:
            from routecore.engine.sms import post_call_sms  # at a call's end, not at import

            flow = self.plan.flow if self.plan is not None else {}
            for sms in post_call_sms(rec, flow, self._classify):
                try:
                    self.notifier.send(sms)
                except Exception:
                    _log().exception("call %s: the %s SMS could not be sent", rec.call_id, sms.kind)

    def _end(self, outcome: str | None, cause: str) -> list[Action]:
        self._finish(outcome)
        return [_HANGUPS[cause]]


def _ignore(session: CallSession, event: Any) -> list[Action]:
    return []


# What each Event does (by its exact type) and what entering each kind of node does.
_ON: dict[type, Callable[[CallSession, Any], list[Action]]] = {
    Digits: CallSession._on_digits,
    DialResult: CallSession._on_dial_result,
    Answered: CallSession._on_answered,
    CallerHungUp: CallSession._on_hung_up,
    KeepAlive: CallSession._on_keep_alive,
    VoicemailResult: CallSession._on_voicemail,
    ConferenceResult: CallSession._on_conference,
    SurveyResult: CallSession._on_survey,
    CallStarted: _ignore,  # a second start: the call has started already
    OutboundStarted: _ignore,
}
_ENTER: dict[type, Callable[[CallSession, Any], list[Action]]] = {
    MenuNode: CallSession._enter_menu,
    GroupNode: CallSession._dial_group,
    ExtensionsNode: CallSession._enter_extensions,
    VoicemailNode: CallSession._enter_voicemail,
    ConferenceNode: CallSession._enter_conference,
}
