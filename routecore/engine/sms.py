"""Post-call SMS: what the engine asks to be sent when a call ends, and who sends it; the same
message carries a bulk campaign's (B2, B3, V2).

Two messages (FEATURES B2, B3), decided here from the CallRecord and the number's flow:

- **hang-up SMS** (B2): after an inbound call ends, answered or not, the flow's SMS text with its
  signature goes to the caller, only when the caller is a mobile number (never a landline, a
  service number or a withheld caller) and only while the text's ``approval`` is ``approved``.
  Blacklisted callers and calls to a number without a flow get nothing.
- **missed-call SMS** (B3): when an agent's outbound call is not answered, the customer (a
  mobile) is told who called: the enterprise's name, its 400 number and the time of the call,
  in the number's time zone, under the flow's signature, again only while the flow's SMS
  section is approved (its signature is what was reviewed).

A :class:`Notifier` is anything with ``send(sms)``: ``routecore.store.CallStore`` keeps them in
its outbox for a sender service to deliver; :class:`SmsList` keeps them in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from routecore.engine.callerid import caller_number_text, default_classify
from routecore.rules import DEFAULT_TZ

__all__ = ["Notifier", "Sms", "SmsList", "missed_call_text", "post_call_sms", "signed"]

NO_SMS_OUTCOMES = frozenset({"blacklisted", "no_route"})


@dataclass(frozen=True)
class Sms:
    """One SMS to send: ``kind`` ``hangup`` (B2) or ``missed_call`` (B3), from the 400 number
    ``did`` to the mobile ``to`` (11 digits), about call ``call_id`` that ended at ``at``; or
    ``marketing`` (V2), a bulk campaign's message (``call_id`` names the campaign, ``at`` when
    it was queued), never sent before ``not_before`` nor in the recipient's quiet hours."""

    kind: Literal["hangup", "missed_call", "marketing"]
    did: str
    to: str
    text: str
    call_id: str
    at: float
    not_before: float | None = None


class Notifier(Protocol):
    """Whatever delivers post-call SMS (an outbox, a gateway client)."""

    def send(self, sms: Sms) -> None: ...


@dataclass
class SmsList:
    """A notifier that keeps what it is given, in order (``routecore simulate``, tests)."""

    sent: list[Sms] = field(default_factory=list)

    def send(self, sms: Sms) -> None:
        self.sent.append(sms)


def signed(signature: str, text: str) -> str:
    """``text`` under ``signature``, in the 【...】 form carriers require at the front."""
    sig = signature.strip()
    if not (sig.startswith("【") and sig.endswith("】")):
        sig = f"【{sig.strip('【】[]')}】"
    return sig + text


def missed_call_text(flow: dict[str, Any], did: str, at: float) -> str:
    """B3's text: enterprise name, 400 number and call time (minute, the number's zone)."""
    sms = flow["sms"]
    name = flow.get("name") or sms["signature"].strip("【】[] ")
    when = datetime.fromtimestamp(at, ZoneInfo(flow.get("timezone", DEFAULT_TZ)))
    return signed(
        sms["signature"],
        f"您好，{name}（{did}）于{when:%Y-%m-%d %H:%M}致电您未接通，如需帮助请回拨{did}。",
    )


def _mobile(number: str | None, classify: Callable[[str], Any]) -> str | None:
    if not number:
        return None
    caller = classify(number)
    return str(caller.number) if caller.kind == "mobile" else None


def post_call_sms(
    record: Any, flow: dict[str, Any], classify: Callable[[str], Any] | None = None
) -> list[Sms]:
    """The SMS the ended call ``record`` asks for under ``flow`` (the flow's JSON form);
    ``classify`` tells mobiles (default: ``routecore.classify``, the session passes its own)."""
    classify = classify if classify is not None else default_classify()
    sms = flow.get("sms")
    if not sms or sms.get("approval") != "approved" or record.outcome in NO_SMS_OUTCOMES:
        return []
    at = record.end if record.end is not None else record.start
    if record.kind == "outbound":
        to = _mobile(record.callee, classify)
        if to is None or record.outcome != "not_answered":
            return []
        text = missed_call_text(flow, record.did, record.start)
        return [Sms("missed_call", record.did, to, text, record.call_id, at)]
    to = _mobile(record.caller_number or caller_number_text(record.caller), classify)
    if to is None:
        return []
    return [
        Sms("hangup", record.did, to, signed(sms["signature"], sms["text"]), record.call_id, at)
    ]
