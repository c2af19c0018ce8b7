"""The pure-Python reference of routecore's core: the same API and results as the compiled
core, written plainly. The differential tests compare the two; every benchmark uses it as
its baseline. Select it with ``ROUTECORE_BACKEND=py`` or ``routecore.get_backend("py")``.
"""

from __future__ import annotations

from routecore.py.group import Group
from routecore.py.rng import SplitMix64
from routecore.py.select import MODES, Attempt

NAME = "py"

__all__ = ["MODES", "NAME", "Attempt", "Group", "SplitMix64"]
