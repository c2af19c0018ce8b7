"""Shared fixtures: every core test runs against both backends."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

# The built segment table is cached per test run, not in the user's ~/.cache.
os.environ.setdefault("ROUTECORE_CACHE_DIR", tempfile.mkdtemp(prefix="routecore-cache-"))

import routecore.backend.native
import routecore.py


@pytest.fixture(params=["native", "py"])
def backend(request: pytest.FixtureRequest) -> ModuleType:
    """The backend module under test: ``routecore.backend.native`` or ``routecore.py``."""
    return routecore.backend.native if request.param == "native" else routecore.py


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """The tests' ``redis-server`` (``tests/redis_server.py``), once per session."""
    from tests.redis_server import running

    with running() as server:
        yield server


@pytest.fixture
def server(redis_server: Any) -> Iterator[Any]:
    """The session's server, running again after the test whatever the test did to it."""
    yield redis_server
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    else:
        redis_server.resume()
