"""The AGI codec's two transports (routecore_asterisk.aio and .blocking) over real sockets and
pipes, spoken with the bytes a real Asterisk 22 sent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from agibytes import (
    EXPECTED,
    _env_bytes,
    _incoming,
    _ok,
    _parse,
    _transcript,
)

from routecore.adapter.errors import ChannelGone, ProtocolError
from routecore_asterisk import aio, blocking, codec

# ---------------------------------------------------------------- the asyncio transport

ServerSide = Callable[[aio.AgiStream], Awaitable[None]]
AsteriskSide = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _fastagi(server_side: ServerSide, asterisk: AsteriskSide) -> None:
    """Run ``server_side`` on an AgiStream of a real FastAGI server (127.0.0.1, port 0) while
    ``asterisk`` plays the PBX connecting to it; both must end within 5 s."""

    async def main() -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stream = aio.AgiStream(reader, writer)
            try:
                await server_side(stream)
            except Exception as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)
            finally:
                await stream.close()
                await stream.close()  # twice: never raises

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                await asyncio.wait_for(asyncio.gather(asterisk(reader, writer), done), 5)
            finally:
                writer.close()

    asyncio.run(main())


async def _closed_by_server(reader: asyncio.StreamReader) -> None:
    """Asterisk never closes after HANGUP: the server must (FIN, or RST if bytes were unread)."""
    with contextlib.suppress(ConnectionResetError):
        assert await reader.read() == b""


@pytest.mark.parametrize("conn", sorted(EXPECTED))
def test_aio_replays_the_transcript(conn: str) -> None:
    sent = [data for direction, data in _transcript()[conn] if direction == ">>"]
    got: list[object] = []

    async def server_side(stream: aio.AgiStream) -> None:
        got.append(await stream.read_environment(2))
        got.extend([await stream.send(cmd, 2) for cmd in sent])

    async def asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for direction, data in _transcript()[conn]:
            if direction == ">>":
                assert await reader.readexactly(len(data)) == data
            else:
                with contextlib.suppress(ConnectionError):
                    writer.write(data)
                    await writer.drain()
        await _closed_by_server(reader)

    _fastagi(server_side, asterisk)
    env, _ = _parse(_incoming(conn))
    assert got == [env, *EXPECTED[conn][:-1]]


def test_aio_inline_hangup_then_511_then_close() -> None:
    dial = codec.exec_("Dial", "Local/13800138001@destinations,20")

    async def server_side(stream: aio.AgiStream) -> None:
        env = await stream.read_environment(2)
        assert env.channel == "PJSIP/caller-00000000" and not stream.hung_up
        assert await stream.send(dial, 2) == _ok("200 result=-1", -1)
        assert stream.hung_up
        with pytest.raises(ChannelGone, match="hung up"):
            await stream.send(codec.get_variable("DIALSTATUS"), 2)  # not sent
        with pytest.raises(ChannelGone, match="511"):
            await stream.send(codec.get_variable("ANSWEREDTIME"), 2, after_hangup=True)

    async def asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_env_bytes())
        assert await reader.readline() == dial
        writer.write(b"HANGUP\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"200 result=-1\n")
        assert await reader.readline() == b"GET VARIABLE ANSWEREDTIME\n"
        writer.write(b"511 Command Not Permitted on a dead channel or intercept routine\n")
        await _closed_by_server(reader)

    _fastagi(server_side, asterisk)


def test_aio_timeout_and_eof() -> None:
    async def silent_server(stream: aio.AgiStream) -> None:
        await stream.read_environment(2)
        with pytest.raises(ProtocolError, match="within 0.2"):
            await stream.send(codec.answer(), 0.2)
        with pytest.raises(ProtocolError, match="no reply yet"):
            await stream.send(codec.answer(), 0.2)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_env_bytes())
        assert await reader.readline() == b"ANSWER\n"
        await _closed_by_server(reader)

    _fastagi(silent_server, silent)

    async def closing_server(stream: aio.AgiStream) -> None:
        await stream.read_environment(2)
        with pytest.raises(ChannelGone, match="closed"):
            await stream.send(codec.answer(), 2)
        with pytest.raises(ChannelGone, match="closed"):
            await stream.send(codec.answer(), 2)

    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_env_bytes())
        await reader.readline()
        writer.close()

    _fastagi(closing_server, closing)

    async def early_server(stream: aio.AgiStream) -> None:
        with pytest.raises(ChannelGone, match="before its environment"):
            await stream.read_environment(2)

    async def early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    _fastagi(early_server, early)

    async def slow_server(stream: aio.AgiStream) -> None:
        with pytest.raises(ProtocolError, match="no AGI environment within"):
            await stream.read_environment(0.2)

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_env_bytes()[:-1])  # no closing empty line
        await _closed_by_server(reader)

    _fastagi(slow_server, slow)


# ---------------------------------------------------------------- the blocking transport


class _Pipes:
    """Two pipes between this test (Asterisk) and a blocking AgiStream (the AGI script)."""

    def __init__(self) -> None:
        self.script_in, self.asterisk_out = os.pipe()
        self.asterisk_in, self.script_out = os.pipe()
        self.stream = blocking.AgiStream(self.script_in, self.script_out)
        self.errors: list[BaseException] = []

    def write(self, data: bytes) -> None:
        os.write(self.asterisk_out, data)

    def read(self, size: int, timeout: float = 2) -> bytes:
        data = b""
        while len(data) < size and select.select([self.asterisk_in], [], [], timeout)[0]:
            data += os.read(self.asterisk_in, size - len(data))
        return data

    def nothing_sent(self) -> bool:
        return not select.select([self.asterisk_in], [], [], 0)[0]

    def play(self, asterisk: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                asterisk()
            except BaseException as exc:
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def close(self, thread: threading.Thread | None = None) -> None:
        if thread is not None:
            thread.join(5)
            assert not thread.is_alive()
        for fd in (self.script_in, self.asterisk_out, self.asterisk_in, self.script_out):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.errors:
            raise self.errors[0]


def _process_env() -> bytes:
    """The transcript's environment as a process-per-call AGI gets it."""
    lines = _env_bytes().splitlines(keepends=True)[2:]
    return b"".join(lines).replace(b"agi://127.0.0.1:4573/route", b"route.py")


