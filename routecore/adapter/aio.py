"""The driver's loop on asyncio (one task per call in a server)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from routecore.adapter.call import CallDriver

__all__ = ["in_conversation", "run"]

_DIALLING: dict[asyncio.Task[Any], CallDriver] = {}  # calls now in a Dial, by their task


def in_conversation() -> set[asyncio.Task[Any]]:
    """The tasks of calls whose Dial was answered and goes on: a conversation (a server that
    shuts down waits for these rather than cut them)."""
    return {task for task, driver in _DIALLING.items() if driver.talking}


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
    returns its Event (or None). Returns when the call has ended; cancelling the task (a
    server's shutdown) ends the call too (claims released, record written, outcome
    ``drained`` unless it had one)."""
    with driver.guard():
        try:
            await _drive(driver, first, perform, keepalive_every)
        except asyncio.CancelledError:  # only a server's shutdown cancels a call's task
            driver.cut = "drained"
            raise


async def _drive(
    driver: CallDriver,
    first: Any,
    perform: Callable[[Any], Awaitable[Any]],
    keepalive_every: float,
) -> None:
    from routecore.engine.actions import Dial

    steps = driver.steps(first)
    action = next(steps, None)
    while action is not None:
        if isinstance(action, Dial):
            renew = asyncio.create_task(_renew(driver, keepalive_every))
            task = asyncio.current_task()
            if task is not None:
                _DIALLING[task] = driver
            try:
                event = await perform(action)
            finally:
                driver.talking = False
                if task is not None:
                    _DIALLING.pop(task, None)
                renew.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renew
        else:
            event = await perform(action)
        try:
            action = steps.send(event)
        except StopIteration:
            action = None
