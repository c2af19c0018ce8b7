"""The FreeSWITCH side of ``bench/pbx_load.py``: complete calls through the ESL outbound server,
FreeSWITCH played by the adapter tests' fake (``adapters/freeswitch/tests/fakefs.py``), which
sends the real 1.10 frames of the transcript (events of 3-11 KB, as FreeSWITCH does)."""

from __future__ import annotations

import ast
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "adapters" / "freeswitch" / "tests"))

from fakefs import Bridge, FakeFreeSwitch, Script, Templates  # noqa: E402
from pbx_load import BIN, children, cpu_seconds, report, start_server  # noqa: E402


def templates() -> Templates:
    path = ROOT / "adapters" / "transcripts" / "freeswitch-1.10-esl-outbound.log"
    rows = []
    for line in path.read_text().splitlines():
        _time, _conn, direction, data = line.split(" ", 3)
        if direction in ("<<", ">>"):
            rows.append((direction, ast.literal_eval(data)))
    return Templates.load(rows)


class _Timed(FakeFreeSwitch):
    """The fake, noting when the first application arrives (the call's setup time)."""

    started = 0.0
    setup: float | None = None

    async def _command(self) -> bytes | None:
        data = await super()._command()
        if self.setup is None and data is not None and data.startswith(b"sendmsg"):
            self.setup = time.perf_counter() - self.started
        return data

    async def run(self, port: int) -> FakeFreeSwitch:
        self.started = time.perf_counter()
        return await super().run(port)


async def _load(port: int, seconds: float, concurrency: int, pids: list[int]) -> dict[str, float]:
    t = templates()
    setups: list[float] = []
    done = failed = 0
    deadline = time.perf_counter() + seconds

    async def call() -> bool:
        fake = _Timed(t, Script(keys=["1", "1"], bridges=[Bridge()]))
        await fake.run(port)
        if fake.setup is not None:
            setups.append(fake.setup)
        return fake.closed_by_server and any(e.app == "bridge" for e in fake.executed)

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            ok = await call()
            done += ok
            failed += not ok

    for _ in range(20):
        await call()
    setups.clear()
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pids) - cpu0
    setups.sort()
    return {
        "calls": done,
        "failed": failed,
        "calls_per_s": done / wall,
        "p50_ms": statistics.median(setups) * 1e3,
        "p99_ms": setups[int(len(setups) * 0.99)] * 1e3,
        "cpu_ms_per_call": cpu / max(done + failed, 1) * 1e3,
    }


def esl_load(args: Any, env: dict[str, str]) -> int:
    command = [
        str(BIN / "routecore-freeswitch"),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        str(args.workers),
    ]
    for concurrency in args.concurrency:
        proc, port = start_server(command, env)
        try:
            time.sleep(0.3)
            pids = [proc.pid, *children(proc.pid)]
            figures = asyncio.run(_load(port, args.seconds, concurrency, pids))
        finally:
            proc.terminate()
            proc.wait(timeout=70)
        report(f"ESL outbound, {args.workers} worker(s)", concurrency, args.seconds, figures)
    return 0
