"""Actions → FreeSWITCH dialplan applications, run on the call's own channel over ESL (B5, B8,
B9, B10, B12, B13, B14, V4, V5).

Each Action becomes one or more ``sendmsg`` executes (:meth:`EslConnection.execute`: a fresh
``Event-UUID``, ``event-lock: true`` except for ``bridge``, the wait for its
CHANNEL_EXECUTE_COMPLETE), and the Event the engine is answered with is read from that
completion. ``bridge`` goes without the lock: FreeSWITCH runs no other application queued for
the channel while a locked one runs, so the announcement it queues on connect would play only
after the conversation.

============  ===============================================================================
Action        FreeSWITCH
============  ===============================================================================
(media)       ``answer`` once, before the first prompt, key collection, message, conference or
              survey; a call refused first (blacklist) is never answered (``hangup
              CALL_REJECTED``: SIP 603)
Play          ``playback <file>`` (no file: skipped, logged once by MediaFiles)
Collect       ``play_and_get_digits 1 <max> 1 <timeout ms> <#|none> <file>
              silence_stream://250 rc_digits_<n> [0-9*#]+`` (no prompt:
              ``silence_stream://250``); the digits are ``variable_rc_digits_<n>`` of the
              completion (a fresh variable per collection: FreeSWITCH leaves the variable alone
              on a timeout, so a reused name would return the previous answer)
Dial          once per call ``set continue_on_fail=true`` (a failed bridge must not hang the
              caller up) and ``set hangup_after_bridge=false`` (the call goes on after the agent
              hangs up: survey, second transfer); when recorded ``set RECORD_BRIDGE_REQ=true``
              (once) and ``record_session <file>`` (the conversation only), ``stop_record_session
              <file>`` after; then ``bridge`` with one leg per target,
              ``[leg_timeout=<ring s>,origination_uuid=<uuid>]<dial string>``, joined with ``,``
              (simultaneous: FreeSWITCH cancels the losers itself); a sequential Dial is one
              ``bridge`` per target, in order, so each target's result, announcement and
              answer are its own
Announcement  B10, played to the caller on connect, before the two are bridged:
              ``set bridge_pre_execute_aleg_app=playback`` and ``set
              bridge_pre_execute_aleg_data=<file>`` before the bridge (``unset`` again when a
              later attempt has none); an agent id is read digit by digit from FreeSWITCH's
              own sounds, ``file_string://digits/8.wav!digits/0.wav!digits/1.wav``, a prompt
              name is its file. Targets rung at once with different entries: the answering
              target's entry is played at the answer moment, ``api uuid_broadcast <call>
              <file> aleg``
Answer        the A-leg's CHANNEL_BRIDGE during the bridge: the answering leg is the one whose
moment        ``origination_uuid`` is ``Other-Leg-Unique-ID`` (else the target named by
              ``Other-Leg-Destination-Number`` or found in ``Other-Leg-Channel-Name``); it is
              reported at once (``Answered``) and a ``DropLeg`` answer becomes ``api uuid_kill
              <leg>``
Dial result   from the bridge's completion: ``variable_originate_disposition`` (else
              ``variable_DIALSTATUS``): ``SUCCESS`` answered, ``USER_BUSY`` busy,
              ``NO_ANSWER``/``NO_USER_RESPONSE``/``ORIGINATOR_CANCEL``/timeouts no answer,
              anything else failed; for targets rung one after the other any no answer makes
              the attempt no answer, else any busy busy, else failed. Talk seconds: the
              completion's ``Event-Date-Timestamp`` minus the CHANNEL_BRIDGE's, to the
              nearest second (FreeSWITCH's own clock; ``Caller-Channel-Bridged-Time`` when the
              bridge event was not seen).
              Transfer (V5): a completion carrying ``variable_routecore_transfer`` (a number
              the seat's workspace set with ``uuid_setvar`` before ending the agent's leg)
              reports it in the DialResult, then ``unset routecore_transfer``; a value that is
              not a number is logged and ignored (the agent simply hung up).
              The caller hanging up while the targets ring ends the call (ChannelGone); once
              connected the result is still reported
Voicemail     the prompt, then ``record <file> <max s> 200 5`` (silence threshold 200, 5 s of
              silence end it); seconds from ``variable_record_seconds`` (0: no message)
Conference    ``set conference_max_members=<max>`` (read when the room is created, so the
              first caller's limit holds), ``conference rc-<400 number>-<room>@default``; joined
              when the completion carries ``variable_conference_member_id`` (a full room
              refuses before setting it)
Survey        ``play_and_get_digits 1 1 1 10000 # <sys_survey> silence_stream://250
              rc_digits_<n> [1-4]`` (another key or none: no rating)
Hangup        ``hangup <cause>``: normal ``NORMAL_CLEARING``, blacklisted ``CALL_REJECTED``,
              no_route ``UNALLOCATED_NUMBER``, busy ``USER_BUSY``, no_answer ``NO_ANSWER``,
              invalid_input ``NORMAL_CLEARING``, error ``NORMAL_TEMPORARY_FAILURE``
============  ===============================================================================

Every value that enters a command (file paths, dial strings, rooms, uuids) passes
:func:`routecore.adapter.values.checked`; the adapter joins checked values only with the
separators it owns (spaces between arguments, ``,`` and ``[]`` of the bridge, ``!`` of
``file_string://``). The codec's framing check stays the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from routecore.adapter.errors import AdapterError, ChannelGone
from routecore.adapter.values import call_name, checked, transfer_number
from routecore.engine.actions import DialOutcome
from routecore.rules import is_number

from .codec import Event, Frame

__all__ = [
    "CAUSES",
    "DIGITS_PATTERN",
    "SILENCE",
    "SURVEY_PROMPT",
    "Applications",
    "Channel",
    "dial_outcome",
]

log = logging.getLogger("routecore.freeswitch")

CAUSES = {
    "normal": "NORMAL_CLEARING",
    "blacklisted": "CALL_REJECTED",  # SIP 603
    "no_route": "UNALLOCATED_NUMBER",  # SIP 404
    "busy": "USER_BUSY",  # SIP 486
    "no_answer": "NO_ANSWER",  # SIP 480
    "invalid_input": "NORMAL_CLEARING",
    "error": "NORMAL_TEMPORARY_FAILURE",  # SIP 503
}
"""The engine's hang-up causes as FreeSWITCH (Q.850) cause names for ``hangup``."""

