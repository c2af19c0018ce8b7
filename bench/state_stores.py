"""The two state stores beside each other in one run: the state file (shm, the native
``routecore.State``) and the Redis store over loopback (issue 15).

    .venv/bin/python bench/state_stores.py [--seconds 2] [--samples 5000] [--procs 2]

Starts its own ``redis-server`` on a free loopback port with a temporary directory (and stops
it), then measures, on each store:

- claim + release pairs per second, one process and ``--procs`` processes (multiprocessing,
  spawn; each opens the store itself; the figure is all of them together);
- the latency of one route decision from the caller's side, p50 and p99: one ``claim`` for a
  3-target group plus its ``release``, and one ``routecore.engine.dialer.route`` (the group's
  idle/busy read and the claim of its first free target; its release not timed);
- on Redis, the round trips of one claim and of one release, read from the server's own
  counters (``INFO stats`` total_reads_processed: one read per request the server gets, and
  total_commands_processed with ``INFO commandstats``), the counter reads themselves taken out.

Prints markdown tables, ratios to shm and the issue's aims (>= 5,000 pairs/s per host over
loopback, one round trip per claim and per release, p99 route decision under 2 ms). A part
that cannot run says so and is skipped: no figure is made up.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TARGETS = ["13800000001", "13800000002", "13800000003"]  # the 3-target group
COUNTED = [f"1380000010{i}" for i in range(3)]  # the round-trip count's own destinations
AIM_PAIRS = 5000
AIM_P99_MS = 2.0


# -- the stores ----------------------------------------------------------------------------


def open_store(location: str) -> Any:
    """The store at ``location`` through ``routecore.state.open_state``; for a path, the native
    ``routecore.State`` when ``open_state`` is not there."""
    try:
        from routecore.state import open_state
    except ImportError:
        if location.startswith(("redis://", "rediss://", "unix://")):
            raise
        import routecore.backend.native

        return routecore.backend.native.State.open(location)
    return open_state(location)


def prepare(location: str, capacity: int) -> None:
    """Every destination of the run known, online, with room for ``capacity`` calls."""
    store = open_store(location)
    try:
        for number in TARGETS + COUNTED:
            store.add_destination(number, capacity=capacity, online=True)
            store.set_capacity(number, capacity)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(0.5)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(tmp: str) -> Iterator[tuple[int, str]]:
    """A redis-server of this run on a free loopback port: (port, version)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make install installs it)")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    version = next((w[2:] for w in version.split() if w.startswith("v=")), "?")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not _pong(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield port, version
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- claim + release pairs per second ------------------------------------------------------


def pairs(store: Any, seconds: float, prefix: str) -> dict[str, Any]:
    """As many claim + release pairs as ``seconds`` allow, on the 3-target group."""
    done = refused = degraded = 0
    start = time.perf_counter()
    end = start + seconds
    i = 0
    while True:
        if i % 32 == 0 and time.perf_counter() >= end:
            break
        i += 1
        claim = store.claim(TARGETS, f"{prefix}-{i}")
        if claim is None:
            refused += 1
        elif getattr(claim, "degraded", False):
            degraded += 1
        else:
            store.release(claim)
            done += 1
    return {"pairs": done, "refused": refused, "degraded": degraded,
            "seconds": time.perf_counter() - start}  # fmt: skip


def _worker(location: str, seconds: float, prefix: str, barrier: Any, out: Any) -> None:
    try:
        store = open_store(location)
        pairs(store, 0.2, f"{prefix}-warm")  # connections made, scripts loaded
        barrier.wait(timeout=60)
        out.put(pairs(store, seconds, prefix))
        store.close()
    except Exception as e:  # the parent reports it
        out.put({"error": f"{type(e).__name__}: {e}"})


