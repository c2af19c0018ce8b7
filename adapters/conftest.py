"""Fixtures both adapters' tests share: a host with the examples published (the routing image,
a shared state, a call store, prompt and recording folders) and the real protocol transcripts."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from routecore.adapter.config import AdapterConfig
from routecore.adapter.dialstrings import DialTemplates
from routecore.adapter.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PROMPTS = ("welcome", "main_menu", "sales_menu", "sys_transfer", "sys_survey", "sys_voicemail")


TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
"""The real protocol bytes captured from Asterisk 22 and FreeSWITCH 1.10 (a copy of the
platform's ``shared/protocol``, kept here so a clean clone tests against them)."""


def protocol_dir() -> Path:
    return TRANSCRIPTS


def transcript(name: str) -> list[tuple[str, str, bytes]]:
    """``(connection, direction, bytes)`` of every byte line of a transcript."""
    rows = []
    for line in (protocol_dir() / name).read_text().splitlines():
        _time, conn, direction, rest = line.split(" ", 3)
        if direction in ("<<", ">>"):
            rows.append((conn, direction, ast.literal_eval(rest)))
    return rows


def publish_examples(folder: Path) -> Path:
    """The image of every example flow, written to ``folder/routes.img``."""
    from routecore.flow.compile import compile_texts
    from routecore.store.publish import publish_image

    texts = {p.stem: p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))}
    image = folder / "routes.img"
    publish_image(image, compile_texts(texts))
    return image


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_examples(tmp_path_factory.mktemp("image"))


def host_config(folder: Path, image: Path, dial: str, **kw: object) -> AdapterConfig:
    prompts = folder / "prompts"
    (prompts / "4006001003").mkdir(parents=True, exist_ok=True)
    for name in PROMPTS:
        (prompts / f"{name}.wav").write_bytes(b"RIFF")
    (prompts / "4006001003" / "welcome.wav").write_bytes(b"RIFF")
    return AdapterConfig(
        dial=DialTemplates({"default": dial}),
        image=str(image),
        state=str(folder / "state"),
        calls=str(folder / "calls.db"),
        prompts=str(prompts),
        recordings=str(folder / "recordings"),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def agi_transcript() -> list[tuple[str, str, bytes]]:
    """The Asterisk 22 FastAGI transcript: ``(connection, direction, bytes)`` per line."""
    return transcript("asterisk-22-fastagi.log")


@pytest.fixture
def host(tmp_path: Path, published: Path) -> Iterator[Runtime]:
    """A Runtime over the published examples (dial `Local/{number}@destinations`)."""
    runtime = Runtime(host_config(tmp_path, published, "Local/{number}@destinations"))
    yield runtime
    runtime.close()
    runtime.state.close()
    os.environ.pop("ROUTECORE_TEST", None)
