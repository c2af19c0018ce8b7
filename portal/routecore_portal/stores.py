"""routecore's stores as the portal uses them: opened per request from the settings' paths,
only through routecore's APIs, no SQL against routecore's tables, no second copy (B15)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from routecore.billing.accounts import AccountStore
from routecore.errors import StoreError
from routecore.store import CallStore, FlowStore
from routecore.store.db import is_postgres


def paths() -> dict[str, str]:
    return dict(settings.ROUTECORE)


def _validate(content: str, source: str) -> Any:
    from routecore.flow import loads_flow

    flow, _warnings = loads_flow(
        content, source=source, json_format=content.lstrip().startswith("{")
    )
    return flow


def exists(location: str) -> bool:
    """Whether a store is there: a file that exists, or a PostgreSQL database (made by the
    store when it opens: it is always there)."""
    return is_postgres(location) or os.path.exists(location)


def _needs(path: str, what: str) -> None:
    if not exists(path):
        raise StoreError(f"the {what} {path} does not exist yet")


@contextmanager
def flows() -> Iterator[FlowStore]:
    from routecore.flow.compile import COMPILER, compile_text, image_of
    from routecore.store.flows import Sections

    sections = Sections(COMPILER, compile_text, image_of)
    shards = int(paths().get("shards") or 0)
    store = FlowStore(paths()["store"], validate=_validate, sections=sections, shards=shards)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def calls() -> Iterator[CallStore]:
    path = paths()["calls"]
    _needs(path, "call store")
    store = CallStore(path)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def accounts() -> Iterator[AccountStore]:
    store = AccountStore(paths()["store"])
    try:
        yield store
    finally:
        store.close()


def live_flow(did: str) -> dict[str, Any]:
    """The live flow of ``did`` as data (its YAML read; none live, or unreadable: ``{}``)."""
    import yaml

    with flows() as store:
        live = store.live().get(did)
        content = store.get(did, live).content if live else ""
    try:
        data = yaml.safe_load(content) if content else {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def compile_flows(contents: dict[str, str]) -> bytes:
    from routecore.flow.compile import compile_texts

    return compile_texts(contents)


def after_publish(numbers: list[str] | None = None) -> None:
    """Give the host's shared state the published capacities and bump its generation, so every
    routing process maps the new image at its next call (as ``routecore publish`` does; an
    image in shards: the flows of ``numbers`` read)."""
    from routecore.backend import get_backend
    from routecore.engine.dialer import write_capacities
    from routecore.state import is_url, open_state, resolve
    from routecore.state.image_set import ImageSet, open_image

    where = paths()["state"] or resolve()  # $ROUTECORE_STATE, else the default file
    if not (paths()["state"] or is_url(where) or os.path.exists(where)):
        return
    state = open_state(where) if is_url(where) else get_backend().State.open(where)
    with state:
        image = open_image(paths()["image"], get_backend().Image)
        if isinstance(image, ImageSet):  # the published numbers' flows, the store's largest
            with flows() as store:
                write_capacities(state, image, numbers, store.capacities)
        else:
            write_capacities(state, image)
        state.bump_generation()


def open_state_or_none() -> Any:
    """The host's shared state (``ROUTECORE_STATE``: a file or a Redis URL), None when none is
    configured or the file is not there."""
    from routecore.backend import get_backend
    from routecore.state import is_url, open_state

    where = paths()["state"]
    if not where or not (is_url(where) or os.path.exists(where)):
        return None
    return open_state(where) if is_url(where) else get_backend().State.open(where)


def busy_now(numbers: list[str]) -> list[Any]:
    """The destinations of ``numbers`` busy now in the host's shared state ([] without one)."""
    state = open_state_or_none()
    if state is None:
        return []
    with state:
        found = [state.destination(n) for n in numbers]
    return [d for d in found if d is not None and d.busy]
