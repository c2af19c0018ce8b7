"""Fixtures of the FreeSWITCH adapter tests: the import path, the real ESL transcript, the fake
FreeSWITCH's templates and hosts running the adapter over the published examples."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_DISTRIBUTION = Path(__file__).resolve().parent.parent  # adapters/freeswitch
if importlib.util.find_spec("routecore_freeswitch") is None:
    sys.path.insert(0, str(_DISTRIBUTION))

_TRANSCRIPT_NAME = "freeswitch-1.10-esl-outbound.log"
_CANDIDATES = [
    Path(os.environ.get("ROUTECORE_PROTOCOL_DIR", "/nonexistent")) / _TRANSCRIPT_NAME,
    _DISTRIBUTION.parent / "transcripts" / _TRANSCRIPT_NAME,  # the copy kept in the repository
]

DIAL = "loopback/{number}/destinations"
"""The hosts' dial template (the default of ``routecore-freeswitch serve``)."""

Transcript = list[tuple[str, bytes]]


def load_transcript() -> Transcript | None:
    """The transcript as ``(direction, bytes)`` pairs (``<<``: FreeSWITCH → server), or None."""
    for path in _CANDIDATES:
        if path.is_file():
            entries: Transcript = []
            for line in path.read_text(encoding="ascii").splitlines():
                if line.strip():
                    _time, _conn, direction, data = line.split(" ", 3)
                    entries.append((direction, ast.literal_eval(data)))
            return entries
    return None


@pytest.fixture(scope="session")
def transcript() -> Transcript:
    """The real FreeSWITCH 1.10 outbound-socket transcript (skips when it is not available)."""
    entries = load_transcript()
    if entries is None:
        pytest.skip(f"{_TRANSCRIPT_NAME} not found (set ROUTECORE_PROTOCOL_DIR)")
    return entries


@pytest.fixture(scope="session")
def fs_chunks(transcript: Transcript) -> list[bytes]:
    """The bytes FreeSWITCH sent, chunk by chunk, in order."""
    return [data for direction, data in transcript if direction == "<<"]


@pytest.fixture(scope="session")
def templates(transcript: Transcript) -> Any:
    """The fake FreeSWITCH's frames, from the transcript."""
    from fakefs import Templates

    return Templates.load(transcript)


def _shared() -> ModuleType:
    """``adapters/conftest.py`` (both adapters' fixtures) as a module, for ``host_config``."""
    name = "routecore_adapters_shared_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _DISTRIBUTION.parent / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


@pytest.fixture
def make_host(tmp_path: Path, published: Path) -> Iterator[Callable[..., Any]]:
    """Makes a Runtime over the published examples (dial ``loopback/{number}/destinations``,
    drain 2 s, reply timeout 2 s unless given), each in a folder of its own."""
    from routecore.adapter.runtime import Runtime

    made: list[Any] = []

    def make(**options: Any) -> Any:
        folder = tmp_path / f"host{len(made)}"
        folder.mkdir()
        options.setdefault("drain", 2.0)
        options.setdefault("reply_timeout", 2.0)
        runtime = Runtime(_shared().host_config(folder, published, DIAL, **options))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
        runtime.state.close()


@pytest.fixture
def fs_host(make_host: Callable[..., Any]) -> Any:
    """A Runtime over the published examples (see ``make_host``)."""
    return make_host()
