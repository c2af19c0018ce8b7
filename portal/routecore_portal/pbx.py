"""Click to call from the portal: the PBX first rings the seat's phone, showing the 400 number,
then sends the answered seat into the agents' outbound path with the customer's number (B3,
B15, V5).

Asterisk's ``[agents-out]`` runs FastAGI ``outbound?did=``, FreeSWITCH's ``routecore-outbound``
extension takes ``routecore_service``, so the engine dials the customer as the 400 number and
writes the record, holds the seat and queues the missed-call SMS.

Through the PBX's control connection (``ROUTECORE_PBX``): Asterisk's manager interface
``Originate``, FreeSWITCH's inbound event socket ``originate``, with routecore's own clients.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from django.conf import settings

from routecore.adapter.errors import AdapterError
from routecore.adapter.reconcile import ControlAddress, control_address

DEFAULTS = {
    "ami": ("Local/{phone}@destinations", "agents-out"),
    "esl": ("loopback/{phone}/default", "default"),
}
RING_SECONDS = 30


class CallBackError(Exception):
    """A call back that cannot be made: the message says why, for the seat."""


@dataclass(frozen=True)
class CallBack:
    """What was asked of the PBX."""

    pbx: str
    seat_channel: str
    context: str
    customer: str
    did: str


def _number(text: str, what: str) -> str:
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"0[0-9]{9,11}|1[0-9]{10}", digits):
        raise CallBackError(f"{what} {text!r} is not a mobile or a landline with its area code")
    return digits


def plan(seat_phone: str, customer: str, did: str) -> tuple[CallBack, ControlAddress]:
    """What a call back would ask of the configured PBX, and its control address."""
    url = settings.ROUTECORE.get("pbx") or ""
    if not url:
        raise CallBackError("no PBX control connection is configured (ROUTECORE_PBX)")
    try:
        address = control_address(url)
    except AdapterError as e:
        raise CallBackError(str(e)) from None
    dial, context = DEFAULTS[address.scheme]
    dial = settings.ROUTECORE.get("seat_dial") or dial
    context = settings.ROUTECORE.get("callback_context") or context
    seat = _number(seat_phone, "the seat's phone")
    return (
        CallBack(
            str(address), dial.format(phone=seat), context, _number(customer, "the number"), did
        ),
        address,
    )


async def _originate(call: CallBack, address: ControlAddress) -> str:
    scheme = address.scheme
    host, port = address.host, address.port
    if scheme == "ami":
        from routecore_asterisk.ami import connect_ami

        async with await connect_ami(host, port, address.user, address.secret) as ami:
            outcome = await ami.originate(
                call.seat_channel,
                call.context,
                call.customer,
                caller_id=call.did,
                ring_timeout=RING_SECONDS,
                variables={"ROUTECORE_DID": call.did},
            )
        if outcome.get("Response") != "Success":
            raise CallBackError(f"the seat's phone did not answer (reason {outcome.get('Reason')})")
        return str(outcome.get("Uniqueid", ""))
    from routecore_freeswitch.inbound import connect_inbound

    async with await connect_inbound(host, port, address.secret) as esl:
        return await esl.originate(
            call.seat_channel,
            call.customer,
            context=call.context,
            caller_id=call.did,
            ring_timeout=RING_SECONDS,
            variables={"routecore_service": call.did},
        )


def call_back(seat_phone: str, customer: str, did: str) -> tuple[CallBack, str]:
    """Ring the seat, then (once it answers) the customer as ``did``; the new channel's id.
    CallBackError with the reason when it cannot be made (the PBX refuses, drops, or the seat
    does not answer)."""
    call, address = plan(seat_phone, customer, did)
    try:
        return call, asyncio.run(_originate(call, address))
    except CallBackError:
        raise
    except (AdapterError, OSError) as e:
        raise CallBackError(f"{call.pbx}: {e}") from None
    except Exception as e:  # the clients' ActionFailed / ApiFailed: the PBX said no
        raise CallBackError(f"{call.pbx} refused the call: {e}") from None
