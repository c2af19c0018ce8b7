"""Scripted FastAGI callers of the cluster test, run inside a host's network namespace (where
the host's adapter listens on loopback); the calls are bench/pbx_load.py's, as Asterisk makes
them. Prints one JSON line.

    cluster_host.py probe PORT WANT SECONDS    # call until the Dial reaches an agent starting
                                               # with WANT: {"at": time.time(), "calls": n}
    cluster_host.py load PORT SECONDS CONCURRENCY
                                               # {"completed": {call id: agent}, "failed": n}
    cluster_host.py tcp PORT HOST SECONDS      # {"up": true} once HOST:PORT takes a connection
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from pbx_load import agi_call


async def probe(port: int, want: str, seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    calls, last = 0, ""
    while time.monotonic() < deadline:
        seen: dict[str, str] = {}
        try:
            await asyncio.wait_for(agi_call(port, [], seen), 5)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.05)
            continue
        calls += 1
        last = next(iter(seen.values()), "")
        if last.startswith(want):
            return {"at": time.time(), "calls": calls}
        await asyncio.sleep(0.02)
    return {"at": None, "calls": calls, "last": last}


async def load(port: int, seconds: float, concurrency: int) -> dict[str, object]:
    completed: dict[str, str] = {}
    failed = 0
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        nonlocal failed
        while time.monotonic() < deadline:
            try:
                ok = await asyncio.wait_for(agi_call(port, [], completed), 10)
            except (OSError, TimeoutError):
                ok = False
            if not ok:
                failed += 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return {"completed": completed, "failed": failed}


def tcp(port: int, host: str, seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return {"up": True}
        except OSError:
            time.sleep(0.05)
    return {"up": False}


def main() -> int:
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "tcp":
        out = tcp(port, sys.argv[3], float(sys.argv[4]))
    elif what == "probe":
        out = asyncio.run(probe(port, sys.argv[3], float(sys.argv[4])))
    else:
        out = asyncio.run(load(port, float(sys.argv[3]), int(sys.argv[4])))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
