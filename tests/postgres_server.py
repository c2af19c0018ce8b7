"""A PostgreSQL server of the tests: Debian's postgresql 15 binaries, a cluster made by
``initdb`` in a temporary folder, a free loopback port, trust authentication, no fsync; a fresh
database per test; stopped and started again by the tests that need it.

As root the cluster belongs to the ``postgres`` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.redis_server import _free_port


def _bin_dir() -> str | None:
    """The folder of ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return os.path.dirname(found[0])
    exe = shutil.which("initdb")
    return os.path.dirname(exe) if exe else None


class PostgresServer:
    """A cluster in ``directory`` on ``127.0.0.1:port`` (see the module)."""

    def __init__(
        self,
        bindir: str,
        directory: Path,
        *,
        netns: str | None = None,
        listen: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.bindir = bindir
        self.dir = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.port = port or _free_port()
        self.netns = netns
        self.listen = listen
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            info = pwd.getpwnam(self.user)
            os.chown(directory, info.pw_uid, info.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        user = self.user
        if self.netns is not None:  # in a network namespace of the test, as postgres there
            drop = ["runuser", "-u", self.user, "--"] if self.user else []
            command, user = ["ip", "netns", "exec", self.netns, *drop, *command], None
        return subprocess.run(
            command, user=user, capture_output=True, check=check, timeout=60, cwd=self.dir
        )

    def url(self, database: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://routecore@{host}:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "routecore", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        if self.listen != "127.0.0.1":  # the test's own namespaces reach it: trusted
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")

    durable = False
    """Whether commits reach the disk (PostgreSQL's defaults, for benchmarks); the tests run
    without fsync."""

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={self.listen} -k {self.dir}"
        options += " -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name: str | None = None) -> str:
        """A new empty database's URL."""
        import psycopg

        name = name or f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def running(*, durable: bool = False) -> Iterator[PostgresServer]:
    """A started server in a temporary folder, stopped after; the test is skipped where
    PostgreSQL is not installed. ``durable``: with PostgreSQL's own fsync and commit settings."""
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (make install, or apt-get install postgresql)")
    with tempfile.TemporaryDirectory(prefix="routecore-pg-") as tmp:
        server = PostgresServer(bindir, Path(tmp))
        server.durable = durable
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
