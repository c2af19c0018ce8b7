"""The driver's loop for a process per call (no asyncio: importing it costs ~50 ms).

While a Dial waits, ``SIGALRM`` renews the call's leases every ``keepalive_every`` seconds: the
handler runs between two reads of the blocked loop, while the session waits for the Dial's
result, so it never interleaves with another engine step.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from routecore.adapter.call import CallDriver

__all__ = ["run"]


def run(
    driver: CallDriver,
    first: Any,
    perform: Callable[[Any], Any],
    *,
    keepalive_every: float = 300.0,
) -> None:
    """Run the call from ``first`` (CallStarted/OutboundStarted): ``perform(action)`` carries
    one Action out and returns its Event (or None). Returns when the call has ended."""
    from routecore.engine.actions import Dial

    def renew(_signum: int, _frame: Any) -> None:
        driver.keep_alive()

    with driver.guard():
        steps = driver.steps(first)
        action = next(steps, None)
        while action is not None:
            if isinstance(action, Dial):
                previous = signal.signal(signal.SIGALRM, renew)
                signal.setitimer(signal.ITIMER_REAL, keepalive_every, keepalive_every)
                try:
                    event = perform(action)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, previous)
            else:
                event = perform(action)
            try:
                action = steps.send(event)
            except StopIteration:
                action = None
