"""The native backend: the compiled core ``routecore._native`` under the public API.

The names here are the same as in :mod:`routecore.py`, the pure-Python reference.
"""

from __future__ import annotations

from routecore._native import MODES, Attempt, Group, SplitMix64

NAME = "native"

__all__ = ["MODES", "NAME", "Attempt", "Group", "SplitMix64"]
