"""Shared fixtures: every core test runs against both backends."""

from __future__ import annotations

import os
import tempfile
from types import ModuleType

import pytest

# The built segment table is cached per test run, not in the user's ~/.cache.
os.environ.setdefault("ROUTECORE_CACHE_DIR", tempfile.mkdtemp(prefix="routecore-cache-"))

import routecore.backend.native
import routecore.py


@pytest.fixture(params=["native", "py"])
def backend(request: pytest.FixtureRequest) -> ModuleType:
    """The backend module under test: ``routecore.backend.native`` or ``routecore.py``."""
    return routecore.backend.native if request.param == "native" else routecore.py
