"""A ``redis-server`` of the tests: no persistence, a free loopback port and a Unix socket in a
temporary directory; paused, resumed, stopped and started again by the tests that need it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` of the tests: no persistence, loopback and a Unix socket."""

    def __init__(self, exe: str, directory: Path) -> None:
        self.exe = exe
        self.dir = directory
        self.port = _free_port()
        self.socket = directory / "redis.sock"
        self.log = directory / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.exe, "--save", "", "--appendonly", "no", "--port", str(self.port),
            "--bind", "127.0.0.1", "--dir", str(self.dir), "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--enable-protected-configs", "yes",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:]}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server never answered: {self.log.read_text()}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test left it paused
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


def key_prefix() -> str:
    """A key prefix of one test's own (``t`` and 12 hex digits, then ``:``)."""
    return f"t{uuid.uuid4().hex[:12]}:"


@contextmanager
def running() -> Iterator[RedisServer]:
    """A started server in a temporary folder, stopped after; the test is skipped where
    ``redis-server`` is not installed."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (make install, or apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="routecore-redis-") as tmp:
        server = RedisServer(exe, Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()
