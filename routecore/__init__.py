"""routecore: the call-routing engine of a 400-number cloud call center.

The public API is re-exported here from the chosen backend: the compiled core
(``routecore.native``, the default) or the pure-Python reference (``routecore.py``), chosen by
the environment variable ``ROUTECORE_BACKEND`` (``native`` or ``py``) at import time, or per
call site with :func:`get_backend`.
"""

from __future__ import annotations

from routecore._backend import BACKENDS, get_backend
from routecore.errors import (
    LayoutError,
    RoutecoreError,
    SegmentDataError,
    SelectionError,
    TimePlanError,
    TrieError,
)

_backend = get_backend()

BACKEND: str = _backend.NAME
SplitMix64 = _backend.SplitMix64
Group = _backend.Group
Attempt = _backend.Attempt
MODES: tuple[str, ...] = _backend.MODES

__all__ = [
    "BACKEND",
    "BACKENDS",
    "MODES",
    "Attempt",
    "Group",
    "LayoutError",
    "RoutecoreError",
    "SegmentDataError",
    "SelectionError",
    "SplitMix64",
    "TimePlanError",
    "TrieError",
    "get_backend",
]
