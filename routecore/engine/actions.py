"""Actions and Events: the protocol-neutral values the call engine and the PBX adapters share.

The call engine (``CallSession``) takes **Events** (what happened on the call) and returns
**Actions** (what the PBX should do next), so that an adapter (Asterisk AGI, FreeSWITCH ESL) only
translates between its protocol and these values. Every value is a frozen, slotted dataclass that
checks itself at construction: a prompt, box, room or call id that could inject into a dial string
or a command line, a number that is not digits, a timeout out of range or an unknown outcome is
refused with :class:`routecore.errors.ActionError`, whoever built it.

Names (prompts, voicemail boxes, conference rooms, call ids, recording references) are 1-128
characters of ``[A-Za-z0-9_.-]`` and Chinese characters (as flows name things), starting with a
letter, digit, ``_`` or a Chinese character (no ``..``, no leading ``-``). Numbers are ASCII
digits only.

Their wire (dict, JSON, msgpack) is :mod:`routecore.engine.wire`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

from routecore.engine.callerid import sanitise_caller
from routecore.errors import ActionError
from routecore.rules import (
    NUMBER_MAX,
    NUMBER_MIN,
    SAFE_NAME_MAX,
    TIME_MAX,
    is_number,
    is_safe_name,
)

__all__ = [
    "CAUSES",
    "OUTCOMES",
    "Action",
    "ActionError",
    "Answered",
    "CallStarted",
    "CallerHungUp",
    "Collect",
    "Conference",
    "ConferenceResult",
    "Dial",
    "DialOutcome",
    "DialResult",
    "Digits",
    "DropLeg",
    "Event",
    "Hangup",
    "HangupCause",
    "KeepAlive",
    "Message",
    "OutboundStarted",
    "Play",
    "Survey",
    "SurveyResult",
    "Voicemail",
    "VoicemailResult",
]

HangupCause: TypeAlias = Literal[
    "normal", "blacklisted", "no_route", "busy", "no_answer", "invalid_input", "error"
]
Announce: TypeAlias = int | str | None  # B10: an agent id, a prompt name, or nothing
DialOutcome: TypeAlias = Literal["answered", "busy", "no_answer", "failed"]
CAUSES: Final[tuple[str, ...]] = get_args(HangupCause)
OUTCOMES: Final[tuple[str, ...]] = get_args(DialOutcome)

# Limits (the flow format's ranges where it has one: docs/flow-format.md).
NAME_MAX = SAFE_NAME_MAX
MAX_DIGITS = 32  # digits one Collect may gather, and one Digits event may carry
CALLER_MAX = 128  # characters of a raw caller ID kept (longer ones are cut)
TIMEOUT_RANGE = (1, 60)  # Collect.timeout, seconds (menus: 1-60)
RING_TIMEOUT_RANGE = (5, 300)  # Dial.ring_timeout, seconds (groups: 5-300)
TARGETS_MAX = 100  # destinations one attempt may ring (a group has at most 100 members)
AGENT_ID_RANGE = (801, 899)  # B10
VOICEMAIL_SECONDS_RANGE = (10, 600)  # B5 max_seconds
PARTIES_RANGE = (2, 50)  # V4 max_parties
RATING_RANGE = (1, 4)  # B12: 1 very satisfied, 2 satisfied, 3 average, 4 dissatisfied
SECONDS_MAX = 7 * 24 * 3600  # talk or message seconds: a week is already absurd

_KEYS_RE = re.compile(r"[0-9*#]*")

# The fast predicates (True for the common valid value; the checks below then say what is
# wrong) are the project's one set of rules (``routecore.rules``), shared with the flow format.
_is_number = is_number
_is_name = is_safe_name


def _is_time(v: object) -> bool:
    return type(v) is float and 0.0 <= v <= TIME_MAX


# --- checks: each returns the value (possibly normalised) or raises ActionError ------------------


def _where(cls: str, field: str) -> str:
    return f"{cls}.{field}"


def _name(cls: str, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ActionError(f"{_where(cls, field)}: expected a name (str), got {_kind(value)}")
    if not 1 <= len(value) <= NAME_MAX:
        raise ActionError(
            f"{_where(cls, field)}: a name has 1-{NAME_MAX} characters, got {len(value)}"
        )
    if not is_safe_name(value):
        raise ActionError(
            f"{_where(cls, field)}: {_show(value)} is not a safe name (only A-Z a-z 0-9 _ . - and "
            "Chinese characters, starting with a letter, digit, _ or a Chinese character, no '..')"
        )
    return value


def _opt_name(cls: str, field: str, value: object) -> str | None:
    return None if value is None else _name(cls, field, value)


def _number(cls: str, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ActionError(
            f"{_where(cls, field)}: expected a number (str of digits), got {_kind(value)}"
        )
    if not (value.isascii() and value.isdigit()):
        raise ActionError(
            f"{_where(cls, field)}: {_show(value)} is not a number (ASCII digits only)"
        )
    if not NUMBER_MIN <= len(value) <= NUMBER_MAX:
        raise ActionError(
            f"{_where(cls, field)}: a number has {NUMBER_MIN}-{NUMBER_MAX} digits, got {len(value)}"
        )
    return value


def _int(cls: str, field: str, value: object, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ActionError(f"{_where(cls, field)}: expected an int, got {_kind(value)}")
    if not lo <= value <= hi:
        raise ActionError(f"{_where(cls, field)}: {_show(value)} is out of range {lo}-{hi}")
    return value


def _time(obj: object, cls: str, field: str, optional: bool) -> None:
    """Check (and normalise to float) the unix-seconds field ``field`` of ``obj``."""
    at: object = getattr(obj, field)
    if at is None and optional:
        return
    if isinstance(at, int) and not isinstance(at, bool):
        if not 0 <= at <= TIME_MAX:
            raise ActionError(f"{_where(cls, field)}: {_show(at)} is not a time (0 to 2**32-1)")
        at = float(at)
        _set(obj, field, at)
    if not isinstance(at, float):
        raise ActionError(f"{_where(cls, field)}: expected unix seconds (float), got {_kind(at)}")
    if not (math.isfinite(at) and 0 <= at <= TIME_MAX):
        raise ActionError(
            f"{_where(cls, field)}: {at!r} is not a time (unix seconds from 0 to 2**32-1, "
            "until 2106)"
        )


def _bool(cls: str, field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ActionError(f"{_where(cls, field)}: expected a bool, got {_kind(value)}")
    return value


def _choice(cls: str, field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ActionError(
            f"{_where(cls, field)}: {_show(value)} is not one of {', '.join(choices)}"
            if isinstance(value, str)
            else f"{_where(cls, field)}: expected one of {', '.join(choices)}, got {_kind(value)}"
        )
    return value


def _show(value: object) -> str:
    """``value`` for a message: long text cut, huge ints described (never printed in full)."""
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:40]!r}... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    return repr(value)


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _set(obj: object, field: str, value: object) -> None:
    object.__setattr__(obj, field, value)  # normalise a field of a frozen dataclass


# --- Actions: what the PBX should do next --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    """Play a prompt (a prompt name or file of the flow, or a system prompt's name)."""

    prompt: str

    def __post_init__(self) -> None:
        _name("Play", "prompt", self.prompt)


@dataclass(frozen=True, slots=True)
class Collect:
    """Play ``prompt`` (None: none) and collect up to ``max_digits`` digits from the caller.

    Collection ends after ``timeout`` seconds without a key, at ``max_digits`` digits, or at the
    ``terminator`` (``"#"``, not part of the digits; None: no terminator). The answer is a
    :class:`Digits` event (empty on a timeout).
    """

    prompt: str | None
    max_digits: int
    timeout: int
    terminator: Literal["#"] | None = None

    def __post_init__(self) -> None:
        _opt_name("Collect", "prompt", self.prompt)
        _int("Collect", "max_digits", self.max_digits, 1, MAX_DIGITS)
        _int("Collect", "timeout", self.timeout, *TIMEOUT_RANGE)
        if self.terminator is not None and self.terminator != "#":
            raise ActionError(
                f"Collect.terminator: must be '#' or None, got {_show(self.terminator)}"
            )


@dataclass(frozen=True, slots=True)
class Dial:
    """One dial attempt (B9): ring ``targets`` (destination numbers, in order).

    ``simultaneous``: ring all at once; otherwise one after the other, each for ``ring_timeout``
    seconds. ``record``: record the call once connected (B8). ``announce`` (B10), spoken to the
    caller on connect: an agent id 801-899, a prompt name, or None; for an attempt of several
    targets, a tuple with one such entry per target, and the adapter announces the entry of the
    target that answered. ``targets`` (and a tuple ``announce``) may be given as any list; they
    are kept as tuples. The answer is a :class:`DialResult` event.
    """

    targets: tuple[str, ...]
    simultaneous: bool = False
    ring_timeout: int = 20
    record: bool = False
    announce: Announce | tuple[Announce, ...] = None

    def __post_init__(self) -> None:
        targets: object = self.targets
        if isinstance(targets, list):
            targets = tuple(targets)
            _set(self, "targets", targets)
        if not isinstance(targets, tuple):
            raise ActionError(f"Dial.targets: expected a list of numbers, got {_kind(targets)}")
        if not 1 <= len(targets) <= TARGETS_MAX:
            raise ActionError(f"Dial.targets: 1-{TARGETS_MAX} numbers, got {len(targets)}")
        for i, target in enumerate(targets):
            _number("Dial", f"targets[{i}]", target)
        if len(set(targets)) != len(targets):
            raise ActionError(f"Dial.targets: a number is listed twice in {list(targets)}")
        _bool("Dial", "simultaneous", self.simultaneous)
        _int("Dial", "ring_timeout", self.ring_timeout, *RING_TIMEOUT_RANGE)
        _bool("Dial", "record", self.record)
        announce: object = self.announce
        if isinstance(announce, list):
            announce = tuple(announce)
            _set(self, "announce", announce)
        if isinstance(announce, tuple):
            if len(announce) != len(targets):
                raise ActionError(
                    f"Dial.announce: one entry per target ({len(targets)}), got {len(announce)}"
                )
            for i, one in enumerate(announce):
                _announce(f"announce[{i}]", one)
        else:
            _announce("announce", announce)


def _announce(field: str, announce: object) -> None:
    if isinstance(announce, str):
        _name("Dial", field, announce)
    elif announce is not None:
        if not isinstance(announce, int) or isinstance(announce, bool):
            raise ActionError(
                f"Dial.{field}: expected an agent id (int), a prompt name (str) or None, "
                f"got {_kind(announce)}"
            )
        _int("Dial", field, announce, *AGENT_ID_RANGE)


@dataclass(frozen=True, slots=True)
class Voicemail:
    """B5: play ``prompt`` (None: the system's) and record a message of at most ``max_seconds``
    into ``box``. The answer is a :class:`VoicemailResult` event."""

    box: str
    prompt: str | None = None
    max_seconds: int = 120

    def __post_init__(self) -> None:
        _name("Voicemail", "box", self.box)
        _opt_name("Voicemail", "prompt", self.prompt)
        _int("Voicemail", "max_seconds", self.max_seconds, *VOICEMAIL_SECONDS_RANGE)


@dataclass(frozen=True, slots=True)
class Conference:
    """V4: put the caller into conference ``room`` (at most ``max_parties`` at once). The answer
    is a :class:`ConferenceResult` event."""

    room: str
    max_parties: int = 3

    def __post_init__(self) -> None:
        _name("Conference", "room", self.room)
        _int("Conference", "max_parties", self.max_parties, *PARTIES_RANGE)


@dataclass(frozen=True, slots=True)
class Survey:
    """B12: play the fixed satisfaction prompt and collect a rating (a :class:`SurveyResult`)."""


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call, with a cause from :data:`CAUSES`."""

    cause: HangupCause = "normal"

    def __post_init__(self) -> None:
        _choice("Hangup", "cause", self.cause, CAUSES)


@dataclass(frozen=True, slots=True)
class DropLeg:
    """Hang up the leg ringing ``target`` of the current Dial attempt (it answered after
    another target had already won the call); the call itself goes on."""

    target: str

    def __post_init__(self) -> None:
        _number("DropLeg", "target", self.target)


# --- Events: what happened -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call to the 400 number ``did`` from ``caller`` arrived at unix time ``at`` (seconds).

    ``caller`` is the caller ID exactly as the PBX gave it, whatever it is: digits, ``+86
    138-0013-8000``, ``"Name" <13800138000>``, ``sip:13800138000@host``, ``anonymous``,
    ``Restricted`` or ``""``. It is kept sanitised (characters that are not printable removed,
    cut to :data:`CALLER_MAX` characters) and never refused; the engine finds the number in it
    (``routecore.engine.callerid``) and treats a caller without one as withheld. ``call_id`` is
    the PBX's id of the call (a safe name).
    """

    did: str
    caller: str
    at: float
    call_id: str

    def __post_init__(self) -> None:
        # the common case checked inline (an adapter builds one per call); else the full checks
        if not _is_number(self.did):
            _number("CallStarted", "did", self.did)
        caller: object = self.caller
        if not (type(caller) is str and caller.isdigit() and len(caller) <= CALLER_MAX):
            if not isinstance(caller, str):
                raise ActionError(f"CallStarted.caller: expected a str, got {_kind(caller)}")
            clean = sanitise_caller(caller, CALLER_MAX)
            if clean is not caller:
                _set(self, "caller", clean)
        if not _is_time(self.at):
            _time(self, "CallStarted", "at", optional=False)
        if not _is_name(self.call_id):
            _name("CallStarted", "call_id", self.call_id)


@dataclass(frozen=True, slots=True)
class OutboundStarted:
    """B3: an agent's outbound call to a customer began at unix time ``at``.

    ``did`` is the enterprise's 400 number (shown to the customer and named in the missed-call
    SMS), ``agent`` the agent's phone that placed the call, ``customer`` the number called.
    """

    did: str
    agent: str
    customer: str
    at: float
    call_id: str

    def __post_init__(self) -> None:
        _number("OutboundStarted", "did", self.did)
        _number("OutboundStarted", "agent", self.agent)
        _number("OutboundStarted", "customer", self.customer)
        _time(self, "OutboundStarted", "at", optional=False)
        _name("OutboundStarted", "call_id", self.call_id)


# Every Event after the first may carry ``at``, the unix time it happened (None: not given). The
# engine keeps the call's clock from them: the CallRecord's answer and end times.


@dataclass(frozen=True, slots=True)
class Digits:
    """The digits the caller keyed (``0-9 * #``) in answer to a Collect; ``""`` on a timeout."""

    digits: str
    at: float | None = None

    def __post_init__(self) -> None:
        digits: object = self.digits
        if type(digits) is str and (digits.isdigit() or not digits) and len(digits) <= MAX_DIGITS:
            if digits.isascii() and (self.at is None or _is_time(self.at)):
                return  # the common case: plain digits (or a timeout)
        if not isinstance(digits, str):
            raise ActionError(f"Digits.digits: expected a str, got {_kind(digits)}")
        if len(digits) > MAX_DIGITS:
            raise ActionError(f"Digits.digits: at most {MAX_DIGITS} keys, got {len(digits)}")
        if not digits.isascii() or not _KEYS_RE.fullmatch(digits):
            raise ActionError(f"Digits.digits: {_show(digits)} has keys other than 0-9 * #")
        if self.at is not None:
            _time(self, "Digits", "at", optional=True)


@dataclass(frozen=True, slots=True)
class Answered:
    """A target of the current Dial attempt picked up (the answer moment, B9).

    Sent by the adapter as the first destination answers, while the conversation goes on
    (Asterisk: a ``Dial`` ``U()``/``M()`` option runs on the answering channel; FreeSWITCH:
    ``CHANNEL_ANSWER``/``CHANNEL_BRIDGE`` of the b-leg). The engine releases every other claim
    of the attempt at once, records the answer time and remembers the agent (V3). A second
    answer on the same attempt gets a :class:`DropLeg` for that target. Optional: an adapter
    that never sends it still works (the claims are then released when the attempt ends).
    """

    target: str
    at: float | None = None

    def __post_init__(self) -> None:
        if not _is_number(self.target):
            _number("Answered", "target", self.target)
        if self.at is not None and not _is_time(self.at):
            _time(self, "Answered", "at", optional=True)


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """The call is still going on: renews the leases of its claims (long calls). An adapter
    sends one at least every :data:`routecore.engine.dialer.KEEPALIVE_EVERY` seconds while a
    Dial is ringing or connected (the answer moment renews them too)."""

    at: float | None = None

    def __post_init__(self) -> None:
        if self.at is not None:
            _time(self, "KeepAlive", "at", optional=True)


@dataclass(frozen=True, slots=True)
class DialResult:
    """How a Dial attempt ended: ``outcome`` from :data:`OUTCOMES`.

    When answered, ``answered_by`` is the target that answered, ``talk_seconds`` how long the
    call lasted once connected and ``recording`` the reference of its recording (B8; None when
    not recorded); otherwise all three are None/0. ``at`` is when the attempt ended (for an
    answered call: when the agent hung up). ``transfer`` (answered calls only) is the number
    the agent sent the caller on to (V5's internal transfer: the seat's workspace set it on
    the caller's channel and ended the agent's leg); None when the agent simply hung up.
    """

    outcome: DialOutcome
    answered_by: str | None = None
    talk_seconds: int = 0
    recording: str | None = None
    at: float | None = None
    transfer: str | None = None

    def __post_init__(self) -> None:
        if (
            self.outcome == "answered"
            and _is_number(self.answered_by)
            and type(self.talk_seconds) is int
            and 0 <= self.talk_seconds <= SECONDS_MAX
            and (self.recording is None or _is_name(self.recording))
            and (self.at is None or _is_time(self.at))
            and self.transfer is None
        ):
            return  # the common case of an answered attempt
        _choice("DialResult", "outcome", self.outcome, OUTCOMES)
        _int("DialResult", "talk_seconds", self.talk_seconds, 0, SECONDS_MAX)
        _opt_name("DialResult", "recording", self.recording)
        if self.at is not None:
            _time(self, "DialResult", "at", optional=True)
        if self.outcome == "answered":
            if self.answered_by is None:
                raise ActionError("DialResult.answered_by: an answered call needs the number")
            _number("DialResult", "answered_by", self.answered_by)
            if self.transfer is not None:
                _number("DialResult", "transfer", self.transfer)
            return
        for name, empty in (
            ("answered_by", None),
            ("talk_seconds", 0),
            ("recording", None),
            ("transfer", None),
        ):
            if getattr(self, name) != empty:
                raise ActionError(
                    f"DialResult.{name}: must be {empty} when the outcome is {self.outcome!r}"
                )


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller hung up (at any point of the call)."""

    at: float | None = None

    def __post_init__(self) -> None:
        if self.at is not None:
            _time(self, "CallerHungUp", "at", optional=True)


@dataclass(frozen=True, slots=True)
class SurveyResult:
    """B12: the caller's rating, 1 very satisfied, 2 satisfied, 3 average, 4 dissatisfied; None
    when no valid key was pressed."""

    rating: int | None
    at: float | None = None

    def __post_init__(self) -> None:
        if self.rating is not None:
            _int("SurveyResult", "rating", self.rating, *RATING_RANGE)
        if self.at is not None:
            _time(self, "SurveyResult", "at", optional=True)


@dataclass(frozen=True, slots=True)
class VoicemailResult:
    """B5: the message left: the recording's ``reference`` (a safe name) and its length; None
    and 0 when the caller left nothing."""

    reference: str | None
    seconds: int
    at: float | None = None

    def __post_init__(self) -> None:
        _opt_name("VoicemailResult", "reference", self.reference)
        _int("VoicemailResult", "seconds", self.seconds, 0, SECONDS_MAX)
        if self.reference is None and self.seconds != 0:
            raise ActionError("VoicemailResult.seconds: must be 0 when there is no reference")
        if self.at is not None:
            _time(self, "VoicemailResult", "at", optional=True)


@dataclass(frozen=True, slots=True)
class ConferenceResult:
    """V4: whether the caller joined the conference."""

    joined: bool
    at: float | None = None

    def __post_init__(self) -> None:
        _bool("ConferenceResult", "joined", self.joined)
        if self.at is not None:
            _time(self, "ConferenceResult", "at", optional=True)


Action: TypeAlias = Play | Collect | Dial | Voicemail | Conference | Survey | Hangup | DropLeg
Event: TypeAlias = (
    CallStarted
    | OutboundStarted
    | Digits
    | Answered
    | KeepAlive
    | DialResult
    | CallerHungUp
    | SurveyResult
    | VoicemailResult
    | ConferenceResult
)
Message: TypeAlias = Action | Event