def throughput(location: str, procs: int, seconds: float) -> dict[str, Any]:
    """Pairs per second of ``procs`` processes together (each opens the store itself)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(location, seconds, f"p{i}", barrier, out))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("; ".join(errors))
    total = sum(r["pairs"] for r in results)
    span = max(r["seconds"] for r in results)
    return {"per_s": total / span, "pairs": total,
            "refused": sum(r["refused"] for r in results),
            "degraded": sum(r["degraded"] for r in results)}  # fmt: skip


# -- route-decision latency ----------------------------------------------------------------


def _percentiles(ns: list[int]) -> tuple[float, float]:
    ordered = sorted(ns)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    return at(0.50), at(0.99)


def latency(location: str, samples: int) -> dict[str, Any]:
    """p50/p99 (ms) of claim + release for the 3-target group, and of dialer.route."""
    from routecore import Group
    from routecore.engine.dialer import route

    store = open_store(location)
    try:
        pairs(store, 0.2, "lat-warm")
        group = Group.build(TARGETS, mode="sequential")
        claim_ns, route_ns, degraded = [], [], 0
        for i in range(samples):
            t = time.perf_counter_ns()
            claim = store.claim(TARGETS, f"lat-{i}")
            if claim is not None and not getattr(claim, "degraded", False):
                store.release(claim)
            claim_ns.append(time.perf_counter_ns() - t)
            degraded += bool(getattr(claim, "degraded", False))
        for i in range(samples):
            t = time.perf_counter_ns()
            routed = route(store, group, f"route-{i}")
            route_ns.append(time.perf_counter_ns() - t)
            if routed.claim is not None:
                degraded += bool(getattr(routed.claim, "degraded", False))
                store.release(routed.claim)
    finally:
        store.close()
    return {"claim": _percentiles(claim_ns), "route": _percentiles(route_ns),
            "degraded": degraded}  # fmt: skip


# -- round trips on Redis ------------------------------------------------------------------


def _server_counts(client: Any) -> dict[str, int]:
    info = client.info("all")
    counts = {"reads": int(info["total_reads_processed"]),
              "commands": int(info["total_commands_processed"])}  # fmt: skip
    for key, value in info.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            counts[key[8:]] = int(value["calls"])
    return counts


def _delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b.get(k, 0) - a.get(k, 0) for k in b if b.get(k, 0) != a.get(k, 0)}


def round_trips(location: str, port: int, ops: int) -> dict[str, Any]:
    """Requests and commands the server saw per claim and per release (``ops`` of each, one
    process, nothing else talking to the server but this run's counter reads)."""
    import redis

    stats = redis.Redis(host="127.0.0.1", port=port)
    store = open_store(location)
    try:
        store.set_capacity(COUNTED[0], ops)  # every counted claim holds a lease
        pairs(store, 0.1, "rt-warm")
        # the cost of one reading of the counters, taken out of every measure below
        a = _server_counts(stats)
        b = _server_counts(stats)
        idle = _delta(a, b)

        def per_op(d: dict[str, int]) -> dict[str, float]:
            return {k: (v - idle.get(k, 0)) / ops for k, v in d.items()
                    if v - idle.get(k, 0) != 0}  # fmt: skip

        before = _server_counts(stats)
        claims = [store.claim(COUNTED[:1], f"rt-{i}") for i in range(ops)]
        middle = _server_counts(stats)
        held = [c for c in claims if c is not None and not getattr(c, "degraded", False)]
        if len(held) != ops:
            raise RuntimeError(f"only {len(held)} of {ops} counted claims held a lease")
        for c in held:
            store.release(c)
        after = _server_counts(stats)
    finally:
        store.close()
        stats.close()
    return {"ops": ops, "claim": per_op(_delta(before, middle)),
            "release": per_op(_delta(middle, after))}  # fmt: skip


# -- the report ----------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _met(x: float | None, ok: bool) -> str:
    return "n/a" if x is None else ("yes" if ok else "**no**")


def report(
    rows: dict[str, dict[Any, Any]],
    trips: dict[str, Any] | None,
    args: argparse.Namespace,
    capacity: int,
    redis_version: str | None,
) -> None:
    """The markdown tables: throughput, latency, round trips, the aims."""
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"## State stores: shm beside Redis ({machine}, redis-server {redis_version or '-'})\n")
    print(
        f"3-target group, capacity {capacity} each; {args.seconds:g} s per throughput measure; "
        f"{args.samples} latency samples; Redis over loopback TCP.\n"
    )
    print("| store | processes | claim+release pairs/s | vs shm | degraded claims |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n in (1, args.procs):
        shm = rows.get("shm", {}).get(n)
        for name, row in rows.items():
            if n in row:
                r = row[n]
                ratio = f"{r['per_s'] / shm['per_s']:.3f}x" if shm else "n/a"
                print(f"| {name} | {n} | {_fmt(r['per_s'])} | {ratio} | {r['degraded']} |")

    print(
        "\n| store | claim+release p50 µs | p99 µs | dialer.route p50 µs | p99 µs "
        "| route p99 vs shm |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    shm_lat = rows.get("shm", {}).get("latency")
    for name, row in rows.items():
        if "latency" in row:
            (c50, c99), (r50, r99) = row["latency"]["claim"], row["latency"]["route"]
            ratio = f"{r99 / shm_lat['route'][1]:.0f}x" if shm_lat else "n/a"
            cells = " | ".join(f"{v * 1000:,.1f}" for v in (c50, c99, r50, r99))
            print(f"| {name} | {cells} | {ratio} |")

    if trips is not None:
        print(f"\nRedis server's counters per operation ({trips['ops']} of each, one process):\n")
        print(
            "| operation | requests read (round trips) | commands run (the function's own "
            "included) | by command |"
        )
        print("| --- | ---: | ---: | --- |")
        for op in ("claim", "release"):
            d = trips[op]
            by = ", ".join(
                f"{k} {v:g}" for k, v in sorted(d.items()) if k not in ("reads", "commands")
            )
            print(f"| {op} | {d.get('reads', 0):g} | {d.get('commands', 0):g} | {by} |")

    print("\n| aim (issue 15) | measured on Redis | met |")
    print("| --- | ---: | --- |")
    red = rows.get("redis", {})
    per_host = red.get(args.procs, {}).get("per_s")
    ok = per_host is not None and per_host >= AIM_PAIRS
    print(
        f"| >= {AIM_PAIRS:,} claim+release pairs/s per host ({args.procs} router processes, "
        f"loopback) | {_fmt(per_host)} | {_met(per_host, ok)} |"
    )
    for op in ("claim", "release"):
        got = None if trips is None else trips[op].get("reads", 0.0)
        ok = got is not None and got <= 1.01
        print(f"| one round trip per {op} | {_fmt(got, 2)} | {_met(got, ok)} |")
    p99 = red["latency"]["route"][1] if "latency" in red else None
    ok = p99 is not None and p99 < AIM_P99_MS
    print(f"| p99 route decision < {AIM_P99_MS:g} ms (dialer.route) | {_fmt(p99, 3)} "
          f"| {_met(p99, ok)} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="each throughput measure")
    p.add_argument("--samples", type=int, default=5000, help="latency samples per store")
    p.add_argument("--procs", type=int, default=2, help="processes of the several-process run")
    args = p.parse_args(argv)
    if args.procs < 2 or args.seconds <= 0 or args.samples < 100:
        p.error("--procs >= 2, --seconds > 0, --samples >= 100")

    import routecore.backend.native

    skipped: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    trips: dict[str, Any] | None = None
    redis_version = None
    capacity = args.procs + 1  # every claim finds room: a pair is a claim and its release
    with tempfile.TemporaryDirectory(prefix="routecore-bench-") as tmp:
        shm_path = os.path.join(tmp, "state")
        routecore.backend.native.State.create(shm_path).close()
        locations = {"shm": shm_path}
        redis_cm = None
        try:
            import redis  # noqa: F401  (the counters' own client)

            from routecore.state import open_state  # noqa: F401

            redis_cm = redis_server(tmp)
            port, redis_version = redis_cm.__enter__()
            locations["redis"] = f"redis://127.0.0.1:{port}/0"
        except (ImportError, RuntimeError) as e:
            skipped.append(f"Redis store skipped: {e}")
        try:
            for name, location in locations.items():
                row: dict[Any, Any] = rows.setdefault(name, {})
                try:
                    prepare(location, capacity)
                    print(f"{name}: 1 process ...", file=sys.stderr, flush=True)
                    row[1] = throughput(location, 1, args.seconds)
                    print(f"{name}: {args.procs} processes ...", file=sys.stderr, flush=True)
                    row[args.procs] = throughput(location, args.procs, args.seconds)
                    print(f"{name}: latency ...", file=sys.stderr, flush=True)
                    row["latency"] = latency(location, args.samples)
                    if name == "redis":
                        trips = round_trips(location, port, 100)  # capacity at most 100
                except Exception as e:
                    skipped.append(f"{name}: stopped by {type(e).__name__}: {e}")
        finally:
            if redis_cm is not None:
                redis_cm.__exit__(None, None, None)

    report(rows, trips, args, capacity, redis_version)
    for line in skipped:
        print(f"\nskipped: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
