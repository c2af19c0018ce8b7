"""The call record (CDR): what happened on one call, as the engine saw it."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OUTCOMES", "RECOVERED", "CallRecord"]

OUTCOMES = (
    "answered",
    "voicemail",
    "conference",
    "blacklisted",
    "no_route",
    "busy",
    "no_answer",
    "caller_hung_up",
    "not_answered",
    "normal",
    "error",
    "cut",
    "drained",
)
"""The outcomes a finished call may have (``in_progress`` while it runs)."""

RECOVERED = ("pbx", "journal")
"""How a call whose adapter died was completed (``CallRecord.recovered``): ``pbx``, its end
as the PBX reported it; ``journal``, the PBX no longer had it, so it ends at the last moment
the journal knew of."""


@dataclass
class CallRecord:
    """What happened on one call (the CDR).

    ``kind``: ``inbound`` (a caller dialled the 400 number), ``outbound`` (B3: an agent,
    ``caller``, called a customer, ``callee``) or ``internal`` (V5: an agent called another
    seat, a destination of the shared state; billed as outbound, no missed-call SMS). ``caller``
    is the caller ID as the PBX sent it (sanitised); ``caller_number`` the number found in it
    (None: withheld, ``caller_kind`` ``withheld``). Times are unix seconds of the call's own
    clock: ``start`` the first event's time, ``answer`` when an agent answered, ``end`` when the
    call ended. ``branches`` are the menu keys taken (``menu.key``, ``extensions.801``);
    ``tried`` every destination the call reached for, in order: those rung and those found busy
    (never rung), the latter also in ``busy``. ``answered_by`` the agent that answered;
    ``answered_unlisted`` is True when the PBX reported an answer by a number that was not rung
    in that attempt (then recorded as reported, but never credited nor remembered).
    ``recording`` and ``voicemail`` are the references the PBX gave. ``outcome`` is one of
    :data:`OUTCOMES`: answered, voicemail, conference, blacklisted, no_route, busy (every
    destination was busy), no_answer (nobody answered), caller_hung_up, not_answered (an
    outbound call), normal (the flow ended the call), error (the PBX broke the protocol, or a
    bug), cut (the adapter handling the call died before anyone answered), drained (a shutdown
    of the adapter ended the call). ``recovered`` is None for a call the adapter saw to its end;
    for one whose adapter died it says how the record was completed from the journal
    (:data:`RECOVERED`).

    A call may talk with several agents: the extension dialer's second transfer (V1), or a
    seat that transfers the caller on (V5). ``answer`` is then the first answer moment,
    ``answered_by`` the first agent, ``talk_seconds`` the caller's whole connected time (every
    leg: what is billed), ``talked_with`` every agent that talked with the caller, in order
    (``answered_by`` first), and ``transfers`` the numbers seats sent the caller on to, in
    order (one nobody answered is in ``transfers`` and ``tried``, never in ``talked_with``).
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
    # added after the first release: last, so CSV columns of earlier releases keep their place
    caller_number: str | None = None
    busy: list[str] = field(default_factory=list)
    answered_unlisted: bool = False
    recovered: str | None = None
    transfers: list[str] = field(default_factory=list)
    talked_with: list[str] = field(default_factory=list)