SILENCE = "silence_stream://250"
"""A quarter second of silence: the prompt of a collection without one, and the
``invalid_file`` of every ``play_and_get_digits``."""
SURVEY_PROMPT = "sys_survey"
"""B12: the fixed satisfaction prompt ("1 very satisfied … 4 dissatisfied")."""
SURVEY_TIMEOUT_MS = 10_000
DIGITS_PATTERN = "[0-9*#]+"
"""What ``play_and_get_digits`` accepts for a Collect (every key a phone has)."""
SURVEY_PATTERN = "[1-4]"
VOICEMAIL_THRESHOLD = 200
"""``record``'s silence threshold (energy level)."""
VOICEMAIL_SILENCE = 5
"""Seconds of silence that end a voicemail message."""
MEDIA_LIMIT = 600.0
"""Seconds a prompt or a key collection may take on top of its own timeout before the call is
given up (a PBX that never completes an application must not hold a call forever)."""
SECONDS_MAX = 7 * 24 * 3600

_BUSY = frozenset({"USER_BUSY", "BUSY"})
_NO_ANSWER = frozenset(
    {
        "NO_ANSWER",
        "NOANSWER",
        "NO_USER_RESPONSE",
        "ORIGINATOR_CANCEL",
        "CANCEL",
        "ALLOTTED_TIMEOUT",
        "PROGRESS_TIMEOUT",
        "RECOVERY_ON_TIMER_EXPIRE",
        "LOSE_RACE",
    }
)
_KEYS = re.compile(r"[0-9*#]{0,32}")
_RUNS = re.compile(r"\d+")
_LEG_KEYS = ("Other-Leg-Unique-ID", "Bridge-B-Unique-ID", "variable_last_bridge_to")


class Channel(Protocol):
    """What the applications need of the call's connection (an ``EslConnection``)."""

    channel_uuid: str
    hung_up: bool

    async def execute(
        self,
        app: str,
        arg: str = "",
        *,
        timeout: float | None,
        reply_timeout: float | None = None,
        on_event: Callable[[Event], object] | None = None,
        event_lock: bool = True,
    ) -> Event: ...

    async def command(self, text: str, timeout: float | None) -> Frame: ...


