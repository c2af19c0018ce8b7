"""Complete calls through a PBX adapter's server on loopback, scripted as the PBX speaks:
calls per second, setup latency (connection to the first command, p50/p99) and the server's CPU
per call; and the process-per-call AGI's start to its first command.

    .venv/bin/python bench/pbx_load.py                       # Asterisk FastAGI and AGI
    .venv/bin/python bench/pbx_load.py --pbx freeswitch      # the ESL outbound server
    .venv/bin/python bench/pbx_load.py --seconds 10 --concurrency 64 --workers 2

The server runs as its console command in a process of its own (``--workers`` processes), with
the examples published into a temporary folder; the fake PBX is one asyncio process on the same
machine, so both share its cores (the figures say how many). A call is the example 4006001003:
greeting, main menu key 1, sales menu key 1, the transfer prompt, a Dial that one agent answers
(with Asterisk's answer subroutine on its own FastAGI connection), its status, hang-up; the
server writes its record to the SQLite call store. Each figure is printed beside the aim of
the issue it answers; nothing is estimated: a part that cannot run says so and is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV_LINES = [
    ("agi_network", "yes"),
    ("agi_network_script", "route"),
    ("agi_request", "agi://127.0.0.1:4573/route"),
    ("agi_channel", "PJSIP/caller-00000000"),
    ("agi_language", "en"),
    ("agi_type", "PJSIP"),
    ("agi_uniqueid", "{uid}"),
    ("agi_version", "22.10.1"),
    ("agi_callerid", "1380013{n:04d}"),
    ("agi_calleridname", "1380013{n:04d}"),
    ("agi_dnid", "4006001003"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "from-400"),
    ("agi_extension", "4006001003"),
    ("agi_priority", "2"),
    ("agi_accountcode", ""),
]
_U = re.compile(rb"U\(rc-answered\^([^^]+)\^(\d+)\^[^^)]+\)")
_PEER = re.compile(rb"Local/(\d+)@")


def publish(folder: Path) -> Path:
    """The examples published into ``folder``, and a state there whose destinations each take
    100 calls at once (the most a destination takes): every call of the load reaches its agent
    (none finds it busy)."""
    sys.path.insert(0, str(ROOT / "adapters"))
    import routecore
    from conftest import publish_examples  # the tests' own publishing of the examples

    image = publish_examples(folder)
    with routecore.State.create(folder / "state") as state:
        for number in ("13800138001", "13800138002", "13800138003"):
            state.add_destination(number, capacity=100)
    return image


def agi_env(n: int, script: str = "route", extra: str = "") -> bytes:
    uid = f"bench-{os.getpid()}.{n}{extra}"
    lines = [(k, v.format(uid=uid, n=n % 10000)) for k, v in ENV_LINES]
    lines[1] = ("agi_network_script", script)
    return "".join(f"{k}: {v}\n" for k, v in lines).encode() + b"\n"


_numbers = iter(range(10**9))


async def agi_call(port: int, setups: list[float], seen: dict[str, str] | None = None) -> bool:
    """One call as Asterisk makes it (FastAGI), the answer subroutine's connection included;
    ``seen`` gets the call's id and the agent it reached when it completes."""
    n = next(_numbers)
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(agi_env(n))
    keys = [b"1", b"1"]
    first = True
    peer = b""
    try:
        while True:
            line = await reader.readline()
            if not line:
                return False
            if first:
                setups.append(time.perf_counter() - t0)
                first = False
            if line.startswith(b"GET DATA"):
                writer.write(b"200 result=" + (keys.pop(0) if keys else b"") + b"\n")
            elif line.startswith(b"EXEC Dial"):
                found = _U.search(line)
                found_peer = _PEER.search(line)
                peer = found_peer.group(1) if found_peer else b"0"
                if found:  # the answer subroutine's own connection
                    r2, w2 = await asyncio.open_connection("127.0.0.1", int(found.group(2)))
                    w2.write(agi_env(n, "answered?call=" + found.group(1).decode(), "a"))
                    await r2.readline()
                    w2.write(b"200 result=1 (" + peer + b"@destinations)\n")
                    await r2.read()
                    w2.close()
                writer.write(b"200 result=0\n")
            elif line.startswith(b"GET VARIABLE DIALSTATUS"):
                writer.write(b"200 result=1 (ANSWER)\n")
            elif line.startswith(b"GET VARIABLE DIALEDPEERNUMBER"):
                writer.write(b"200 result=1 (" + peer + b"@destinations)\n")
            elif line.startswith(b"GET VARIABLE ANSWEREDTIME"):
                writer.write(b"200 result=1 (42)\n")
            elif line.startswith((b"EXEC Hangup", b"HANGUP")):
                writer.write(b"200 result=1\nHANGUP\n")
                await reader.read()  # the server closes
                if seen is not None:
                    seen[f"bench-{os.getpid()}.{n}"] = peer.decode()
                return True
            else:
                writer.write(b"200 result=0\n")
    finally:
        writer.close()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


