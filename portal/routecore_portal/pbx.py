"""Click to call and transfer from the portal, through the PBX's control connection (B3, B15,
V5).

Click to call: the PBX first rings the seat's phone, then sends the answered seat into the
agents' outbound path with the customer's number, shown the 400 number. The seat's phone is
the originated channel's caller ID, so the engine knows the agent (the record's caller, and
the seat held for the call). A seat calling another seat's phone is the same path: the engine
claims that seat as any destination (an internal call).

Transfer (V5): the caller's channel gets the transfer variable (Asterisk ``ROUTECORE_TRANSFER``
by the manager's ``Setvar``, FreeSWITCH ``routecore_transfer`` by ``uuid_setvar``), then the
agent's leg, the caller's bridge peer (``BRIDGEPEER``; ``bridge_uuid``), is hung up: the Dial
returns, the adapter reports the transfer with its result and the engine rings the new seat.

Asterisk's ``[agents-out]`` runs FastAGI ``outbound?did=``, FreeSWITCH's ``routecore-outbound``
extension takes ``routecore_service``, so the engine dials the customer as the 400 number and
writes the record, holds the seat and queues the missed-call SMS.

Through the PBX's control connection (``ROUTECORE_PBX``): Asterisk's manager interface
``Originate``, FreeSWITCH's inbound event socket ``originate``, with routecore's own clients.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings

from routecore.adapter.errors import AdapterError
from routecore.adapter.reconcile import ControlAddress, control_address
from routecore.adapter.values import checked

DEFAULTS = {
    "ami": ("Local/{phone}@destinations", "agents-out"),
    "esl": ("loopback/{phone}/default", "default"),
}
RING_SECONDS = 30
T = TypeVar("T")


class CallBackError(Exception):
    """A call back or transfer that cannot be made: the message says why, for the seat."""


@dataclass(frozen=True)
class CallBack:
    """What was asked of the PBX."""

    pbx: str
    seat_channel: str
    context: str
    customer: str
    did: str
    seat: str


def _number(text: str, what: str) -> str:
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"0[0-9]{9,11}|1[0-9]{10}", digits):
        raise CallBackError(f"{what} {text!r} is not a mobile or a landline with its area code")
    return digits


def _address() -> ControlAddress:
    url = settings.ROUTECORE.get("pbx") or ""
    if not url:
        raise CallBackError("no PBX control connection is configured (ROUTECORE_PBX)")
    try:
        return control_address(url)
    except AdapterError as e:
        raise CallBackError(str(e)) from None


def plan(seat_phone: str, customer: str, did: str) -> tuple[CallBack, ControlAddress]:
    """What a call back would ask of the configured PBX, and its control address."""
    address = _address()
    dial, context = DEFAULTS[address.scheme]
    dial = settings.ROUTECORE.get("seat_dial") or dial
    context = settings.ROUTECORE.get("callback_context") or context
    seat = _number(seat_phone, "the seat's phone")
    customer = _number(customer, "the number")
    return (
        CallBack(str(address), dial.format(phone=seat), context, customer, did, seat),
        address,
    )


async def send_call_back(call: CallBack, address: ControlAddress) -> str:
    scheme = address.scheme
    host, port = address.host, address.port
    if scheme == "ami":
        from routecore_asterisk.ami import connect_ami

        async with await connect_ami(host, port, address.user, address.secret) as ami:
            outcome = await ami.originate(
                call.seat_channel,
                call.context,
                call.customer,
                caller_id=call.seat,
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
            caller_id=call.seat,
            ring_timeout=RING_SECONDS,
            variables={"routecore_service": call.did, "routecore_agent": call.seat},
        )


async def send_transfer(channel: str, number: str, address: ControlAddress) -> str:
    """Send the caller on ``channel`` to ``number``; the agent leg that was hung up."""
    if address.scheme == "ami":
        from routecore_asterisk.ami import connect_ami

        async with await connect_ami(
            address.host, address.port, address.user, address.secret
        ) as ami:
            found = await ami.action("Getvar", Channel=channel, Variable="BRIDGEPEER")
            peer = str(found.get("Value") or "")
            if not peer:
                raise CallBackError("the call is not talking with an agent now")
            await ami.action("Setvar", Channel=channel, Variable="ROUTECORE_TRANSFER", Value=number)
            if not await ami.hangup(peer):  # the agent hung up meanwhile: take the transfer back
                await ami.action("Setvar", Channel=channel, Variable="ROUTECORE_TRANSFER", Value="")
                raise CallBackError("the agent's leg had ended: the caller was not moved")
            return peer
    from routecore_freeswitch.inbound import connect_inbound

    async with await connect_inbound(address.host, address.port, address.secret) as esl:
        peer = (await esl.api(f"uuid_getvar {channel} bridge_uuid")).strip()
        if not peer or peer == "_undef_":
            raise CallBackError("the call is not talking with an agent now")
        await esl.api(f"uuid_setvar {channel} routecore_transfer {number}")
        if not await esl.uuid_kill(peer):  # the agent hung up meanwhile: take it back
            await esl.api(f"uuid_setvar {channel} routecore_transfer")
            raise CallBackError("the agent's leg had ended: the caller was not moved")
        return peer


def _run(work: Coroutine[Any, Any, T], address: ControlAddress, what: str) -> T:
    """Run one exchange with the PBX; CallBackError saying why it failed (the PBX cannot be
    reached or dropped the connection, or it refused ``what``)."""
    try:
        return asyncio.run(work)
    except CallBackError:
        raise
    except (AdapterError, OSError) as e:
        raise CallBackError(f"{address}: {e}") from None
    except Exception as e:  # the clients' ActionFailed / ApiFailed: the PBX said no
        raise CallBackError(f"{address} refused {what}: {e}") from None


def transfer(channel: str, number: str) -> str:
    """Transfer the caller of the call on ``channel`` (the journal's PBX channel) to ``number``
    (a phone or an extension of the flow); the agent leg that was ended. CallBackError with the
    reason when it cannot be done."""
    address = _address()
    if not re.fullmatch(r"[0-9]{3,20}", number):
        raise CallBackError(f"{number!r} is not a number or an extension")
    try:
        checked(channel, "channel")
    except AdapterError as e:
        raise CallBackError(str(e)) from None
    return _run(send_transfer(channel, number, address), address, "the transfer")


def call_back(seat_phone: str, customer: str, did: str) -> tuple[CallBack, str]:
    """Ring the seat, then (once it answers) the customer as ``did``; the new channel's id.
    CallBackError with the reason when it cannot be made (the PBX refuses, drops, or the seat
    does not answer)."""
    call, address = plan(seat_phone, customer, did)
    return call, _run(send_call_back(call, address), address, "the call")
