"""Actions → AGI commands: what Asterisk does for each Action of the engine, sans-IO (B5, B8,
B9, B10, B12, B13, B14, V4, V5).

Each Action becomes a generator (:meth:`Translator.steps`) that yields :class:`Command` s and
receives each one's :class:`~routecore_asterisk.codec.Reply`; it returns the Event the Action is
answered with (or None). The FastAGI server and the process-per-call script pump the same
generators, one with asyncio and one blocking, so both speak exactly the same dialplan.

============  ===============================================================================
Action        AGI
============  ===============================================================================
(media)       ``ANSWER`` once, before the first prompt, recording or conference: a call
              refused first (blacklist) is never answered (the caller gets SIP 603)
Play          ``STREAM FILE <file> ""`` (no file: skipped, logged)
Collect       ``GET DATA <file> <ms> <max>`` (``#`` ends the input; no prompt: ``silence/1``)
Dial          ``EXEC MixMonitor <file>,b`` when recorded; ``EXEC Dial <t1>&<t2>,<s>,<opts>``
              at once, or one ``Dial`` per target in order; then ``GET FULL VARIABLE
              ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}`` (all in one round
              trip; V5: a seat's workspace sets ``ROUTECORE_TRANSFER`` on the caller's channel
              through the manager interface before it hangs the agent's leg up, the number is
              reported in the DialResult and ``SET VARIABLE ROUTECORE_TRANSFER ""`` clears
              it); options ``g``
              (the call goes on after the agent hangs up: survey),
              ``U(rc-answered^<call>*<secret>^<port>^<host>)`` (the answer moment, on the
              FastAGI server; a random secret per call) or ``U(rc-answer-time)`` (the
              process-per-call AGI: the subroutine returns the answer time, read as
              ``GOSUB_RETVAL``),
              ``A(:<announcement>)`` (B10: the agent's prompt, or ``agent_<id>`` for an agent
              id). Talk time is the conversation: the answer moment to the Dial's return, on
              this host's clock (Asterisk's ``ANSWEREDTIME`` is the *caller's* up time, which
              counts prompts and ringing once routecore has answered; it is only the fallback
              for a caller the Dial itself answered)
Outbound      B3: ``SET VARIABLE CALLERID(num)`` and ``CALLERID(name)`` to the 400 number
              before the agent's Dial: the customer sees the service number
DropLeg       nothing here: the answer subroutine's own connection hangs the leg up
Voicemail     the prompt, then ``RECORD FILE <file> wav "#" <ms> BEEP s=5``
Conference    ``SET VARIABLE CONFBRIDGE(bridge,max_members)``, ``EXEC ConfBridge <room>``
Survey        ``GET DATA sys_survey 10000 1`` (1-4, else no rating)
Hangup        ``EXEC Hangup <cause code>`` (busy 17, no answer 19, blacklisted 21, …); a
              blacklisted caller on a PJSIP channel gets ``EXEC PJSIPHangup 603`` (Asterisk 22
              maps cause 21 to SIP 403 on PJSIP)
============  ===============================================================================
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore.adapter.values import call_name, checked, transfer_number
from routecore.engine.actions import SECONDS_MAX, DialOutcome
from routecore_asterisk import codec

__all__ = ["CAUSE_CODES", "Command", "Translator"]

log = logging.getLogger("routecore.asterisk")

CAUSE_CODES = {
    "normal": 16,
    "blacklisted": 21,  # call rejected: SIP 603
    "no_route": 1,  # unallocated number: SIP 404
    "busy": 17,  # user busy: SIP 486
    "no_answer": 19,  # no answer: SIP 480
    "invalid_input": 16,
    "error": 41,  # temporary failure: SIP 503
}
"""The engine's hang-up causes as Q.850 codes for ``Hangup()``."""

SURVEY_PROMPT = "sys_survey"
"""B12: the fixed satisfaction prompt ("1 very satisfied … 4 dissatisfied")."""
SURVEY_TIMEOUT_MS = 10_000
VOICEMAIL_SILENCE_S = 5
clock = time.time
"""Where the translator reads the time (the answer moment, a Dial's start and end)."""

TRANSFER_VARIABLE = "ROUTECORE_TRANSFER"
"""V5: the caller's channel variable naming where the agent transferred the caller."""
_DIAL_RESULT = (
    "GET",
    "FULL",
    "VARIABLE",
    "${DIALSTATUS}|${DIALEDPEERNUMBER}|${" + TRANSFER_VARIABLE + "}",
)
"""How a Dial ended, who answered and where the agent transferred the caller, read at once
(``ANSWER|13800138002@destinations|``)."""

