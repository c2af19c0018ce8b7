"""One ESL call's first Event, from the channel data of the reply to ``connect``: an inbound
call, or an agent's outbound call (B3)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from routecore.adapter.values import call_name

__all__ = ["first_event", "is_true"]

_TRUE = ("true", "yes", "on", "1")


def is_true(value: str) -> bool:
    """A channel variable's truth as FreeSWITCH's ``switch_true`` reads it."""
    return value.strip().lower() in _TRUE


def first_event(data: Mapping[str, str], at: float) -> Any:
    """``CallStarted`` for an inbound call, ``OutboundStarted`` for an agent's outbound call (B3).

    The 400 number is the channel variable ``routecore_service`` when the dialplan sets it
    (``set routecore_service=${destination_number}`` before ``socket``), else
    ``Caller-Destination-Number``; the caller is ``Caller-Caller-ID-Number`` as FreeSWITCH has
    it (the engine reads any text and never lets it reach a command); the call id is the
    channel's ``Unique-ID`` through :func:`~routecore.adapter.values.call_name`. When the
    channel variable ``routecore_outbound`` is true the call is the agent's: the agent is the
    channel variable ``routecore_agent`` when set (the portal's click to call sets it: a
    channel FreeSWITCH originated may carry another caller ID, a loopback's is its context),
    else ``Caller-Caller-ID-Number``, the customer ``Caller-Destination-Number`` and the 400 number
    ``routecore_service`` (required). ``at`` is the call's start (unix seconds). Raises
    ActionError when the 400 number, agent or customer is not a number (the call is then
    refused).
    """
    from routecore.engine.actions import CallStarted, OutboundStarted

    uuid = data.get("Unique-ID") or data.get("Channel-Unique-ID") or ""
    call_id = call_name(uuid or f"esl-{time.time_ns()}")
    service = data.get("variable_routecore_service", "")
    caller = data.get("Caller-Caller-ID-Number", data.get("Channel-Caller-ID-Number", ""))
    destination = data.get("Caller-Destination-Number", data.get("Channel-Destination-Number", ""))
    if is_true(data.get("variable_routecore_outbound", "")):
        agent = data.get("variable_routecore_agent") or caller
        return OutboundStarted(service, agent, destination, at, call_id)
    return CallStarted(service or destination, caller, at, call_id)
