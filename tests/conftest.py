"""Shared fixtures: every core test runs against both backends."""

from __future__ import annotations

from types import ModuleType

import pytest

import routecore.native
import routecore.py


@pytest.fixture(params=["native", "py"])
def backend(request: pytest.FixtureRequest) -> ModuleType:
    """The backend module under test: ``routecore.native`` or ``routecore.py``."""
    return routecore.native if request.param == "native" else routecore.py
