"""The driver's loop on asyncio (one task per call in a server)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from routecore.adapter.call import CallDriver

__all__ = ["run"]


async def _renew(driver: CallDriver, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        driver.keep_alive()


async def run(
    driver: CallDriver,
    first: Any,
    perform: Callable[[Any], Awaitable[Any]],
    *,
    keepalive_every: float = 300.0,
) -> None:
    """Run the call from ``first``: ``await perform(action)`` carries one Action out and
    returns its Event (or None). Returns when the call has ended; cancelling the task ends the
    call too (claims released, record written)."""
    from routecore.engine.actions import Dial

    with driver.guard():
        steps = driver.steps(first)
        action = next(steps, None)
        while action is not None:
            if isinstance(action, Dial):
                renew = asyncio.create_task(_renew(driver, keepalive_every))
                try:
                    event = await perform(action)
                finally:
                    renew.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renew
            else:
                event = await perform(action)
            try:
                action = steps.send(event)
            except StopIteration:
                action = None
