"""Make ``routecore_asterisk`` importable from a source checkout (before it is installed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("routecore_asterisk") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import pytest


@pytest.fixture(autouse=True)
def _talk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process adapters measure talk on the fake Asterisk's clock (``fakeast.CLOCK``)."""
    from fakeast import CLOCK

    from routecore_asterisk import dialplan

    CLOCK.shift = 0.0
    monkeypatch.setattr(dialplan, "clock", CLOCK)
