"""The call engine: ``CallSession`` walks the published flow of one 400 number for one call,
taking Events and returning Actions (``routecore.actions``), so PBX adapters stay thin.

A session reads everything from the routing image it was given (the flow's structure from the
``{did}/flow`` section, its tries, time plans and groups) and, when given a state, claims
destinations there (B9 idle-first across every process of the host), reads and writes call memory
(V3) and counts branches (B11) and attempts. Every claim it takes is released by the end of the
call, however the call ends. The outcome is a :class:`CallRecord`.

What one call does:
1. a blacklisted caller (B13) is refused before anything plays: ``Hangup("blacklisted")``;
2. the greeting (B4) plays;
3. targets are followed from ``start``: routes by caller area (B6) or time (B7) lead on at once;
   a menu (B14) collects one key (timeouts and invalid keys retried, then ``on_fail``); a group
   (B9) dials attempt after attempt in the order the router gave and claimed them, then
   ``on_busy``/``on_no_answer``; a voicemail box (B5) offers "leave a message or keep waiting";
   a conference (V4) asks for its password (``retries`` tries); the extension dialer (V1)
   collects an extension and rings its destinations in order, and may take another extension
   after the call (second transfer);
4. before each transfer the system's "please hold, transferring" prompt plays unless the flow
   switches it off (F2); on connect the call is recorded (B8) and the agent announced (B10);
   after the agent hangs up, the survey (B12) runs if the flow has it;
5. at the end the :class:`CallRecord` goes to ``records`` (a ``routecore.store.CallStore``) and
   the post-call SMS (B2 hang-up SMS, B3 missed-call SMS, ``routecore.notify``) to ``notifier``.

An outbound session (B3) starts with ``OutboundStarted`` instead: the agent's call to a customer
is one Dial; not answered, it leaves a missed-call SMS for the customer.

The call's clock: ``CallStarted.at``, then the ``at`` of every later Event that carries one (an
adapter that sends no times gets a record whose end is its start plus the talk seconds).

Prompts the flow leaves unset are the system's, named in :data:`SYSTEM_PROMPTS`; an adapter maps
those names to its own sound files.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import routecore
from routecore.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Collect,
    Conference,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    Event,
    Hangup,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
)
from routecore.notify import Notifier, post_call_sms
from routecore.routing import route

__all__ = ["SYSTEM_PROMPTS", "CallRecord", "CallSession"]

log = logging.getLogger("routecore.engine")

MAX_HOPS = 64  # automatic steps between two caller interactions (validation forbids loops)
VOICEMAIL_OFFER_DIGITS = {"1": "leave", "2": "wait"}
OUTBOUND_RING_TIMEOUT = 45  # B3: seconds an outbound call rings the customer
OFFER_TIMEOUT = 5  # seconds to answer "1 leave a message, 2 keep waiting"
PASSWORD_TIMEOUT = 10  # seconds to key a conference password

SYSTEM_PROMPTS: dict[str, str] = {
    "transfer": "sys_transfer",  # F2: "please hold, your call is being transferred"
    "invalid": "sys_invalid_key",  # B14: a key the menu does not know
    "extension": "sys_enter_extension",  # V1: "please enter the extension, then #"
    "voicemail_offer": "sys_voicemail_offer",  # B5: "press 1 to leave a message, 2 to wait"
    "voicemail": "sys_voicemail",  # B5: "please leave a message after the tone"
    "password": "sys_conference_password",  # V4: "please enter the conference password"
}
"""The system prompts the engine plays where the flow names none (adapters map the names)."""
_TRANSFER = Play(SYSTEM_PROMPTS["transfer"])  # before every transfer: built once
_FLOWS: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()


def _flow(image: Any, did: str) -> dict[str, Any]:
    """The flow of ``did`` in ``image``, decoded once per image content (a small LRU)."""
    key = (image.content_hash, did)
    flow = _FLOWS.get(key)
    if flow is None:
        flow = json.loads(image.blob(f"{did}/flow"))
        _FLOWS[key] = flow
        if len(_FLOWS) > 1024:
            _FLOWS.popitem(last=False)
    else:
        _FLOWS.move_to_end(key)
    return flow


@dataclass
class CallRecord:
    """What happened on one call (the CDR).

    ``kind``: ``inbound`` (a caller dialled the 400 number) or ``outbound`` (B3: an agent,
    ``caller``, called a customer, ``callee``). Times are unix seconds of the call's own clock:
    ``start`` the first event's time, ``answer`` when an agent answered, ``end`` when the call
    ended. ``branches`` are the menu keys taken (``menu.key``, ``extensions.801``), ``tried``
    every destination rung in order, ``recording`` and ``voicemail`` the references the PBX
    gave. ``outcome``: answered, voicemail, conference, blacklisted, no_route, caller_hung_up,
    not_answered (an outbound call), normal (the flow ended the call), error.
    """

    call_id: str
    did: str
    caller: str
    kind: str = "inbound"
    callee: str | None = None
    caller_kind: str = "invalid"
    caller_area: str | None = None
    start: float = 0.0
    answer: float | None = None
    end: float | None = None
    branches: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    answered_by: str | None = None
    talk_seconds: int = 0
    recorded: bool = False
    recording: str | None = None
    voicemail: str | None = None
    survey: int | None = None
    outcome: str = "in_progress"


class _Records(Protocol):
    def add(self, record: CallRecord) -> None: ...


class CallSession:
    """One call through the published flow of its 400 number.

    ``image`` is the routing image the call started with (``LiveImage.current()``); ``state``
    the host's shared state (None: no claims, memory or counters); ``seed`` the selection seed
    (default: from the call id); ``records`` receives the CallRecord when the call ends (a
    ``CallStore``; None: kept on ``self.record`` only); ``notifier`` receives the post-call SMS;
    ``classify`` classifies the caller (default: ``routecore.classify``).
    """

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
        self._classify = classify if classify is not None else routecore.classify
        self.state = state
        self.records = records
        self.notifier = notifier
        self._seed = seed
        self.record: CallRecord | None = None
        self.done = False
        self._flow: dict[str, Any] = {}
        self._caller: Any = None
        self._now = 0.0
        self._clocked = False  # an event after the first carried a time
        self._wait: tuple[Any, ...] | None = None
        self._claim: Any = None

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """The Actions that follow ``event`` (none once the call is over)."""
        if self.done:
            return []
        if isinstance(event, CallStarted):
            return self._start(event)
        if isinstance(event, OutboundStarted):
            return self._start_outbound(event)
        if self.record is None:
            return []
        at = event.at
        if at is not None and at >= self._now:
            self._now, self._clocked = at, True
        if isinstance(event, CallerHungUp):
            self._finish("caller_hung_up" if self.record.outcome == "in_progress" else None)
            return []
        wait = self._wait
        if wait is None:
            return []
        self._wait = None
        kind = wait[0]
        if kind == "menu" and isinstance(event, Digits):
            return self._menu_key(wait[1], wait[2], event.digits)
        if kind == "offer" and isinstance(event, Digits):
            return self._voicemail_offer(wait[1], event.digits)
        if kind == "password" and isinstance(event, Digits):
            return self._password(wait[1], wait[2], event.digits)
        if kind == "extension" and isinstance(event, Digits):
            return self._extension(wait[1], event.digits)
        if kind == "dial" and isinstance(event, DialResult):
            return self._dial_result(wait, event)
        if kind == "outbound" and isinstance(event, DialResult):
            return self._outbound_result(event)
        if kind == "voicemail" and isinstance(event, VoicemailResult):
            self.record.voicemail = event.reference
            return self._end("voicemail", "normal")
        if kind == "conference" and isinstance(event, ConferenceResult):
            if event.joined:
                return self._end("conference", "normal")
            return self._goto(self._flow["conferences"][wait[1]]["on_fail"])
        if kind == "survey" and isinstance(event, SurveyResult):
            self.record.survey = event.rating
            return self._end(None, "normal")
        self._wait = wait  # an event the session is not waiting for: ignored
        return []

    def _start(self, ev: CallStarted) -> list[Action]:
        if self.record is not None:
            return []
        self._now = ev.at
        self.record = CallRecord(ev.call_id, ev.did, ev.caller, start=ev.at)
        if f"{ev.did}/flow" not in self.image:
            return self._end("no_route", "no_route")
        self._flow = _flow(self.image, ev.did)
        self._caller = self._classify(ev.caller)
        self.record.caller_kind = self._caller.kind
        self.record.caller_area = self._caller.area_code
        if self._blacklisted(ev.caller):
            return self._end("blacklisted", "blacklisted")
        actions: list[Action] = []
        greeting = self._flow.get("greeting")
        if greeting:
            actions.append(Play(greeting))
        return actions + self._goto(self._flow["start"])

    def _start_outbound(self, ev: OutboundStarted) -> list[Action]:
        """B3: the agent ``ev.agent`` calls the customer; one Dial, then the record."""
        if self.record is not None:
            return []
        self._now = ev.at
        rec = self.record = CallRecord(
            ev.call_id, ev.did, ev.agent, kind="outbound", callee=ev.customer, start=ev.at
        )
        if f"{ev.did}/flow" in self.image:
            self._flow = _flow(self.image, ev.did)
        customer = self._classify(ev.customer)
        rec.caller_kind, rec.caller_area = customer.kind, customer.area_code
        number = customer.number or ev.customer  # dialled in national form when it has one
        rec.tried.append(number)
        self._wait = ("outbound",)
        record = bool(self._flow.get("recording", False))
        return [Dial((number,), ring_timeout=OUTBOUND_RING_TIMEOUT, record=record)]

    def _outbound_result(self, ev: DialResult) -> list[Action]:
        rec = self.record
        assert rec is not None
        if ev.outcome == "answered":
            self._answered(ev, ev.answered_by or rec.tried[0])
            return self._end("answered", "normal")
        cause = {"busy": "busy", "no_answer": "no_answer"}.get(ev.outcome, "error")
        return self._end("not_answered", cause)

    def _blacklisted(self, raw: str) -> bool:
        name = f"{self.record.did}/blacklist"  # type: ignore[union-attr]
        if name not in self.image:
            return False
        trie = self.image.trie(name)
        return any(n and trie.lookup(n) is not None for n in {self._caller.number, raw.lstrip("+")})

    # -- walking the flow --------------------------------------------------------------------

    def _goto(self, target: str) -> list[Action]:
        flow = self._flow
        for _ in range(MAX_HOPS):
            if target == "hangup":
                return self._end(self._outcome_or("normal"), "normal")
            if target == "extensions":
                return self._ask_extension(0)
            if target in flow.get("routes", {}):
                target = self._route(target, flow["routes"][target])
                continue
            if target in flow.get("menus", {}):
                return self._ask_menu(target, 0)
            if target in flow.get("groups", {}):
                return self._dial_group(target)
            if target in flow.get("voicemail", {}):
                return self._offer_voicemail(target)
            if target in flow.get("conferences", {}):
                return self._ask_password(target, 0)
            break
        return self._end("error", "error")

    def _route(self, name: str, r: dict[str, Any]) -> str:
        if r["by"] == "time":
            plan = self.image.time_plan(f"{self.record.did}/time/{name}")  # type: ignore[union-attr]
            slot = plan.slot_at(self._now)
            if slot in r["slots"]:
                return str(r["slots"][slot]["to"])
            return str(r.get("otherwise") or "hangup")
        areas: dict[str, str] = r["areas"]
        code = self._caller.area_code
        if code:
            hit = self.image.trie(f"{self.record.did}/area/{name}").lookup(code)  # type: ignore[union-attr]
            if hit is not None:
                return str(list(areas.values())[hit])
        province = self._caller.province
        if province and province in areas:
            return areas[province]
        return str(r.get("default", "hangup"))

    def _branch(self, label: str, index: int) -> None:
        self.record.branches.append(label)  # type: ignore[union-attr]
        if self.state is not None:
            self.state.count_branch(self.record.did, index % 32, self._now)  # type: ignore[union-attr]

    def _ask_menu(self, name: str, tries: int) -> list[Action]:
        m = self._flow["menus"][name]
        self._wait = ("menu", name, tries)
        return [Collect(m["prompt"], 1, m["timeout"])]

    def _menu_key(self, name: str, tries: int, digits: str) -> list[Action]:
        m = self._flow["menus"][name]
        key = digits[:1]
        if key and key in m["keys"]:
            index = list(self._flow["menus"]).index(name) * 12 + "0123456789*#".index(key)
            self._branch(f"{name}.{key}", index)
            return self._goto(m["keys"][key])
        if tries + 1 > m["retries"]:
            return self._goto(m["on_fail"])
        actions: list[Action] = []
        if key:
            actions.append(Play(m.get("invalid_prompt") or SYSTEM_PROMPTS["invalid"]))
        return actions + self._ask_menu(name, tries + 1)

    def _offer_voicemail(self, box: str) -> list[Action]:
        """B5: a box with ``keep_waiting`` first offers "1 leave a message, 2 keep waiting" (its
        prompt); a plain box plays its prompt and records."""
        b = self._flow["voicemail"][box]
        if b.get("keep_waiting"):
            self._wait = ("offer", box)
            prompt = b.get("prompt") or SYSTEM_PROMPTS["voicemail_offer"]
            return [Collect(prompt, 1, OFFER_TIMEOUT)]
        return self._leave_message(box, b.get("prompt"))

    def _voicemail_offer(self, box: str, digits: str) -> list[Action]:
        if VOICEMAIL_OFFER_DIGITS.get(digits[:1]) == "wait":
            return self._goto(self._flow["voicemail"][box]["keep_waiting"])
        return self._leave_message(box, None)

    def _leave_message(self, box: str, prompt: str | None) -> list[Action]:
        b = self._flow["voicemail"][box]
        self._wait = ("voicemail", box)
        return [Voicemail(box, prompt or SYSTEM_PROMPTS["voicemail"], b["max_seconds"])]

    def _ask_password(self, name: str, tries: int) -> list[Action]:
        c = self._flow["conferences"][name]
        self._wait = ("password", name, tries)
        prompt = c.get("prompt") or SYSTEM_PROMPTS["password"]
        return [Collect(prompt, 8, PASSWORD_TIMEOUT, "#")]

    def _password(self, name: str, tries: int, digits: str) -> list[Action]:
        c = self._flow["conferences"][name]
        if digits == c["password"]:
            self._wait = ("conference", name)
            return [Conference(c["room"], c["max_parties"])]
        if tries + 1 >= max(c["retries"], 1):
            return self._goto(c["on_fail"])
        return self._ask_password(name, tries + 1)

    def _ask_extension(self, tries: int) -> list[Action]:
        e = self._flow["extensions"]
        fixed = e.get("fixed_length")
        self._wait = ("extension", tries)
        prompt = e.get("prompt") or SYSTEM_PROMPTS["extension"]
        return [Collect(prompt, fixed or 6, e["timeout"], None if fixed else "#")]

    def _extension(self, tries: int, digits: str) -> list[Action]:
        e = self._flow["extensions"]
        numbers: dict[str, list[str]] = e["numbers"]
        if digits in numbers:
            self._branch(f"extensions.{digits}", 31)
            dests = self._flow.get("destinations", {})
            targets = [dests[t]["number"] if t in dests else t for t in numbers[digits]]
            attempts = [[t] for t in targets]  # V1: rung in order, one at a time
            return self._next_attempt(("extension", e, attempts, -1, []))
        if tries + 1 > e["retries"]:
            return self._goto(e["on_fail"])
        return self._ask_extension(tries + 1)

    # -- ringing ------------------------------------------------------------------------------

    def _dial_group(self, name: str) -> list[Action]:
        g = self._flow["groups"][name]
        rec = self.record
        assert rec is not None
        table = self.image.group(f"{rec.did}/group/{name}")
        memory = g.get("call_memory")
        memory = self._flow.get("call_memory", False) if memory is None else memory
        # default seed: from the call id, the same in every process (str hash() is salted)
        seed = self._seed if self._seed is not None else zlib.crc32(rec.call_id.encode())
        if self.state is None:
            attempts = table.attempts(seed=seed)
            order = [[table.numbers[t] for t in a.targets] for a in attempts]
            return self._next_attempt(("group", name, order, -1, []))
        routed = route(
            self.state,
            table,
            rec.call_id,
            seed=seed,
            did=rec.did,
            caller=self._caller.number or None,
            at=self._now,
            tz=self._flow.get("timezone", "Asia/Shanghai"),
            memory=bool(memory),
        )
        order = [[table.numbers[t] for t in a.targets] for a in routed.attempts]
        if routed.claim is None:
            return self._goto(g["on_busy"])
        self._claim = routed.claim
        busy_before = ["busy"] * (routed.claimed or 0)  # attempts skipped: nobody free there
        wait = ("group", name, order, routed.claimed, busy_before)
        return self._dial(wait, list(routed.claim.numbers))

    def _next_attempt(self, wait: tuple[Any, ...]) -> list[Action]:
        kind, owner, order, index, outcomes = wait
        for i in range(index + 1, len(order)):
            targets = order[i]
            if self.state is not None:
                claim = self.state.claim(targets, self.record.call_id, all=len(targets) > 1)  # type: ignore[union-attr]
                if claim is None:
                    outcomes.append("busy")
                    continue
                self._claim = claim
                targets = list(claim.numbers)
            return self._dial((kind, owner, order, i, outcomes), targets)
        # every attempt was tried
        if kind == "extension":
            return self._goto(owner["on_fail"])
        g = self._flow["groups"][owner]
        all_busy = bool(outcomes) and all(o == "busy" for o in outcomes)
        return self._goto(g["on_busy"] if all_busy else g["on_no_answer"])

    def _dial(self, wait: tuple[Any, ...], targets: list[str]) -> list[Action]:
        kind, owner, _, _, _ = wait
        self.record.tried.extend(targets)  # type: ignore[union-attr]
        if kind == "group":
            g = self._flow["groups"][owner]
            timeout = int(g["ring_timeout"])
            announce = self._announce(targets) if g.get("announce_agent_id") else None
        else:
            timeout = int(owner["ring_timeout"])
            announce = None
        self._wait = ("dial", *wait[1:], kind, targets)
        actions: list[Action] = []
        if self._flow.get("system_prompt_on_transfer", True):
            actions.append(_TRANSFER)
        actions.append(
            Dial(
                tuple(targets),
                simultaneous=len(targets) > 1,
                ring_timeout=timeout,
                record=bool(self._flow.get("recording", False)),
                announce=announce,
            )
        )
        return actions

    def _announce(self, targets: list[str]) -> Any:
        """B10: what to announce for each target (its custom prompt, else its agent id)."""
        by_number: dict[str, int | str | None] = {}
        for d in self._flow.get("destinations", {}).values():
            by_number[d["number"]] = d.get("agent_prompt") or d.get("agent_id")
        each = tuple(by_number.get(t) for t in targets)
        if len(each) == 1:
            return each[0]
        return each if any(a is not None for a in each) else None

    def _answered(self, ev: DialResult, who: str) -> None:
        rec = self.record
        assert rec is not None
        rec.answered_by, rec.talk_seconds = who, ev.talk_seconds
        # the attempt's end is known when the event carries it; the talk came just before
        rec.answer = max(rec.start, ev.at - ev.talk_seconds) if ev.at is not None else self._now
        rec.recorded = bool(self._flow.get("recording", False)) or ev.recording is not None
        rec.recording = ev.recording
        rec.outcome = "answered"

    def _dial_result(self, wait: tuple[Any, ...], ev: DialResult) -> list[Action]:
        _, owner, order, index, outcomes, kind, targets = wait
        rec = self.record
        assert rec is not None
        self._release()
        if ev.outcome == "answered":
            who = ev.answered_by or targets[0]
            self._answered(ev, who)
            if self.state is not None:
                self.state.record_attempt(who, answered=True, talk_seconds=ev.talk_seconds)
                if self._caller.number:
                    self.state.remember(
                        rec.did, self._caller.number, who, self._now,
                        tz=self._flow.get("timezone", "Asia/Shanghai"),
                    )  # fmt: skip
            if kind == "extension" and owner.get("second_transfer", True):
                return self._ask_extension(0)
            if self._flow.get("survey"):
                self._wait = ("survey",)
                return [Survey()]
            return self._end(None, "normal")
        if self.state is not None:
            for t in targets:
                self.state.record_attempt(t, answered=False)
        outcomes.append("busy" if ev.outcome == "busy" else "no_answer")
        return self._next_attempt((kind, owner, order, index, outcomes))

    # -- ending -------------------------------------------------------------------------------

    def _release(self) -> None:
        if self._claim is not None and self.state is not None:
            self.state.release(self._claim)
        self._claim = None

    def _outcome_or(self, default: str) -> str:
        rec = self.record
        return rec.outcome if rec is not None and rec.outcome != "in_progress" else default

    def _finish(self, outcome: str | None) -> None:
        self._release()
        self._wait = None
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
        self._after_call(rec)

    def _after_call(self, rec: CallRecord) -> None:
        """Hand the record to the store and the post-call SMS to the notifier. A failing store
        or notifier is logged, never raised into the PBX's call handling."""
        if self.records is not None:
            try:
                self.records.add(rec)
            except Exception:
                log.exception("call %s: the call record could not be stored", rec.call_id)
        if self.notifier is not None:
            for sms in post_call_sms(rec, self._flow, self._classify):
                try:
                    self.notifier.send(sms)
                except Exception:
                    log.exception("call %s: the %s SMS could not be sent", rec.call_id, sms.kind)

    def _end(self, outcome: str | None, cause: str) -> list[Action]:
        self._finish(outcome)
        return [Hangup(cause)]  # type: ignore[arg-type]
