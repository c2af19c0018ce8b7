"""A fake FreeSWITCH inbound event socket for the inbound client's tests: the bytes a real
FreeSWITCH 1.10.12 sent (``adapters/transcripts/freeswitch-1.10-esl-inbound.log``), helpers to
pick and build frames, and a loopback peer that plays a script of them."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from routecore_freeswitch.inbound import (
    InboundEsl,
    connect_inbound,
)

TRANSCRIPT = Path(__file__).resolve().parents[2] / "transcripts" / "freeswitch-1.10-esl-inbound.log"
LIMIT = 5.0  # no wait in these tests is longer: nothing can hang


def _load() -> dict[str, list[tuple[str, bytes]]]:
    conversations: dict[str, list[tuple[str, bytes]]] = {}
    for line in TRANSCRIPT.read_text(encoding="ascii").splitlines():
        _time, conn, direction, rest = line.split(" ", 3)
        if direction in ("<<", ">>"):
            conversations.setdefault(conn, []).append((direction, ast.literal_eval(rest)))
    return conversations


CONVERSATIONS = _load()


def turns(conn: str) -> list[tuple[bytes, list[bytes]]]:
    """``(command sent, the chunks FreeSWITCH sent after it until the next command)``; the
    first turn's command is ``b""`` (the ``auth/request`` comes unasked)."""
    out: list[tuple[bytes, list[bytes]]] = [(b"", [])]
    for direction, data in CONVERSATIONS[conn]:
        if direction == ">>":
            out.append((data, []))
        else:
            out[-1][1].append(data)
    return out


def sent(conn: str) -> list[bytes]:
    """Every command sent to the real FreeSWITCH on ``conn``, in order."""
    return [data for direction, data in CONVERSATIONS[conn] if direction == ">>"]


def answer(conn: str, index: int) -> bytes:
    """All FreeSWITCH sent after the ``index``-th command of ``conn``."""
    return b"".join(turns(conn)[index + 1][1])


def frames(data: bytes) -> list[bytes]:
    """``data`` cut into whole frames (a plain reading, independent of the code under test)."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\n\n", pos) + 2
        length = re.search(rb"Content-Length: (\d+)\n", data[pos:end])
        size = int(length[1]) if length else 0
        out.append(data[pos : end + size])
        pos = end + size
    return out


def hangup_uuids(data: bytes) -> list[str]:
    """The Unique-ID of every CHANNEL_HANGUP_COMPLETE in ``data``, in order."""
    return [
        re.search(rb"\nUnique-ID: ([^\n]*)\n", frame)[1].decode()  # type: ignore[index]
        for frame in frames(data)
        if b"\n\nEvent-Name: CHANNEL_HANGUP_COMPLETE\n" in frame
    ]


def api_response(body: bytes) -> bytes:
    """An ``api/response`` frame as FreeSWITCH frames one (see the transcript)."""
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def event_frame(body: bytes) -> bytes:
    """A ``text/event-plain`` frame of ``body``, framed as FreeSWITCH frames events."""
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def all_bytes(conn: str) -> bytes:
    return b"".join(data for direction, data in CONVERSATIONS[conn] if direction == "<<")


C2 = sent("c2")
GREETING = answer("c2", -1)
AUTH_OK = answer("c2", 0)
AUTH_REFUSED = answer("c1", 0)
EVENTS_OK = answer("c2", 1)
CHANNELS_NONE = answer("c2", 2)
CHANNELS_TWO = answer("c2", 5)
EXIT = answer("c2", len(C2) - 1)
HANGUP_FRAMES = [f for f in frames(all_bytes("c2")) if b"CHANNEL_HANGUP_COMPLETE" in f]
TWO_ROWS = json.loads(frames(CHANNELS_TWO)[0].partition(b"\n\n")[2])["rows"]


# ---------------------------------------------------------------- the fake FreeSWITCH


class Peer:
    """The fake FreeSWITCH's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self) -> bytes | None:
        """The next command the client sent, or None once it closed."""
        try:
            data = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), LIMIT)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.received.append(data)
        return data

    async def answer(self, data: bytes) -> bytes | None:
        """Read the next command and send ``data``."""
        got = await self.command()
        if got is not None:
            await self.send(data)
        return got

    async def login(self) -> None:
        """The real greeting and answers to ``auth`` and ``event plain``."""
        await self.send(GREETING)
        await self.answer(AUTH_OK)
        await self.answer(EVENTS_OK)

    async def finish(self) -> None:
        """Answer the client's ``exit`` (if it sends one) as the real FreeSWITCH did."""
        await self.answer(EXIT)

    async def silent(self) -> None:
        """Read and never answer, until the client closes."""
        while await self.command() is not None:
            pass


Script = Callable[[Peer], Awaitable[Any]]


def run(script: Script, client: Callable[[int], Awaitable[Any]]) -> tuple[Any, Any]:
    """Serve one connection with ``script`` on 127.0.0.1 while ``client(port)`` runs; return
    both results. An exception of the script is raised here."""

    async def main() -> tuple[Any, Any]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = Peer(reader, writer)
            try:
                result: Any = await script(peer)
            except Exception as exc:
                result = exc
            finally:
                writer.close()
            if not done.done():
                done.set_result(result)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            outcome = await asyncio.wait_for(client(port), LIMIT)
            pbx = await asyncio.wait_for(done, LIMIT)
        finally:
            server.close()
            await server.wait_closed()
        if isinstance(pbx, Exception):
            raise pbx
        return outcome, pbx

    return asyncio.run(main())


def replay(conn: str) -> Script:
    """A fake FreeSWITCH playing captured connection ``conn``: each command the client sends
    must be the next captured one, byte for byte; the chunks FreeSWITCH sent after it follow,
    as they arrived. Chunks that came after the reply (events) are held until the client's
    next command, as they were sent before its answer: so a test sees them in a fixed order.
    Returns the commands received."""

    async def script(peer: Peer) -> list[bytes]:
        steps = turns(conn)
        for chunk in steps[0][1]:  # the auth/request
            await peer.send(chunk)
        held: list[bytes] = []
        for expected, chunks in steps[1:]:
            got = await peer.command()
            if got is None:
                break
            assert got == expected
            for chunk in held:
                await peer.send(chunk)
            held = []
            replied = False
            for chunk in chunks:
                if replied:
                    held.append(chunk)
                    continue
                await peer.send(chunk)
                replied = b"Content-Type: api/response" in chunk or b"/reply\n" in chunk
        for chunk in held:
            await peer.send(chunk)
        return peer.received

    return script


async def connect(port: int, **kw: Any) -> InboundEsl:
    return await connect_inbound("127.0.0.1", port, "ClueCon", **kw)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
