"""The adapters' servers keep a Redis state clean: a dead host's agents are free for the next
caller within about two minutes rather than at their leases' deadline (B9).

Every :data:`EVERY` seconds the first worker of each server says its host is alive
(``heartbeat``) and, when its host holds the reaper's lead (one host at a time), drops the
expired leases and those of dead processes and of hosts whose heartbeat stopped
(``RedisState.reap``; :data:`~routecore.state.redis_hosts.HOST_DEAD_SECONDS`).

A state file (one host) needs none of it: its claims drop what has expired, and the adapter's
reconciler frees the calls of a dead process. Nothing here ever stops a call: a reap that
fails is logged and tried again next time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["EVERY", "reap_forever", "reap_once"]

log = logging.getLogger("routecore.adapter")

EVERY = 30.0
"""Seconds between two heartbeats (and reaps, on the host that leads)."""
LEAD = "reaper"


def reap_once(state: Any, every: float = EVERY) -> int | None:
    """One round: the heartbeat, then the reap when this host leads; how many leases were
    dropped (None: another host leads, or the state is not on Redis)."""
    beat = getattr(state, "heartbeat", None)
    if beat is None:
        return None
    beat()
    if not state.lead(LEAD, every * 3):
        return None
    return int(state.reap())


async def reap_forever(state: Any, every: float = EVERY) -> None:
    """:func:`reap_once` every ``every`` seconds, in a thread (Redis never blocks the event
    loop), until cancelled."""
    while True:
        try:
            dropped = await asyncio.to_thread(reap_once, state, every)
        except Exception as e:  # Redis cannot be used now: the next round tries again
            log.warning("reaping the shared state failed: %s", e)
        else:
            if dropped:
                log.info("reaped %d lease(s) of the shared state", dropped)
        await asyncio.sleep(every)
