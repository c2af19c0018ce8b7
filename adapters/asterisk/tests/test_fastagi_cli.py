"""The ``routecore-asterisk`` command: clear refusals of a bad configuration (exit 2), and
``serve`` as a real process: it says where it listens, routes a call, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
from fakeast import FakeAsterisk, Ring, Scenario, check_call, environment, records, run

from routecore.adapter.runtime import Runtime
from routecore_asterisk.cli import main

SCRIPT = shutil.which("routecore-asterisk", path=str(Path(sys.executable).parent))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ROUTECORE_") and name != "ROUTECORE_CACHE_DIR":
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen", "0.0.0.0:0"], "needs --allow"),
        (["--listen", "[::]:4573"], "needs --allow"),
        (["--listen", "10.0.0.1:4573", "--allow", ""], "needs --allow"),
        (["--dial", "x={number}"], "unknown kind 'x'"),
        (["--dial", "mobile=PJSIP/{number}@trunk"], None),  # fine: stops at --listen below
        (["--dial", "Local/{number}@a&Local/666@evil"], "cannot go into a PBX command"),
        (["--dial", "Local/666@destinations"], "needs '{number}' once"),
        (["--listen", "localhost"], "expected host:port"),
        (["--listen", "127.0.0.1:70000"], "expected host:port"),
        (["--allow", "10.0.0.0/33"], "--allow"),
        (["--workers", "0"], "--workers"),
        (["--drain", "-1"], "--drain"),
        (["--metrics", "9464"], "--metrics"),
        (["--pbx", "ami://127.0.0.1"], "--pbx"),
        (["--metrics", "0.0.0.0:9464"], "--metrics 0.0.0.0: the endpoint has no authentication"),
        (["--metrics", "10.1.2.3:9464"], "needs --allow"),
        (["--pbx", "http://user:pw@127.0.0.1"], "--pbx"),
    ],
)
def test_a_bad_configuration_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None
) -> None:
    if message is None:
        argv = [*argv, "--listen", "0.0.0.0:1"]
        message = "needs --allow"
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("routecore-asterisk: ") and message in err, err
    assert "Traceback" not in err


def test_the_environment_is_read_and_checked_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTECORE_LISTEN", "0.0.0.0:4573")
    assert main(["serve"]) == 2
    assert "needs --allow" in capsys.readouterr().err


def test_an_unusable_call_store_is_one_line_and_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "calls.db"
    bad.write_text("not a database")
    assert main(["serve", "--calls", str(bad), "--listen", "127.0.0.1:0"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("routecore-asterisk: ") and "not a call store" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(SCRIPT is None, reason="routecore-asterisk is not installed")
def test_serve_listens_routes_a_call_and_stops_on_sigterm(host: Runtime) -> None:
    c = host.config
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ROUTECORE_")}
    environ.update(
        ROUTECORE_IMAGE=c.image,
        ROUTECORE_STATE=c.state,
        ROUTECORE_CALLS=str(c.calls),
        ROUTECORE_PROMPTS=c.prompts,
        ROUTECORE_RECORDINGS=c.recordings,
        ROUTECORE_DRAIN="5",
    )
    if "ROUTECORE_CACHE_DIR" in os.environ:
        environ["ROUTECORE_CACHE_DIR"] = os.environ["ROUTECORE_CACHE_DIR"]

    with socket.socket() as probe:  # a free port for the metrics endpoint
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]

    async def body() -> tuple[str, FakeAsterisk, int, float, str]:
        assert SCRIPT is not None
        proc = await asyncio.create_subprocess_exec(
            SCRIPT,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            f"127.0.0.1:{metrics_port}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environ,
        )
        assert proc.stdout is not None
        try:
            first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            match = re.match(r"routecore-asterisk: listening on 127\.0\.0\.1:(\d+) ", first)
            assert match is not None, first
            scenario = Scenario(digits=["1", "1"], rings=[Ring(talk=1, delay=1.1)])
            fake = FakeAsterisk(scenario, environment(uniqueid="served-1"))
            await fake.call(int(match.group(1)))
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            scraped = await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, timeout=5).read().decode()
            )
            t0 = asyncio.get_running_loop().time()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 10)
            return first, fake, code, asyncio.get_running_loop().time() - t0, scraped
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    first, fake, code, stopping, scraped = run(body())
    assert first.endswith("(1 worker(s))\n")
    # the Prometheus endpoint: the worker's own counts, and the shared state's
    assert 'routecore_calls_total{outcome="answered"} 1.0' in scraped
    assert "routecore_active_calls 0.0" in scraped
    assert "routecore_setup_seconds_count 1.0" in scraped
    assert "routecore_destinations_busy 0.0" in scraped
    # how full the state file's pools are: the phones' records lie in their slots
    assert "routecore_state_lease_records_used 0.0" in scraped
    assert "routecore_state_lease_records 4196.0" in scraped  # the default pool: 4,096 + 100
    assert "routecore_state_counter_blocks 2080.0" in scraped
    # no phone number in a label unless asked for (--metrics-destinations): totals only
    assert "routecore_destinations_answered_total 1.0" in scraped
    assert "destination=" not in scraped and "13800138" not in scraped
    check_call(fake)
    assert fake.commands()[-1] == "EXEC Hangup 16"
    assert code == 0 and stopping < 5
    (rec,) = records(host, "served-1")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 1


@pytest.mark.skipif(SCRIPT is None, reason="routecore-asterisk is not installed")
def test_workers_die_with_their_killed_parent_and_the_port_is_free(host: Runtime) -> None:
    """kill -9 of the parent of --workers 2: its workers stop listening and exit, and a
    restarted server binds the same port at once."""
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    c = host.config
    argv = [str(SCRIPT), "serve", "--workers", "2", "--listen", f"127.0.0.1:{port}",
            "--image", c.image, "--state", c.state, "--calls", str(c.calls)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTECORE_")}
    parent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert parent.stdout is not None
    assert b"listening on" in parent.stdout.readline()
    deadline = time.monotonic() + 10
    children: list[int] = []
    while len(children) < 2 and time.monotonic() < deadline:
        path = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
        children = [int(p) for p in path.read_text().split()]
        time.sleep(0.05)
    assert len(children) == 2
    parent.kill()
    parent.wait()
    while any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in children):
        assert time.monotonic() < deadline, "a worker outlived its parent"
        time.sleep(0.05)
    again = subprocess.Popen(
        argv[:2] + argv[4:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    try:
        assert again.stdout is not None
        assert b"listening on" in again.stdout.readline()  # the port was free at once
    finally:
        again.terminate()
        again.wait(10)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_reconcile_needs_the_pbx_to_ask(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("routecore-asterisk: ") and "--pbx" in err and "Traceback" not in err