@contextlib.contextmanager
def _sighup(stream: blocking.AgiStream) -> Iterator[None]:
    previous = blocking.install_sighup(stream)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def _kill_later(delay: float) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGHUP))
    timer.start()
    return timer


def test_blocking_replays_the_transcript() -> None:
    pipes = _Pipes()
    conversation = _transcript()["c10"][len(_process_env().splitlines()) + 2 :]

    def asterisk() -> None:
        pipes.write(_process_env())
        for direction, data in conversation:
            if direction == ">>":
                assert pipes.read(len(data)) == data
            else:
                pipes.write(data)

    thread = pipes.play(asterisk)
    env = pipes.stream.read_environment(2)
    assert not env.network and env.script == "route.py" and env.channel == "PJSIP/caller-00000000"
    sent = [data for direction, data in conversation if direction == ">>"]
    assert [pipes.stream.send(cmd, 2) for cmd in sent] == EXPECTED["c10"][:-1]
    pipes.close(thread)


def test_blocking_sighup_interrupts_the_wait() -> None:
    pipes = _Pipes()
    dial = codec.exec_("Dial", "Local/13800138001@destinations,20")
    pipes.write(_process_env())
    assert pipes.stream.read_environment(2).script == "route.py"
    with _sighup(pipes.stream):
        timer = _kill_later(0.2)
        started = time.monotonic()
        with pytest.raises(ChannelGone, match="SIGHUP"):
            pipes.stream.send(dial, 5)
        assert time.monotonic() - started < 2 and pipes.stream.hung_up
        timer.join()
        assert pipes.read(len(dial)) == dial
        with pytest.raises(ChannelGone, match="hung up"):
            pipes.stream.send(codec.get_variable("DIALSTATUS"), 2)
        assert pipes.nothing_sent()

        def asterisk() -> None:  # the Dial's reply comes late: it is dropped
            pipes.write(b"200 result=-1\n")
            assert pipes.read(len(b"GET VARIABLE DIALSTATUS\n")) == b"GET VARIABLE DIALSTATUS\n"
            pipes.write(b"200 result=1 (CANCEL)\n")

        thread = pipes.play(asterisk)
        status = pipes.stream.send(codec.get_variable("DIALSTATUS"), 2, after_hangup=True)
        assert status.data == "CANCEL"
    pipes.close(thread)