Call = Callable[[int, list[float]], Awaitable[bool]]
"""One scripted call to the server on a port, noting its setup time; True when it completed."""


async def load(
    call: Call, port: int, seconds: float, concurrency: int, pids: list[int]
) -> dict[str, float]:
    """``concurrency`` callers calling again and again for ``seconds``: the figures."""
    setups: list[float] = []
    done = failed = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            ok = await call(port, setups)
            done += ok
            failed += not ok

    for _ in range(20):  # warm up: the plan built, the segment table mapped
        await call(port, [])
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


def serve_and_load(pbx: str, call: Call, args: argparse.Namespace, env: dict[str, str]) -> None:
    """Start ``routecore-<pbx> serve`` for each load of ``args.concurrency`` and report it."""
    command = [str(BIN / f"routecore-{pbx}"), "serve", "--listen", "127.0.0.1:0"]
    command += ["--workers", str(args.workers)]
    for concurrency in args.concurrency:
        proc, port = start_server(command, env)
        try:
            time.sleep(0.3)
            pids = [proc.pid, *children(proc.pid)]
            figures = asyncio.run(load(call, port, args.seconds, concurrency, pids))
        finally:
            proc.terminate()
            proc.wait(timeout=70)
        what = "FastAGI" if pbx == "asterisk" else "ESL outbound"
        report(f"{what}, {args.workers} worker(s)", concurrency, args.seconds, figures)


def start_server(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """Start the console command; its process and the port it printed."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on [^ ]+:(\d+)", line)
    if not found:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, int(found.group(1))


def agi_start(folder: Path, image: Path, env: dict[str, str], runs: int) -> list[float]:
    """Spawn → first command of ``routecore-asterisk agi``, ``runs`` times (ms)."""
    times = []
    for n in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(BIN / "routecore-asterisk"), "agi"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(agi_env(n).replace(b"agi_network: yes\n", b""))
        proc.stdin.flush()
        proc.stdout.readline()
        times.append((time.perf_counter() - t0) * 1e3)
        proc.stdin.write(b"HANGUP\n")
        proc.send_signal(1)  # SIGHUP: the caller hung up
        proc.stdin.close()
        proc.wait(timeout=10)
    return sorted(times)


def report(what: str, concurrency: int, seconds: float, figures: dict[str, float]) -> None:
    """Print one load's figures beside the issue's aims."""
    print(f"{what}, {concurrency} calls at once, {seconds:.0f} s:")
    print(f"  complete calls/s        {figures['calls_per_s']:8.0f}       (aim >= 3,000)")
    p50, p99 = figures["p50_ms"], figures["p99_ms"]
    print(f"  setup p50 / p99         {p50:8.2f} / {p99:.2f} ms   (aim p99 <= 5 ms)")
    cpu = figures["cpu_ms_per_call"]
    print(f"  server CPU per call     {cpu:8.3f} ms     (the PBX's own: bench/pbx_real.py)")
    print(f"  calls {figures['calls']:.0f}, failed {figures['failed']:.0f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pbx", choices=["asterisk", "freeswitch"], default="asterisk")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--concurrency", type=int, nargs="+", default=[4, 32])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--agi-runs", type=int, default=30)
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="routecore-bench-"))
    image = publish(folder)
    env = dict(os.environ)
    env.update(
        ROUTECORE_IMAGE=str(image),
        ROUTECORE_STATE=str(folder / "state"),
        ROUTECORE_CALLS=str(folder / "calls.db"),
        ROUTECORE_PROMPTS=str(folder / "prompts"),
        ROUTECORE_RECORDINGS=str(folder / "recordings"),
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        "server and fake PBX share them"
    )
    if args.pbx == "freeswitch":
        from pbx_load_esl import esl_call  # the ESL side of this benchmark

        serve_and_load("freeswitch", esl_call, args, env)
        return 0
    serve_and_load("asterisk", agi_call, args, env)
    times = agi_start(folder, image, env, args.agi_runs)
    print(f"process-per-call AGI, start to first command over {len(times)} runs:")
    median, p90 = statistics.median(times), times[int(len(times) * 0.9)]
    print(
        f"  min / median / p90      {times[0]:8.1f} / {median:.1f} / {p90:.1f} ms   (aim <= 60 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
