"""Screen pops under load (issue 23): many seats online on one portal process, calls ringing
them, how long from the adapter's journal row to the pop reaching the seat's open page.

    .venv/bin/python bench/screen_pops.py [--seats 500] [--rate 50] [--seconds 10]

One portal process (uvicorn in this process, as ``routecore-portal serve`` runs it) with
``--seats`` seats each holding its Server-Sent Events stream open from another process (plain
asyncio connections, one per seat); this process writes the journal rows of ``--rate`` calls a
second, each ringing one seat (``CallStore.journal``, as the adapters do) and ending two seconds
later (the record added). Reports the latency from each row written to its ``ringing`` pop read
by the seat's connection, p50/p95/max and the share within 1 s, beside the same load with one
seat listening (the baseline: the watcher's tick and the journal's read alone). The clients and
the server share this machine's cores, so the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DID = "4006001003"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(folder: Path, seats: int) -> list[tuple[str, str]]:
    """The portal's database with ``seats`` seats; (phone, session cookie) of each."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "routecore_portal.settings"
    os.environ["ROUTECORE_RUN"] = str(folder)
    os.environ["ROUTECORE_PORTAL_SECRET"] = "bench"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from routecore_portal.models import SEAT, Enterprise, Member, Number, Seat

    call_command("migrate", verbosity=0, interactive=False)
    ent = Enterprise.objects.create(name="bench")
    Number.objects.create(did=DID, enterprise=ent)
    out = []
    for i in range(seats):
        user = get_user_model().objects.create(username=f"seat{i}")
        user.set_unusable_password()
        user.save()
        Member.objects.create(user=user, role=SEAT, enterprise=ent)
        phone = f"138{i:08d}"
        Seat.objects.create(enterprise=ent, user=user, name=f"seat {i}", phone=phone)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "routecore_portal.auth.NumberOrNameBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        out.append((phone, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"))
    return out


def serve(port: int) -> Any:
    import uvicorn

    from routecore_portal.asgi import application

    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def clients(port: int, seats: list[tuple[str, str]], ready: Any, done: Any, out: Any) -> None:
    """One connection a seat; the time each (call id) ``ringing`` pop arrived."""
    got: dict[str, float] = {}

    async def seat(cookie: str, opened: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /seat/events HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        opened[0] += 1
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                try:
                    data = json.loads(line[6:])
                except ValueError:
                    print(f"a broken event line: {line!r}", file=sys.stderr)
                    continue
                if data["event"] == "ringing":
                    got.setdefault(data["call_id"], time.time())

    async def main() -> None:
        opened = [0]
        tasks = [asyncio.create_task(seat(cookie, opened)) for _, cookie in seats]
        while opened[0] < len(seats):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # every stream answered (its first line read)
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()

    asyncio.run(main())
    out.put(got)


def load(calls_path: str, phones: list[str], rate: float, seconds: float) -> dict[str, float]:
    """Journal rows of ``rate`` calls a second ringing random seats; when each was written."""
    from routecore.engine import CallRecord
    from routecore.store import CallStore
    from routecore.store.journal import OpenCall

    written: dict[str, float] = {}
    ending: list[tuple[float, CallRecord]] = []
    rng = random.Random(7)
    with CallStore(calls_path) as calls:
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n / rate
            if time.monotonic() < due:
                time.sleep(due - time.monotonic())
            call_id = f"c{n}"
            record = CallRecord(call_id, DID, f"139{n:08d}", start=time.time(), caller_area="010")
            row = OpenCall(
                call_id,
                call_id,
                "agi",
                "bench",
                os.getpid(),
                None,
                record,
                (rng.choice(phones),),
                None,
                None,
                time.time(),
            )
            calls.journal(row)
            written[call_id] = time.time()
            ending.append((time.monotonic() + 2.0, record))
            while ending and ending[0][0] <= time.monotonic():
                calls.add(ending.pop(0)[1])
            n += 1
        for end, record in ending:  # each still rings its two seconds
            time.sleep(max(end - time.monotonic(), 0))
            calls.add(record)
    return written


def run(seats: list[tuple[str, str]], port: int, calls_path: str, args: Any) -> list[float]:
    ctx = mp.get_context("spawn")
    ready, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=clients, args=(port, seats, ready, done, out))
    proc.start()
    if not ready.wait(120):
        raise SystemExit("the seats did not all connect")
    written = load(calls_path, [p for p, _ in seats], args.rate, args.seconds)
    time.sleep(2.0)
    done.set()
    got = out.get(timeout=60)
    proc.join(30)
    if os.environ.get("SCREEN_POPS_DEBUG"):
        slow = [(c, round(got[c] - t, 2)) for c, t in written.items() if got.get(c, 1e18) - t > 1]
        print("slow:", slow[:20], file=sys.stderr)
    return [got[c] - t for c, t in written.items() if c in got] + [
        float("inf") for c in written if c not in got
    ]


def figures(latencies: list[float]) -> tuple[float, float, float, float]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    within = sum(1 for x in ordered if x <= 1.0) / len(ordered)
    return statistics.median(ordered) * 1e3, p95 * 1e3, ordered[-1] * 1e3, within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import routecore_portal  # noqa: F401
    except ImportError:
        print("routecore-portal is not installed (make install): nothing measured")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="screen-pops-"))
    seats = setup(folder, args.seats)
    from django.conf import settings

    calls_path = settings.ROUTECORE["calls"]
    from routecore.store import CallStore

    CallStore(calls_path).close()
    port = _free_port()
    server = serve(port)
    one = run(seats[:1], port, calls_path, args)
    many = run(seats, port, calls_path, args)
    server.should_exit = True
    machine = platform.processor() or platform.machine()
    print(
        f"{args.rate:g} calls/s for {args.seconds:g} s; {machine}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d', time.gmtime())}"
    )
    print()
    print("| seats listening | pops | p50 | p95 | max | within 1 s |")
    print("|---|---|---|---|---|---|")
    for name, lat in (("1 (baseline)", one), (f"{args.seats}", many)):
        p50, p95, worst, within = figures(lat)
        print(
            f"| {name} | {len(lat)} | {p50:.0f} ms | {p95:.0f} ms | {worst:.0f} ms | {within:.1%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
