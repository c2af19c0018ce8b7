"""The bytes a real Asterisk 22 sent (adapters/transcripts/asterisk-22-fastagi.log), as the
AGI codec's tests read them: each connection's chunks, the environment, the parsed items."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

from routecore_asterisk.codec import (
    AgiEnvironment,
    AgiItem,
    AgiReader,
    HangupNotice,
    Reply,
)

Conversation = list[tuple[str, bytes]]  # ("<<" Asterisk → server | ">>" server → Asterisk, bytes)


def _shared_protocol() -> Path:
    """The captured bytes kept in the repository (``adapters/transcripts``, a copy of the
    platform's ``shared/protocol``: ``adapters/test_transcripts.py`` keeps them equal)."""
    return Path(__file__).resolve().parents[2] / "transcripts"


@functools.cache
def _transcript() -> dict[str, Conversation]:
    """Each connection's bytes in order: ``time conn direction repr`` lines, notes skipped."""
    conns: dict[str, Conversation] = {}
    text = (_shared_protocol() / "asterisk-22-fastagi.log").read_text()
    for line in text.splitlines():
        _, conn, direction, data = line.split(" ", 3)
        if direction in ("<<", ">>"):
            conns.setdefault(conn, []).append((direction, ast.literal_eval(data)))
    return conns


def _incoming(conn: str) -> list[bytes]:
    return [data for direction, data in _transcript()[conn] if direction == "<<"]


def _env_bytes(conn: str = "c10") -> bytes:
    chunks = _incoming(conn)
    return b"".join(chunks[: chunks.index(b"\n") + 1])


def _parse(chunks: Iterable[bytes]) -> tuple[AgiEnvironment | None, list[AgiItem]]:
    reader = AgiReader()
    items: list[AgiItem] = []
    for chunk in chunks:
        reader.feed(chunk)
        while (item := reader.next_item()) is not None:
            items.append(item)
    reader.eof()
    assert reader.finished
    return reader.environment, items


def _ok(text: str, result: int | None, data: str | None = None, endpos: int | None = None) -> Reply:
    return Reply(200, result, data, endpos, text)


EXPECTED = {
    "c10": [
        _ok("200 result=0", 0),
        _ok("200 result=1 (BUSY)", 1, "BUSY"),
        _ok("200 result=1 ()", 1, ""),
        _ok("200 result=1", 1),
        HangupNotice(),
    ],
    "c11": [
        _ok("200 result=-1", -1),
        _ok("200 result=1 (ANSWER)", 1, "ANSWER"),
        _ok("200 result=1 (13800138002@destinations)", 1, "13800138002@destinations"),
        _ok(
            "200 result=1 (Local/13800138002@destinations-00000002;1)",
            1,
            "Local/13800138002@destinations-00000002;1",
        ),
        _ok("200 result=1", 1),
        HangupNotice(),
    ],
}
