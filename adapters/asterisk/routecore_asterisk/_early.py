"""SIGHUP caught from a process-per-call AGI's first moments.

Asterisk tells a process-per-call AGI that the caller hung up with SIGHUP, whose default
action ends the process. The package installs :func:`catch` before anything else is imported
when the command is ``routecore-asterisk agi`` (the interpreter's own start, ~20 ms, is the only
window left); :func:`routecore_asterisk.blocking.install_sighup` takes the flag over, so a call
hung up before its engine existed still ends with its record.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["catch", "hung_up"]

hung_up = False
"""A SIGHUP came before the call's own handler was installed."""


def _on_sighup(signum: int, frame: FrameType | None) -> None:
    global hung_up
    hung_up = True


def catch() -> None:
    """Remember a SIGHUP instead of dying of it."""
    signal.signal(signal.SIGHUP, _on_sighup)
