"""A fake Asterisk Manager interface for the AMI client's tests: the bytes a real Asterisk 22.10.1
sent (``adapters/transcripts/asterisk-22-ami.log``), helpers to pick and rearrange them, and a
loopback peer that plays a script of them."""

from __future__ import annotations

import ast
import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from routecore_asterisk.ami import (
    AmiClient,
    connect_ami,
)

TRANSCRIPT = Path(__file__).resolve().parents[2] / "transcripts" / "asterisk-22-ami.log"
LIMIT = 5.0  # no wait in these tests is longer: nothing can hang


def _load() -> dict[str, list[tuple[str, bytes]]]:
    conversations: dict[str, list[tuple[str, bytes]]] = {}
    for line in TRANSCRIPT.read_text(encoding="ascii").splitlines():
        _time, conn, direction, rest = line.split(" ", 3)
        if direction in ("<<", ">>"):
            conversations.setdefault(conn, []).append((direction, ast.literal_eval(rest)))
    return conversations


CONVERSATIONS = _load()


def turns(conn: str) -> list[tuple[bytes, bytes]]:
    """``(action sent, all Asterisk sent after it until the next action)`` of one captured
    connection; the first turn's action is ``b""`` (Asterisk's banner comes unasked)."""
    out = [(b"", b"")]
    for direction, data in CONVERSATIONS[conn]:
        if direction == ">>":
            out.append((data, b""))
        else:
            out[-1] = (out[-1][0], out[-1][1] + data)
    return out


def sent(conn: str) -> list[bytes]:
    """Every action sent to the real Asterisk on ``conn``, in order."""
    return [data for direction, data in CONVERSATIONS[conn] if direction == ">>"]


def said(conn: str, action_id: str) -> bytes:
    """What the real Asterisk sent after the action ``action_id`` of ``conn``."""
    for action, answer in turns(conn):
        if f"ActionID: {action_id}\r\n".encode() in action:
            return answer
    raise KeyError(action_id)


def messages(data: bytes) -> list[bytes]:
    """``data`` cut into whole messages (each with its empty line)."""
    return [part + b"\r\n\r\n" for part in data.split(b"\r\n\r\n") if part]


def fields(raw: bytes) -> dict[str, str]:
    """The fields of one message (a plain reading, independent of the code under test)."""
    out: dict[str, str] = {}
    for line in raw.decode().split("\r\n"):
        if line:
            key, _, value = line.partition(": ")
            out.setdefault(key, value)
    return out


def retag(data: bytes, ids: dict[str, str]) -> bytes:
    """``data`` with each ``ActionID: old`` of ``ids`` replaced by the new one."""
    return re.sub(
        rb"ActionID: ([^\r]*)\r\n",
        lambda m: b"ActionID: " + ids.get(m[1].decode(), m[1].decode()).encode() + b"\r\n",
        data,
    )


def uniqueids(data: bytes, event: str) -> list[str]:
    """The Uniqueid of every ``event`` message in ``data``, in order."""
    return [
        fields(raw)["Uniqueid"]
        for raw in messages(data)
        if raw.startswith(f"Event: {event}\r\n".encode())
    ]


def asterisk_bytes(conn: str) -> bytes:
    return b"".join(data for direction, data in CONVERSATIONS[conn] if direction == "<<")


BANNER = turns("c3")[0][1]
LOGIN_OK = said("c3", "rc-1")
LOGIN_REFUSED = said("c1", "rc-1")
FILTER_OK = said("c5", "rc-2")
CHANNELS_NONE = said("c3", "rc-2")
CHANNELS_TWO = said("c3", "rc-5")
GOODBYE = said("c3", "rc-11")
HANGUP_EVENTS = [m for m in messages(asterisk_bytes("c3")) if m.startswith(b"Event: Hangup\r\n")]


# ---------------------------------------------------------------- the fake Asterisk


class Peer:
    """The fake Asterisk's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def action(self) -> dict[str, str] | None:
        """The next action the client sent (its fields), or None once it closed."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), LIMIT)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.received.append(raw)
        return fields(raw)

    async def answer(self, data: bytes, old_id: str) -> dict[str, str] | None:
        """Read the next action and send ``data`` with ``old_id`` retagged to its ActionID."""
        action = await self.action()
        if action is not None:
            await self.send(retag(data, {old_id: action["ActionID"]}))
        return action

    async def login(self) -> None:
        """The banner, then the real answers to Login and Filter."""
        await self.send(BANNER)
        await self.answer(LOGIN_OK, "rc-1")
        await self.answer(FILTER_OK, "rc-2")

    async def finish(self) -> None:
        """Answer the client's Logoff (if it sends one) with the real Goodbye."""
        await self.answer(GOODBYE, "rc-11")


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


def replay(conn: str, extras: dict[str, bytes] | None = None) -> Script:
    """A fake Asterisk playing captured connection ``conn``: for each action the client sends,
    the next captured action must be the same (ActionIDs aside); what the real Asterisk sent
    after it is sent back with the client's ActionIDs. An action named in ``extras`` that the
    capture lacks (the client's Filter) is answered with those bytes instead. The connection
    closes after the last captured answer, as the real one did. Returns the actions received."""

    async def script(peer: Peer) -> list[bytes]:
        steps = turns(conn)
        await peer.send(steps[0][1])
        ids: dict[str, str] = {}
        pending = steps[1:]
        while pending:
            action = await peer.action()
            if action is None:
                break
            expected, answer = pending[0]
            if extras and action["Action"] != fields(expected)["Action"]:
                extra = extras[action["Action"]]
                await peer.send(retag(extra, {fields(extra)["ActionID"]: action["ActionID"]}))
                continue
            pending.pop(0)
            ids[fields(expected)["ActionID"]] = action["ActionID"]
            assert retag(peer.received[-1], {action["ActionID"]: "*"}) == retag(
                expected, {fields(expected)["ActionID"]: "*"}
            )
            await peer.send(retag(answer, ids))
        return peer.received

    return script


async def connect(port: int, **kw: Any) -> AmiClient:
    return await connect_ami("127.0.0.1", port, "routecore", "routecore", **kw)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
