"""Choosing the backend: the compiled core (``native``) or the pure-Python reference (``py``)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from routecore.errors import RoutecoreError

BACKENDS = ("native", "py")


def get_backend(name: str | None = None) -> ModuleType:
    """The backend module ``routecore.native`` or ``routecore.py``.

    ``name`` defaults to the environment variable ``ROUTECORE_BACKEND``, then ``native``.
    """
    chosen = name if name is not None else os.environ.get("ROUTECORE_BACKEND", "native")
    if chosen not in BACKENDS:
        raise RoutecoreError(f"unknown backend {chosen!r}: choose one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"routecore.{chosen}")