def test_blocking_sighup_keeps_a_reply_already_sent() -> None:
    pipes = _Pipes()
    pipes.write(_process_env())
    pipes.stream.read_environment(2)

    def asterisk() -> None:  # Asterisk answers its HANGUP, then signals the script
        assert pipes.read(len(b"HANGUP\n")) == b"HANGUP\n"
        pipes.write(b"200 result=1\n")
        os.kill(os.getpid(), signal.SIGHUP)

    with _sighup(pipes.stream):
        thread = pipes.play(asterisk)
        assert pipes.stream.send(codec.hangup(), 2) == _ok("200 result=1", 1)
        thread.join(5)
        time.sleep(0.05)
        assert pipes.stream.hung_up
        with pytest.raises(ChannelGone):
            pipes.stream.send(codec.answer(), 2)
        assert pipes.nothing_sent()
    pipes.close(thread)


def test_blocking_sighup_between_commands_only_marks() -> None:
    pipes = _Pipes()
    pipes.write(_process_env())
    with _sighup(pipes.stream):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)
        assert pipes.stream.hung_up
        # what Asterisk wrote before the hang-up is still read: the call gets its record
        assert pipes.stream.read_environment(2) is not None
        with pytest.raises(ChannelGone, match="hung up"):
            pipes.stream.send(codec.answer(), 2)
        assert pipes.nothing_sent()
    pipes.close()


def test_blocking_sighup_before_any_environment_ends_the_wait() -> None:
    pipes = _Pipes()
    with _sighup(pipes.stream):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)
        with pytest.raises(ChannelGone, match="SIGHUP"):
            pipes.stream.read_environment(2)
    pipes.close()


def test_blocking_inline_hangup_already_read_is_seen_before_sending() -> None:
    pipes = _Pipes()
    pipes.write(_env_bytes() + b"HANGUP\n")
    assert pipes.stream.read_environment(2).network
    time.sleep(0.01)
    with pytest.raises(ChannelGone, match="hung up"):
        pipes.stream.send(codec.answer(), 2)
    assert pipes.nothing_sent()
    pipes.close()


def test_blocking_timeout_eof_and_broken_pipe() -> None:
    pipes = _Pipes()
    with pytest.raises(ProtocolError, match="within the timeout"):
        pipes.stream.read_environment(0.1)
    pipes.write(_process_env())
    pipes.stream.read_environment(2)
    with pytest.raises(ProtocolError, match="within the timeout"):
        pipes.stream.send(codec.answer(), 0.1)
    with pytest.raises(ProtocolError, match="no reply yet"):
        pipes.stream.send(codec.answer(), 0.1)
    pipes.close()

    pipes = _Pipes()
    pipes.write(_process_env())
    os.close(pipes.asterisk_out)
    pipes.stream.read_environment(2)
    with pytest.raises(ChannelGone, match="closed"):
        pipes.stream.send(codec.answer(), 2)
    pipes.close()

    pipes = _Pipes()
    os.close(pipes.asterisk_out)
    with pytest.raises(ChannelGone, match="before its environment"):
        pipes.stream.read_environment(2)
    pipes.close()

    pipes = _Pipes()
    pipes.write(_process_env())
    pipes.stream.read_environment(2)
    os.close(pipes.asterisk_in)
    with pytest.raises(ChannelGone, match="output lost"):
        pipes.stream.send(codec.answer(), 2)
    with pytest.raises(ChannelGone):
        pipes.stream.send(codec.answer(), 2)
    pipes.close()


def test_codec_and_blocking_do_not_import_asyncio() -> None:
    import routecore

    paths = [str(Path(codec.__file__).parents[1]), str(Path(routecore.__file__).parents[1])]
    code = (
        f"import sys; sys.path[:0] = {paths!r}; "
        "import routecore_asterisk.codec, routecore_asterisk.blocking; "
        "print('asyncio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
