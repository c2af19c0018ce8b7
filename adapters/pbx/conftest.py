"""Fixtures of the real-PBX tests (``pbxharness`` has the rest): a routecore site, an Asterisk
and a FreeSWITCH each in a sandbox of the session; skipped unless ``make test-pbx``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pbxharness import (
    Pbx,
    Site,
    make_site,
    need_asterisk,
    need_freeswitch,
    start_pbx,
    stop_pbx,
    why_not,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = why_not()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    need_asterisk()
    pbx = start_pbx("asterisk", tmp_path_factory.mktemp("pbx"))
    try:
        yield pbx
    finally:
        stop_pbx(pbx)


@pytest.fixture(scope="module")
def freeswitch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    need_freeswitch()
    pbx = start_pbx("freeswitch", tmp_path_factory.mktemp("pbx"))
    try:
        yield pbx
    finally:
        stop_pbx(pbx)