def dial_outcome(status: str) -> DialOutcome:
    """A bridge's ``originate_disposition`` (or ``DIALSTATUS``) as a DialResult outcome."""
    if status in ("SUCCESS", "ANSWER"):
        return "answered"
    if status in _BUSY:
        return "busy"
    if status in _NO_ANSWER:
        return "no_answer"
    return "failed"


def _combined(outcomes: list[DialOutcome]) -> DialOutcome:
    """The outcome of an attempt whose targets were rung one after the other (none answered)."""
    if "no_answer" in outcomes:
        return "no_answer"
    return "busy" if "busy" in outcomes else "failed"


def _micros(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 20 else 0


def _answering(event: Event, legs: dict[str, str], targets: list[str]) -> str | None:
    """The target of this bridge that ``event`` (CHANNEL_BRIDGE, or the bridge's completion)
    names as the answering leg; None when it names none."""
    for key in _LEG_KEYS:
        target = legs.get(event.get(key))
        if target is not None:
            return target
    destination = event.get("Other-Leg-Destination-Number")
    if destination in targets:
        return destination
    for name in (event.get("Other-Leg-Channel-Name"), event.variable("bridge_channel")):
        runs = set(_RUNS.findall(name))
        for target in targets:
            if target in runs:
                return target
    if len(targets) == 1:
        return targets[0]
    # Not one of the targets: reported as FreeSWITCH gave it (the engine flags it, never credits it)
    return destination if is_number(destination) else None


TRANSFER_VARIABLE = "routecore_transfer"
"""V5: the caller's channel variable naming where the agent transferred the caller."""


@dataclass
class _Bridge:
    """What one ``bridge`` saw while it ran."""

    targets: list[str]
    legs: dict[str, str]  # origination_uuid → target
    winner: str | None = None
    bridged_us: int = 0  # FreeSWITCH's Event-Date-Timestamp of the CHANNEL_BRIDGE
    bridged_at: float | None = None  # our monotonic clock at the CHANNEL_BRIDGE
    transfer: str | None = None  # V5: the number the agent sent the caller on to
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Applications:
    """The Actions of one call on its FreeSWITCH channel (see the module for the mapping).

    ``runtime`` gives the media folders, dial templates and the reply timeout; ``driver`` is
    the call's :class:`~routecore.adapter.call.CallDriver` (the answer moment, the setup
    time); ``call_id`` and ``did`` name the call's files and prompts.
    """

    def __init__(self, runtime: Any, conn: Channel, driver: Any, *, call_id: str, did: str) -> None:
        self.conn = conn
        self.driver = driver
        self.media = runtime.media
        self.dial = runtime.dial
        self.timeout: float = runtime.config.reply_timeout
        self.call = call_name(call_id)
        self.did = did
        self.files: dict[str, str] | None = None
        self.answered = False
        self.bridging = False  # continue_on_fail / hangup_after_bridge set
        self.record_ready = False  # RECORD_BRIDGE_REQ set
        self.announcing: str | None = None  # bridge_pre_execute_aleg_data now
        self.recordings = 0
        self.collections = 0
        self.ringing: dict[str, str] = {}  # target → origination_uuid of the bridge running
        self._handlers: dict[str, Callable[[Any], Awaitable[Any]]] = {
            "Play": self._play,
            "Collect": self._collect,
            "Dial": self._dial,
            "DropLeg": self._dropleg,
            "Voicemail": self._voicemail,
            "Conference": self._conference,
            "Survey": self._survey,
            "Hangup": self._hangup,
        }

    # -- context ------------------------------------------------------------------------------

    def use_plan(self, plan: Any) -> None:
        """The flow's prompt files (``prompts:``), once the session has its plan."""
        self.files = dict(plan.flow.get("prompts") or {}) if plan is not None else {}

    def prompt(self, name: str | None) -> str | None:
        """The prompt's file (absolute path with its extension, checked), or None."""
        if name is None:
            return None
        path = self.media.prompt(self.did, name, self.files)
        return None if path is None else checked(path, "prompt file")

    # -- one Action ---------------------------------------------------------------------------

    async def perform(self, action: Any) -> Any:
        """Carry ``action`` out; return its Event (or None). ChannelGone once the caller is
        gone and the Action has nothing left to report."""
        if self.files is None and self.driver.session.plan is not None:
            self.use_plan(self.driver.session.plan)
        name = type(action).__name__
        handler = self._handlers.get(name)
        if handler is None:
            log.warning("call %s: no FreeSWITCH application for %s, skipped", self.call, name)
            return None
        if name != "Hangup":
            self._alive(name)
        return await handler(action)

    def _alive(self, what: str) -> None:
        if self.conn.hung_up:
            raise ChannelGone(f"{what}: the caller has hung up")

    async def _exec(
        self,
        app: str,
        arg: str = "",
        *,
        limit: float | None,
        on_event: Callable[[Event], object] | None = None,
        event_lock: bool = True,
    ) -> Event:
        self.driver.first_command()
        return await self.conn.execute(
            app,
            arg,
            timeout=limit,
            reply_timeout=self.timeout,
            on_event=on_event,
            event_lock=event_lock,
        )

    async def _set(self, **values: str) -> None:
        """Set channel variables: ``set`` for one, one ``multiset`` for several (each
        application costs FreeSWITCH two events of ~8 KB to this socket)."""
        words = [f"{name}={checked(value, name)}" for name, value in values.items()]
        app = "set" if len(words) == 1 else "multiset"
        await self._exec(app, " ".join(words), limit=self.timeout)

    async def _answer(self) -> None:
        if not self.answered:
            self.answered = True
            await self._exec("answer", limit=self.timeout)

    def _variable(self) -> str:
        self.collections += 1
        return f"rc_digits_{self.collections}"

    # -- media --------------------------------------------------------------------------------

    async def _play(self, action: Any) -> None:
        file = self.prompt(action.prompt)
        if file is None:
            return
        await self._answer()
        await self._exec("playback", file, limit=self.timeout + MEDIA_LIMIT)
        self._alive("Play")

    async def _collect(self, action: Any) -> Any:
        from routecore.engine.actions import Digits

        await self._answer()
        file = self.prompt(action.prompt) or SILENCE
        variable = self._variable()
        terminators = "#" if action.terminator == "#" else "none"
        arg = (
            f"1 {action.max_digits} 1 {action.timeout * 1000} {terminators} {file} {SILENCE} "
            f"{variable} {DIGITS_PATTERN}"
        )
        done = await self._exec(
            "play_and_get_digits", arg, limit=self.timeout + MEDIA_LIMIT + action.timeout
        )
        self._alive("Collect")
        digits = done.variable(variable)
        if not _KEYS.fullmatch(digits) or len(digits) > action.max_digits:
            digits = ""
        return Digits(digits, at=time.time())

    async def _survey(self, action: Any) -> Any:
        from routecore.engine.actions import SurveyResult

        await self._answer()
        file = self.prompt(SURVEY_PROMPT) or SILENCE
        variable = self._variable()
        arg = f"1 1 1 {SURVEY_TIMEOUT_MS} # {file} {SILENCE} {variable} {SURVEY_PATTERN}"
        done = await self._exec(
            "play_and_get_digits", arg, limit=self.timeout + MEDIA_LIMIT + SURVEY_TIMEOUT_MS / 1e3
        )
        key = done.variable(variable)
        rating = int(key) if key in ("1", "2", "3", "4") else None
        if rating is None:
            self._alive("Survey")
        return SurveyResult(rating, at=time.time())

    async def _voicemail(self, action: Any) -> Any:
        from routecore.engine.actions import VoicemailResult

        await self._answer()
        file = self.prompt(action.prompt)
        if file is not None:
            await self._exec("playback", file, limit=self.timeout + MEDIA_LIMIT)
            self._alive("Voicemail")  # gone before the beep: no message
        path, reference = self.media.recording(self.call, suffix="vm")
        path = checked(path, "voicemail file")
        if self.recordings:  # a session recording of this call set record_seconds already
            await self._exec("unset", "record_seconds", limit=self.timeout)
        done = await self._exec(
            "record",
            f"{path} {action.max_seconds} {VOICEMAIL_THRESHOLD} {VOICEMAIL_SILENCE}",
            limit=self.timeout + MEDIA_LIMIT + action.max_seconds,
        )
        seconds = done.variable("record_seconds")
        length = min(int(seconds), SECONDS_MAX) if seconds.isascii() and seconds.isdigit() else 0
        if length <= 0:
            return VoicemailResult(None, 0, at=time.time())
        return VoicemailResult(reference, length, at=time.time())

    async def _conference(self, action: Any) -> Any:
        from routecore.engine.actions import ConferenceResult

        await self._answer()
        room = checked(f"rc-{self.did}-{action.room}", "conference room")
        await self._set(conference_max_members=str(action.max_parties))
        done = await self._exec("conference", f"{room}@default", limit=None)
        joined = bool(done.variable("conference_member_id"))
        if not joined:
            self._alive("Conference")
        return ConferenceResult(joined, at=time.time())

    async def _hangup(self, action: Any) -> None:
        if self.conn.hung_up:
            return
        with contextlib.suppress(ChannelGone):
            await self._exec(
                "hangup", CAUSES.get(action.cause, "NORMAL_CLEARING"), limit=self.timeout
            )

    # -- Dial ---------------------------------------------------------------------------------

    async def _dial(self, action: Any) -> Any:
        from routecore.engine.actions import DialResult

        targets = list(action.targets)
        strings = [checked(self.dial.dial_string(t), "dial string") for t in targets]
        entries = (
            list(action.announce)
            if isinstance(action.announce, tuple)
            else [action.announce] * len(targets)
        )
        once: dict[str, str] = {}
        if not self.bridging:
            self.bridging = True
            once.update(continue_on_fail="true", hangup_after_bridge="false")
        if action.record and not self.record_ready:
            self.record_ready = True
            once["RECORD_BRIDGE_REQ"] = "true"
        if once:
            await self._set(**once)
        path = reference = None
        if action.record:
            self.recordings += 1
            path, reference = self.media.recording(self.call, self.recordings)
            path = checked(path, "recording file")
            await self._exec("record_session", path, limit=self.timeout)
        everyone = list(range(len(targets)))
        groups = [everyone] if action.simultaneous else [[i] for i in everyone]
        outcomes: list[DialOutcome] = []
        result: Any = None
        for group in groups:
            bridge, outcome, talk = await self._bridge(
                action.ring_timeout,
                [targets[i] for i in group],
                [strings[i] for i in group],
                [entries[i] for i in group],
            )
            outcomes.append(outcome)
            if outcome == "answered":
                winner = bridge.winner
                if winner is None:  # FreeSWITCH named no leg at all: the first one rung
                    winner = bridge.targets[0]
                    log.warning(
                        "call %s: the answering leg is unknown, %s assumed", self.call, winner
                    )
                result = DialResult(
                    "answered",
                    answered_by=winner,
                    talk_seconds=talk,
                    recording=reference,
                    at=time.time(),
                    transfer=bridge.transfer,
                )
                break
            if self.conn.hung_up:
                break
        if path is not None and not self.conn.hung_up:
            await self._exec("stop_record_session", path, limit=self.timeout)
        if result is not None:
            return result
        self._alive("Dial")  # the caller gave up while the targets rang: the call ends
        return DialResult(_combined(outcomes), at=time.time())

    async def _bridge(
        self, ring_timeout: int, targets: list[str], strings: list[str], entries: list[Any]
    ) -> tuple[_Bridge, DialOutcome, int]:
        """One ``bridge`` of ``targets`` rung at once: (what it saw, outcome, talk seconds)."""
        legs = {str(uuid.uuid4()): target for target in targets}
        self.ringing = {target: leg for leg, target in legs.items()}
        arg = ",".join(
            f"[leg_timeout={ring_timeout},origination_uuid={checked(leg, 'leg uuid')}]{string}"
            for (leg, _), string in zip(legs.items(), strings, strict=True)
        )
        files = [self._announcement(entry) for entry in entries]
        at_answer: dict[str, str] = {}
        if len(set(files)) == 1:
            await self._pre_execute(files[0])
        else:  # one file per target: the answering target's, once it is known
            await self._pre_execute(None)
            at_answer = {t: f for t, f in zip(targets, files, strict=True) if f is not None}
        bridge = _Bridge(targets, legs)

        def on_event(event: Event) -> None:
            if event.name == "CHANNEL_BRIDGE":
                self._bridged(bridge, event, at_answer)

        try:
            # no event-lock: it would hold back the caller's queued applications (the
            # announcement of bridge_pre_execute_aleg_app, uuid_broadcast) until the bridge ends
            done = await self._exec("bridge", arg, limit=None, on_event=on_event, event_lock=False)
        finally:
            self.ringing = {}
            if bridge.tasks:
                await asyncio.wait(bridge.tasks)
        status = done.variable("originate_disposition") or done.variable("DIALSTATUS")
        outcome = dial_outcome(status)
        if bridge.bridged_at is None and outcome != "answered":
            return bridge, outcome, 0
        if bridge.winner is None:
            bridge.winner = _answering(done, legs, targets)
        asked = done.variable(TRANSFER_VARIABLE)
        if asked:
            bridge.transfer = transfer_number(asked, self.call)
            if not self.conn.hung_up:  # read once: a later Dial must not transfer again
                await self._exec("unset", TRANSFER_VARIABLE, limit=self.timeout)
        return bridge, "answered", self._talk(bridge, done)

    def _bridged(self, bridge: _Bridge, event: Event, at_answer: dict[str, str]) -> None:
        """The answer moment: a CHANNEL_BRIDGE of the caller's channel during the bridge."""
        if bridge.bridged_at is None:
            bridge.bridged_at = time.monotonic()
            bridge.bridged_us = _micros(event.get("Event-Date-Timestamp"))
        target = _answering(event, bridge.legs, bridge.targets)
        if target is None:
            log.warning("call %s: a bridge to an unknown leg", self.call)
            return
        first = bridge.winner is None
        if first:
            bridge.winner = target
        leg = event.get("Other-Leg-Unique-ID") or self.ringing.get(target, "")
        for action in self.driver.answered(target):
            if type(action).__name__ == "DropLeg":
                self._spawn(bridge, self._kill(leg))
        file = at_answer.get(target) if first else None
        if file is not None:
            self._spawn(bridge, self._broadcast(file))

    def _spawn(self, bridge: _Bridge, work: Coroutine[Any, Any, None]) -> None:
        bridge.tasks.append(asyncio.get_running_loop().create_task(work))

    def _talk(self, bridge: _Bridge, done: Event) -> int:
        end = _micros(done.get("Event-Date-Timestamp"))
        start = bridge.bridged_us or _micros(done.get("Caller-Channel-Bridged-Time"))
        if end and start and end >= start:  # to the nearest second
            return min((end - start + 500_000) // 1_000_000, SECONDS_MAX)
        if bridge.bridged_at is not None:
            return min(round(time.monotonic() - bridge.bridged_at), SECONDS_MAX)
        return 0

    def _announcement(self, entry: Any) -> str | None:
        """B10: the file announcing ``entry`` to the caller (an agent id read digit by digit,
        or a prompt's file), or None."""
        if entry is None:
            return None
        if isinstance(entry, int):
            digits = [checked(f"digits/{d}.wav", "digit sound") for d in str(entry)]
            return "file_string://" + "!".join(digits)
        return self.prompt(entry)

    async def _pre_execute(self, file: str | None) -> None:
        """Set (or clear) the announcement the next bridge plays to the caller on connect."""
        if file == self.announcing:
            return
        if file is None:
            arg = "bridge_pre_execute_aleg_app bridge_pre_execute_app"
            await self._exec("multiunset", arg, limit=self.timeout)
        elif self.announcing is None:
            arg = f"bridge_pre_execute_aleg_app=playback bridge_pre_execute_aleg_data={file}"
            await self._exec("multiset", arg, limit=self.timeout)
        else:
            await self._exec("set", f"bridge_pre_execute_aleg_data={file}", limit=self.timeout)
        self.announcing = file

    async def _dropleg(self, action: Any) -> None:
        leg = self.ringing.get(action.target)
        if leg is not None:
            await self._kill(leg)

    async def _kill(self, leg: str) -> None:
        if leg:
            await self._api("uuid_kill", lambda: checked(leg, "leg uuid"))

    async def _broadcast(self, file: str) -> None:
        """Play ``file`` (built of checked values) to the caller now, beside the bridge."""
        await self._api(
            "uuid_broadcast",
            lambda: f"{checked(self.conn.channel_uuid, 'channel uuid')} {file} aleg",
        )

    async def _api(self, command: str, arguments: Callable[[], str]) -> None:
        """``api <command> <arguments()>`` on the call's socket; a failure (an unsafe value
        included) is logged, never raised: it runs beside the bridge."""
        try:
            await self.conn.command(f"api {command} {arguments()}", self.timeout)
        except (AdapterError, OSError) as e:
            log.info("call %s: api %s: %s", self.call, command, e)
