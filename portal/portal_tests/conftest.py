"""Fixtures of the portal's tests: routecore's real stores in a temporary folder, an operator,
and two enterprises with an admin each (A holds 4006001003, B holds 4006001001)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from portal_tests.common import A_DID, B_DID, PASSWORD, ROOT, client_for


@pytest.fixture
def stores(tmp_path: Path, settings: Any) -> dict[str, str]:
    paths = {
        "store": str(tmp_path / "routecore.db"),
        "calls": str(tmp_path / "calls.db"),
        "image": str(tmp_path / "routes.img"),
        "state": "",
        "recordings": str(tmp_path / "recordings"),
        "prompts": str(tmp_path / "prompts"),
        "uploads": str(tmp_path / "uploads"),
    }
    Path(paths["recordings"]).mkdir()
    Path(paths["prompts"]).mkdir()
    settings.ROUTECORE = paths
    return paths


@pytest.fixture
def people(db: Any, stores: dict[str, str]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from routecore_portal.models import ADMIN, OPERATOR, Enterprise, Member, Number

    users = get_user_model().objects
    op = users.create_user("op", password=PASSWORD)
    Member.objects.create(user=op, role=OPERATOR)
    out: dict[str, Any] = {"op": op}
    for key, name, did in (("a", "甲公司", A_DID), ("b", "乙公司", B_DID)):
        ent = Enterprise.objects.create(name=name)
        Number.objects.create(did=did, enterprise=ent)
        admin = users.create_user(f"admin-{key}", password=PASSWORD)
        Member.objects.create(user=admin, role=ADMIN, enterprise=ent, primary=True)
        out[key] = admin
        out[f"{key}_enterprise"] = ent
    return out


@pytest.fixture
def op_client(people: dict[str, Any]) -> Client:
    return client_for(people["op"])


@pytest.fixture
def a_client(people: dict[str, Any]) -> Client:
    return client_for(people["a"])


@pytest.fixture
def b_client(people: dict[str, Any]) -> Client:
    return client_for(people["b"])


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Any:
    """Debian's chromium driven by Playwright (its own browser downloads cannot reach the
    internet here), for one module's tests. Playwright's sync API runs an event loop in this
    thread while it lives, so it is stopped at the module's end (a session-wide one, as
    pytest-playwright keeps, would break every asyncio test after it), and Django is told the
    tests' own ORM calls meanwhile are plain synchronous ones."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no {CHROMIUM}: `make install` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def asgi(transactional_db: Any, stores: dict[str, str]) -> Any:
    """The portal served by uvicorn (ASGI, as `routecore-portal serve` does) in a thread."""
    import uvicorn

    from routecore_portal.asgi import application

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """A ``redis-server`` of the tests (skipped where it is not installed)."""
    if str(ROOT) not in sys.path:  # the suite's own helper, also when run alone
        sys.path.append(str(ROOT))
    from tests.redis_server import running

    with running() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """The tests' PostgreSQL (skipped where it is not installed)."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tests.postgres_server import running

    with running() as server:
        yield server


@pytest.fixture
def pg_stores(postgres_server: Any, stores: dict[str, str]) -> Iterator[dict[str, str]]:
    """The portal's flow store and call store in one fresh PostgreSQL database."""
    from routecore.store.postgres import close_pools

    url = postgres_server.create_database()
    stores["store"] = stores["calls"] = url
    yield stores
    close_pools(url)


@pytest.fixture
def redis_state(redis_server: Any, stores: dict[str, str]) -> str:
    """The portal's shared state on the tests' Redis, under a key prefix of its own."""
    url = f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}:"
    stores["state"] = url
    return url


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the browser journeys put their screenshots: ``$ROUTECORE_PORTAL_SCREENSHOTS``
    (docs/portal.md's pictures), else the test's own folder."""
    folder = Path(os.environ.get("ROUTECORE_PORTAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