ANSWER_TIME_CONTEXT = "rc-answer-time"
"""The process-per-call AGI's ``U()`` subroutine: ``Return(${STRFTIME(,,%s.%3q)})`` on the
answering channel; Asterisk copies its ``GOSUB_RETVAL`` to the caller (docs/asterisk.md). A
dialplan without it loses nothing but precision (Dial goes on when the subroutine is missing)."""
_DIGITS = re.compile(r"[0-9*#]*")
_AUDIO = re.compile(r"\.(wav|sln16|sln|ulaw|alaw|gsm|g722|mp3)$")


@dataclass(frozen=True)
class Command:
    """One AGI command; ``wait`` False for the ones that take the call's own time (Dial, a
    recording, a conference), True when the PBX must answer within the reply timeout."""

    line: bytes
    wait: bool = True
    after_hangup: bool = False


Steps = Generator[Command, "codec.Reply", Any]


def _sound(path: str) -> str:
    """A prompt file as Asterisk names a sound: the path without its audio extension."""
    return checked(_AUDIO.sub("", path), "prompt file")


class Translator:
    """The Actions of one call, in the context the adapter knows: its 400 number, the flow's
    prompt files, the media folders and dial templates, and (on the FastAGI server) the port
    its answer subroutine reports to."""

    def __init__(
        self,
        runtime: Any,
        *,
        call_id: str,
        did: str,
        answer_port: int | None = None,
        answer_host: str = "127.0.0.1",
        channel_type: str = "",
        outbound: bool = False,
    ) -> None:
        self.runtime = runtime
        self.media = runtime.media
        self.did = did
        self.call = call_name(call_id)
        self.answer_port = answer_port
        self.answer_host = checked(answer_host, "answer host")
        self.answered = False
        self.secret = secrets.token_hex(8)
        """The call's answer secret: the answer subroutine's ``call=<call>*<secret>`` must
        carry it (any local process could otherwise report an answer for a call it knows)."""
        self.answered_at: float | None = None  # when routecore answered the caller
        self.answer_at: float | None = None  # the answer moment of the Dial now ringing
        self.pjsip = channel_type.upper() == "PJSIP"
        self.outbound = outbound
        self.recordings = 0
        self.files: dict[str, str] = {}
        self.ringing: tuple[list[str], list[str]] = ([], [])  # targets, dial strings

    def use_plan(self, plan: Any) -> None:
        """The flow's prompt files (``prompts:``), once the session has its plan."""
        if plan is not None:
            self.files = dict(plan.flow.get("prompts") or {})

    def prompt(self, name: str | None) -> str | None:
        if name is None:
            return None
        path = self.media.prompt(self.did, name, self.files)
        return None if path is None else _sound(path)

    # -- one Action ---------------------------------------------------------------------------

    def steps(self, action: Any) -> Steps:
        """The commands of ``action``; the generator's value is its Event (or None)."""
        handler = getattr(self, "_" + type(action).__name__.lower(), None)
        if handler is None:
            log.warning("call %s: no AGI for %s, skipped", self.call, type(action).__name__)
            return None
        return (yield from handler(action))

    def _answer(self) -> Steps:
        if not self.answered:
            self.answered = True
            yield Command(codec.answer())
            self.answered_at = clock()

    def _play(self, action: Any) -> Steps:
        file = self.prompt(action.prompt)
        if file is None:
            return None
        yield from self._answer()
        yield Command(codec.stream_file(file))
        return None

    def _collect(self, action: Any) -> Steps:
        from routecore.engine.actions import Digits

        yield from self._answer()
        file = self.prompt(action.prompt) or "silence/1"
        reply = yield Command(codec.get_data(file, action.timeout * 1000, action.max_digits))
        return Digits(_digits(reply, action.max_digits))

    def _survey(self, action: Any) -> Steps:
        from routecore.engine.actions import SurveyResult

        yield from self._answer()
        file = self.prompt(SURVEY_PROMPT) or "silence/1"
        reply = yield Command(codec.get_data(file, SURVEY_TIMEOUT_MS, 1))
        key = _digits(reply, 1)
        return SurveyResult(int(key) if key in ("1", "2", "3", "4") else None)

    def _voicemail(self, action: Any) -> Steps:
        from routecore.engine.actions import VoicemailResult

        yield from self._answer()
        file = self.prompt(action.prompt)
        if file is not None:
            yield Command(codec.stream_file(file))
        path, reference = self.media.recording(self.call, suffix="vm")
        base = checked(path[: -len(".wav")], "voicemail file")
        reply = yield Command(
            codec.command(
                "RECORD",
                "FILE",
                base,
                "wav",
                "#",
                str(action.max_seconds * 1000),
                "BEEP",
                f"s={VOICEMAIL_SILENCE_S}",
            ),
            wait=False,
        )
        # a recording is never longer than asked for (a wild endpos is capped, not believed)
        seconds = min((reply.endpos or 0) // 8000, action.max_seconds)
        if seconds <= 0:
            return VoicemailResult(None, 0)
        return VoicemailResult(reference, seconds)

    def _conference(self, action: Any) -> Steps:
        from routecore.engine.actions import ConferenceResult

        yield from self._answer()
        room = checked(f"rc-{self.did}-{action.room}", "conference room")
        yield Command(codec.set_variable("CONFBRIDGE(bridge,max_members)", str(action.max_parties)))
        yield Command(codec.exec_("ConfBridge", room), wait=False)
        reply = yield Command(codec.get_variable("CONFBRIDGE_RESULT"), after_hangup=True)
        return ConferenceResult(joined=(reply.data or "") != "FAILED")

    def _hangup(self, action: Any) -> Steps:
        if action.cause == "blacklisted" and self.pjsip and not self.answered:
            yield Command(codec.exec_("PJSIPHangup", "603"))  # cause 21 would be SIP 403
            return None
        yield Command(codec.exec_("Hangup", str(CAUSE_CODES.get(action.cause, 16))))
        return None

    def _dropleg(self, action: Any) -> Steps:
        return None  # the answer subroutine's connection drops the leg (see the server)
        yield  # pragma: no cover - a generator

    # -- Dial ---------------------------------------------------------------------------------

    def _dial(self, action: Any) -> Steps:
        from routecore.engine.actions import DialResult

        targets = list(action.targets)
        strings = [self.runtime.dial.dial_string(t) for t in targets]
        announce = _announcements(action, len(targets))
        reference = None
        if action.record:
            self.recordings += 1
            path, reference = self.media.recording(self.call, self.recordings)
            yield from self._answer()
            yield Command(codec.exec_("MixMonitor", checked(path, "recording file") + ",b"))
        if self.outbound:
            yield from self._show_service_number()
        everyone = list(range(len(targets)))
        groups = [everyone] if action.simultaneous else [[i] for i in everyone]
        statuses: list[str] = []
        result: Any = None
        for group in groups:
            options = "g" + self._answer_option()
            sounds = {announce[i] for i in group}
            if len(sounds) == 1 and None not in sounds:
                sound = self._announcement(sounds.pop())
                if sound is not None:
                    options += f"A(:{sound})"
            elif len(sounds) > 1:  # Dial plays one file for whoever answers
                log.info(
                    "call %s: targets with different announcements rung at once: none", self.call
                )
            self.ringing = ([targets[i] for i in group], [strings[i] for i in group])
            self.answer_at = None
            dial = "&".join(self.ringing[1])
            started = clock()
            yield Command(
                codec.exec_("Dial", f"{dial},{action.ring_timeout},{options}"), wait=False
            )
            ended = clock()  # the Dial returns when the conversation is over
            reply = yield Command(codec.command(*_DIAL_RESULT), after_hangup=True)
            status, _, rest = (reply.data or "").partition("|")  # one round trip for all
            peer, _, asked = rest.partition("|")
            statuses.append(status)
            if status == "CANCEL":  # the caller hung up while the targets rang
                raise ChannelGone("the caller hung up during the Dial")
            if status == "ANSWER":
                winner = _winner(peer, *self.ringing)
                talk = yield from self._talk(started, ended)
                transfer = None
                if asked:
                    transfer = transfer_number(asked, self.call)
                    # read once: a later Dial of the call must not transfer again
                    yield Command(codec.set_variable(TRANSFER_VARIABLE, ""), after_hangup=True)
                result = DialResult(
                    "answered",
                    answered_by=winner,
                    talk_seconds=talk,
                    recording=reference,
                    at=ended,
                    transfer=transfer,
                )
                break
        self.ringing = ([], [])
        if action.record:
            try:
                yield Command(codec.exec_("StopMixMonitor", ""), after_hangup=True)
            except ChannelGone:
                pass  # the channel and its MixMonitor are gone: the Dial's result still counts
        if result is None:
            result = DialResult(_outcome(statuses))
        return result

    def answering(self, peer: str) -> str | None:
        """The target of the Dial now ringing that ``DIALEDPEERNUMBER`` names (None: no Dial);
        the first answer of the Dial is its answer moment."""
        if not self.ringing[0]:
            return None
        if self.answer_at is None:
            self.answer_at = clock()
        return _winner(peer, *self.ringing)

    def _answer_option(self) -> str:
        if self.answer_port is None:
            return f"U({ANSWER_TIME_CONTEXT})"
        return f"U(rc-answered^{self.call}*{self.secret}^{self.answer_port}^{self.answer_host})"

    def _show_service_number(self) -> Steps:
        """B3: the customer sees the 400 number, not the agent's own."""
        did = checked(self.did, "400 number")
        yield Command(codec.set_variable("CALLERID(num)", did))
        yield Command(codec.set_variable("CALLERID(name)", did))

    def _talk(self, started: float, ended: float) -> Generator[Command, codec.Reply, int]:
        """Seconds of conversation of the Dial that ran from ``started`` to ``ended``: from its
        answer moment (the FastAGI answer subroutine's arrival, or the time the
        ``rc-answer-time`` subroutine returned) to ``ended``."""
        answer = self.answer_at
        if answer is None and self.answer_port is None:
            reply = yield Command(codec.get_variable("GOSUB_RETVAL"), after_hangup=True)
            answer = _epoch(reply.data or "", started, ended)
        if answer is not None:
            return _seconds(ended - max(answer, started))
        # No answer moment: ANSWEREDTIME is the caller's up time, the talk only when the Dial
        # itself answered the caller; otherwise it holds routecore's prompts and the ringing too.
        reply = yield Command(codec.get_variable("ANSWEREDTIME_MS"), after_hangup=True)
        up = _milliseconds(reply.data or "")
        if up is None:  # no usable time from Asterisk: the Dial's own span bounds the talk
            log.warning(
                "call %s: no answer moment and no usable ANSWEREDTIME (%r): the Dial's %.0f s"
                " counted",
                self.call,
                (reply.data or "")[:40],
                ended - started,
            )
            return _seconds(ended - started)
        if self.answered_at is not None:
            log.warning(
                "call %s: no answer moment (is [%s] in the dialplan?): talk time counts the"
                " ringing",
                self.call,
                ANSWER_TIME_CONTEXT,
            )
            up -= max(0.0, started - self.answered_at)
        return _seconds(up)

    def _announcement(self, entry: int | str) -> str | None:
        """B10: the file Dial's ``A(:file)`` plays to the caller on connect. Dial plays one
        file, so an agent id is the prompt ``agent_<id>`` (the id read digit by digit, made
        once per agent: docs/asterisk.md); a prompt name is that prompt."""
        name = f"agent_{entry}" if isinstance(entry, int) or entry.isdigit() else entry
        return self.prompt(name)


def _seconds(seconds: float) -> int:
    """Whole seconds of a duration, to the nearest (as FreeSWITCH's are: within half a second
    of the conversation), within the engine's range."""
    return min(max(round(seconds), 0), SECONDS_MAX)


_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")


def _epoch(text: str, started: float, ended: float) -> float | None:
    """A Unix time from the dialplan (``1765100000.123``), None unless it falls within the
    Dial: a value left by an earlier subroutine (of the dialplan, or of an earlier Dial whose
    answer it was) falls before it. Asterisk and the process share the host's clock; a
    quarter second of slack covers its millisecond rounding."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if started - 0.25 <= value <= ended + 0.25 else None


def _milliseconds(text: str) -> float | None:
    """Seconds from a millisecond count (``ANSWEREDTIME_MS``), None unless plain ASCII digits
    within a week."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text) / 1000.0
    return value if value <= SECONDS_MAX else None


def _digits(reply: codec.Reply, most: int) -> str:
    """The keys a ``GET DATA`` reply carries ("" for none or for anything but keys); more
    keys than asked for is a ProtocolError (no Asterisk sends them)."""
    if reply.result is not None and reply.result < 0:
        raise ChannelGone("GET DATA failed: the caller is gone")
    digits = reply.raw_result
    if not _DIGITS.fullmatch(digits):
        return ""
    if len(digits) > most:
        raise ProtocolError(f"GET DATA returned {len(digits)} keys, {most} asked for")
    return digits


def _announcements(action: Any, n: int) -> list[Any]:
    if isinstance(action.announce, tuple):
        return list(action.announce)
    return [action.announce] * n


def _winner(peer: str, targets: list[str], strings: list[str]) -> str:
    """The target DIALEDPEERNUMBER names (``13800138002@destinations``: the dial string after its
    technology); the only target when there is one."""
    for target, string in zip(targets, strings, strict=True):
        if peer and (string.split("/", 1)[-1] == peer or peer == target):
            return target
    for target in targets:
        if peer.startswith(target):
            return target
    if len(targets) == 1:
        return targets[0]
    # Not one of the targets: reported as the PBX gave it (the engine flags it, never credits it)
    number = peer.split("@", 1)[0].rsplit("/", 1)[-1]
    return number if number.isdigit() else targets[0]


def _outcome(statuses: list[str]) -> DialOutcome:
    if "NOANSWER" in statuses:
        return "no_answer"
    return "busy" if "BUSY" in statuses else "failed"
