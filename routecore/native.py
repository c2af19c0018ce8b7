"""The native backend: the compiled core ``routecore._native`` under the public API.

The names here are the same as in :mod:`routecore.py`, the pure-Python reference.
"""

from __future__ import annotations

from routecore._native import SplitMix64, TimePlan

NAME = "native"

__all__ = ["NAME", "SplitMix64", "TimePlan"]
