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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """The tests' PostgreSQL (``tests/postgres_server.py``), once per session."""
    from tests.postgres_server import running

    with running() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: Any) -> Iterator[str]:
    """A fresh database of the session's server (running again after the test whatever the
    test did to it); the pools of the test's connections closed after it."""
    from routecore.store.postgres import close_pools

    if not postgres_server.running():
        postgres_server.start()
    url = postgres_server.create_database()
    yield url
    close_pools(url)
    if not postgres_server.running():
        postgres_server.start()


@pytest.fixture(params=["sqlite", "postgresql"])
def located(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """Where a test's stores live, on both engines: ``located("calls.db")`` is a file of the
    test's folder (SQLite) or one fresh database of the tests' PostgreSQL for the whole test
    (every name the same database, as a cluster shares one)."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / name)
    url = request.getfixturevalue("pg_url")
    return lambda name: url
