"""The call engine: one call from ring to record.

The call's way, top-down: :mod:`~routecore.engine.session` (``CallSession``: Events in, Actions
out) walks the :mod:`~routecore.engine.plan` of the number called (built once per image) and
leaves claims, attempts, the answer moment, lease renewal and the round-robin cursor to the
:mod:`~routecore.engine.dialer`; :mod:`~routecore.engine.actions` holds the Actions and Events,
:mod:`~routecore.engine.wire` their wire, :mod:`~routecore.engine.callerid` reads raw caller IDs,
:mod:`~routecore.engine.prompts` names the system prompts, :mod:`~routecore.engine.record` the
CallRecord, :mod:`~routecore.engine.sms` the post-call SMS and
:mod:`~routecore.engine.simulate` scripted calls. Nothing here imports the package root.
"""

from __future__ import annotations

from routecore.engine.prompts import SYSTEM_PROMPTS
from routecore.engine.record import CallRecord
from routecore.engine.session import CallSession

__all__ = ["SYSTEM_PROMPTS", "CallRecord", "CallSession"]
