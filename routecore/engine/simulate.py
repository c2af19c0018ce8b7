"""Scripted calls through published (or not yet published) flows: ``routecore simulate``.

A script is a list of steps, each one Event for the call (the PBX's side of it)::

    1  801#  *       keys the caller presses (a Digits event)
    timeout          no key before the Collect's timeout (Digits(""))
    answer           the last Dial's first target answers and talks 60 s
    answer:95        ... talks 95 s;  answer:13800138001:95  that target answers
    pickup  pickup:13800138001        the answer moment: the last Dial's first (or that)
                     target picks up, the other phones of the attempt are freed (then answer)
    keepalive        the adapter's keep-alive of a long call
    busy  noanswer  failed            how the last Dial attempt ended (after ringing)
    voicemail:vm-1:17   voicemail     a message left (reference, seconds) / none left
    survey:1  survey                  a survey rating 1-4 / no valid key
    joined  notjoined                 whether the caller joined the conference
    wait:30          30 seconds pass before the next step
    hangup           the caller hangs up
    {"type": ...}    any Event as JSON (``routecore.engine.wire``)

Every step is stamped with the call's clock (the start, plus ``wait`` and talk time). A script
that ends before the call does ends with the caller hanging up.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from routecore.engine import CallRecord, CallSession
from routecore.engine.actions import (
    Action,
    Answered,
    CallerHungUp,
    CallStarted,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    Event,
    KeepAlive,
    OutboundStarted,
    SurveyResult,
    VoicemailResult,
)
from routecore.engine.sms import Sms, SmsList
from routecore.engine.wire import EVENT_TYPES, from_json, to_dict, to_json
from routecore.errors import ActionError
from routecore.rules import DEFAULT_TZ

__all__ = ["Simulation", "json_lines", "parse_step", "simulate", "text_lines"]

DEFAULT_TALK = 60
_RESULTS = {"busy": "busy", "noanswer": "no_answer", "no_answer": "no_answer", "failed": "failed"}


@dataclass
class Simulation:
    """What a scripted call did: each Event with the Actions that followed it, the record and
    the SMS the call asked for."""

    steps: list[tuple[Event, list[Action]]] = field(default_factory=list)
    record: CallRecord | None = None
    sms: list[Sms] = field(default_factory=list)


def parse_step(text: str, last_dial: Dial | None, at: float) -> Event | float:
    """One script step as an Event at ``at``, or the seconds a ``wait:N`` step lets pass.
    ActionError names a step that is none of the forms above."""
    step = text.strip()
    if step.startswith("{"):
        message = from_json(step)
        if not isinstance(message, tuple(EVENT_TYPES.values())):
            raise ActionError(f"step {text!r}: an Action, not an Event")
        return message  # type: ignore[return-value]
    word, _, rest = step.partition(":")
    word = word.lower()
    args = rest.split(":") if rest else []
    try:
        if word == "wait":
            seconds = float(args[0])
            if not 0 <= seconds <= 86400:
                raise ValueError("wait 0-86400 seconds")
            return seconds
        if word == "timeout":
            return Digits("", at)
        if word == "hangup":
            return CallerHungUp(at)
        if word in _RESULTS:  # an unanswered attempt rang for its whole timeout
            rang = last_dial.ring_timeout if last_dial and word != "busy" else 0
            return DialResult(_RESULTS[word], at=at + rang)  # type: ignore[arg-type]
        if word == "answer":
            if last_dial is None and len(args) < 2:
                raise ActionError("no Dial to answer yet (name the number: answer:NUMBER:SECONDS)")
            who = args[0] if len(args) == 2 else last_dial.targets[0]  # type: ignore[union-attr]
            talk = int(args[-1]) if args else DEFAULT_TALK
            return DialResult("answered", who, talk, at=at + talk)
        if word == "pickup":
            if last_dial is None and not args:
                raise ActionError("no Dial to pick up yet (name the number: pickup:NUMBER)")
            return Answered(args[0] if args else last_dial.targets[0], at)  # type: ignore[union-attr]
        if word == "keepalive":
            return KeepAlive(at)
        if word == "voicemail":
            if not args:
                return VoicemailResult(None, 0, at)
            return VoicemailResult(args[0], int(args[1]) if len(args) > 1 else 0, at)
        if word == "survey":
            return SurveyResult(int(args[0]) if args else None, at)
        if word in ("joined", "notjoined"):
            return ConferenceResult(word == "joined", at)
        return Digits(step, at)
    except ActionError as e:
        raise ActionError(f"step {text!r}: {e}") from None
    except (ValueError, IndexError) as e:
        raise ActionError(f"step {text!r}: not a step ({e or 'a value is missing'})") from None


def simulate(
    image: Any,
    start: CallStarted | OutboundStarted,
    script: Sequence[str],
    *,
    state: Any = None,
    seed: int | None = 1,
) -> Simulation:
    """Run one scripted call through ``image``. Without ``state`` a fresh temporary one is used
    (a simulation never marks the production agents busy)."""
    out = Simulation()
    sent = SmsList()
    with _state(state) as st:
        session = CallSession(image, st, seed=seed, notifier=sent)
        clock = start.at
        last_dial: Dial | None = None
        event: Event = start
        pending = list(script)
        while True:
            actions = session.handle(event)
            out.steps.append((event, actions))
            last_dial = next((a for a in reversed(actions) if isinstance(a, Dial)), last_dial)
            if session.done or not pending:
                break
            parsed = parse_step(pending.pop(0), last_dial, clock)
            while isinstance(parsed, float):
                clock += parsed
                if not pending:
                    parsed = CallerHungUp(clock)
                    break
                parsed = parse_step(pending.pop(0), last_dial, clock)
            event = parsed
            if event.at is not None:
                clock = max(clock, event.at)
        if not session.done:
            hangup = CallerHungUp(clock)
            out.steps.append((hangup, session.handle(hangup)))
    out.record, out.sms = session.record, sent.sent
    return out


class _state:
    """The given state, or a temporary one removed afterwards."""

    def __init__(self, state: Any) -> None:
        self.given = state
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Any:
        if self.given is not None:
            return self.given
        from routecore.backend import get_backend

        self.tmp = tempfile.TemporaryDirectory(prefix="routecore-sim-")
        return get_backend().State.create(str(Path(self.tmp.name) / "state"))

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


def _fields(d: dict[str, Any]) -> str:
    parts = []
    for key, value in d.items():
        if key in ("type", "at") or value is None or value is False or value == []:
            continue
        if isinstance(value, list):
            value = ",".join("-" if v is None else str(v) for v in value)
        parts.append(f"{key}={'true' if value is True else value}")
    return " ".join(parts)


def _line(message: Action | Event) -> str:
    d = to_dict(message)
    return f"{d['type']} {_fields(d)}".rstrip()


def text_lines(sim: Simulation, tz: str = DEFAULT_TZ) -> Iterator[str]:
    """The simulation for a person: ``+Ns > event`` then ``< action`` lines, then the record
    and the SMS."""
    zone = ZoneInfo(tz)
    start = (sim.steps[0][0].at if sim.steps else None) or 0.0  # the first event has a time
    for event, actions in sim.steps:
        at = event.at
        offset = f"+{at - start:g}s" if at is not None else ""
        yield f"{offset:>7} > {_line(event)}"
        for a in actions:
            yield f"{'':>7} < {_line(a)}"
    if sim.record is not None:
        rec = asdict(sim.record)
        for key in ("start", "answer", "end"):
            if rec[key] is not None:
                rec[key] = datetime.fromtimestamp(rec[key], zone).isoformat(timespec="seconds")
        yield f"record {_fields(rec)}"
    for sms in sim.sms:
        yield f"sms {sms.kind} to={sms.to} text={sms.text}"


def json_lines(sim: Simulation) -> Iterator[str]:
    """The simulation as JSON lines: every Event and Action (``routecore.engine.wire``
    JSON), then ``{"type": "record", ...}`` and one ``{"type": "sms", ...}`` per SMS."""
    for event, actions in sim.steps:
        yield to_json(event)
        for a in actions:
            yield to_json(a)
    if sim.record is not None:
        yield json.dumps({"type": "record", **asdict(sim.record)}, ensure_ascii=False)
    for sms in sim.sms:
        yield json.dumps({"type": "sms", **asdict(sms)}, ensure_ascii=False)
