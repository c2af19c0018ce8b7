"""One AGI call's first Event, from the ``agi_*`` environment (both transports): an inbound
call, or an agent's outbound call (B3)."""

from __future__ import annotations

import time
from typing import Any

from routecore.adapter.values import call_name
from routecore_asterisk.codec import AgiEnvironment

__all__ = ["first_event"]


def first_event(env: AgiEnvironment) -> Any:
    """``CallStarted`` for an inbound call, ``OutboundStarted`` for the ``outbound`` script.

    The 400 number is the ``did`` query parameter or the first AGI argument when the dialplan
    gives one (for ``AGI(routecore-asterisk,agi,<did>)`` the one after ``agi``), else
    ``agi_dnid`` (else ``agi_extension``). The caller is ``agi_callerid``
    as Asterisk has it (the engine reads any text). For ``outbound`` (B3) the agent is
    ``agi_callerid`` and the customer ``agi_extension``. Raises ActionError when the 400 number
    or the customer is not a number (the call is then refused)."""
    from routecore.engine.actions import CallStarted, OutboundStarted

    args = env.args
    if not env.network and args[:1] == ("agi",):
        args = args[1:]  # AGI(routecore-asterisk,agi[,did]): the first argument is the command
    given = env.query.get("did") or (args[0] if args else "")
    call_id = call_name(env.uniqueid or f"agi-{time.time_ns()}")
    if env.script == "outbound":
        return OutboundStarted(given, env.callerid, env.extension, time.time(), call_id)
    return CallStarted(given or env.dnid or env.extension, env.callerid, time.time(), call_id)
