"""The stores of many hosts: call records written to PostgreSQL as an adapter's writer thread
writes them, beside the same records written to the SQLite file of one host; and the time from a
publish to the image written on every host, with ``routecore sync --watch`` listening
(PostgreSQL's notification) beside the same followers polling every second (the fallback).

    .venv/bin/python bench/cluster_stores.py [--records 20000] [--publishes 30] [--hosts 3]

PostgreSQL is Debian's, a cluster made for the run by ``initdb`` in a temporary folder with its
own durability settings (fsync and synchronous commits on), on loopback. Each host's follower is
a ``routecore sync --watch`` process of its own. Nothing is estimated: without PostgreSQL the
benchmark says so and stops.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routecore.engine import CallRecord  # noqa: E402
from routecore.store import CallStore  # noqa: E402

BIN = Path(sys.executable).parent
BATCH = 500  # the writer thread's largest transaction (routecore.adapter.runtime.BATCH_MAX)


def records(n: int, tag: str) -> list[CallRecord]:
    return [
        CallRecord(
            f"{tag}{i:08d}", "4006001003", f"139{i:08d}", start=1.79e9 + i,
            branches=["main.1", "sales.1"], tried=["13800138001"], outcome="answered",
            answer=1.79e9 + i + 9, end=1.79e9 + i + 70, answered_by="13800138001",
            talk_seconds=61,
        )
        for i in range(n)
    ]  # fmt: skip


def write_rate(location: str, n: int, tag: str) -> float:
    """Records a second, ``BATCH`` a transaction, through one store (one writer thread)."""
    rows = records(n, tag)
    with CallStore(location, threads=True) as store:
        store.add_many(rows[:BATCH])  # warm: the connection made, the statements prepared
        started = time.perf_counter()
        for i in range(BATCH, n, BATCH):
            store.add_many(rows[i : i + BATCH])
        seconds = time.perf_counter() - started
    return (n - BATCH) / seconds


def follower(store: str, folder: Path, poll: float, listen: bool) -> subprocess.Popen[bytes]:
    import routecore

    folder.mkdir(parents=True)
    routecore.State.create(folder / "state", destinations=64, memory=16, numbers=8).close()
    env = {**os.environ, "PGAPPNAME": "bench"}
    # the fallback: the same followers told not to listen (``--no-listen``), polling every 1 s
    return subprocess.Popen(
        [str(BIN / "routecore"), "--store", store, "sync", "--watch", "--poll", str(poll),
         "--image", str(folder / "routes.img"), "--state", str(folder / "state")]
        + ([] if listen else ["--no-listen"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def publish_latencies(store_url: str, folder: Path, hosts: int, publishes: int, listen: bool):
    """Seconds from each publish's call to its image on the last of ``hosts`` hosts."""
    from routecore.flow import loads_flow
    from routecore.flow.compile import compile_texts
    from routecore.store import FlowStore

    text = (ROOT / "examples" / "4006001001.yaml").read_text(encoding="utf-8")
    store = FlowStore(store_url, validate=lambda c, s: loads_flow(c, source=s)[0])
    image = folder / "publisher.img"
    procs = [follower(store_url, folder / f"h{i}", 1.0, listen) for i in range(hosts)]
    out: list[float] = []
    try:
        time.sleep(1.5)
        for n in range(publishes):
            flow = text.replace("ring_timeout: 30", f"ring_timeout: {31 + n % 60}")
            v = store.draft("4006001001", flow, "ann")
            store.submit("4006001001", v.version, "ann")
            store.approve("4006001001", v.version, "bob")
            t0 = time.perf_counter()
            store.publish("4006001001", v.version, "carol", image_path=str(image),
                          compile=compile_texts)  # fmt: skip
            want = hashlib.sha256(image.read_bytes()).hexdigest()
            pending = {folder / f"h{i}" / "routes.img" for i in range(hosts)}
            while pending:
                for path in list(pending):
                    try:
                        if hashlib.sha256(path.read_bytes()).hexdigest() == want:
                            pending.discard(path)
                    except OSError:
                        pass
                if time.perf_counter() - t0 > 10:
                    raise SystemExit("a host never got the image")
                time.sleep(0.002)
            out.append(time.perf_counter() - t0)
            time.sleep(0.1 + (n % 7) / 10)  # publishes at uneven moments of the poll
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--publishes", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=3)
    args = parser.parse_args()
    import pytest

    from tests.postgres_server import running

    try:
        context = running(durable=True)
        server = context.__enter__()
    except pytest.skip.Exception as e:
        print(f"skipped: {e}")
        return 0
    try:
        folder = Path(tempfile.mkdtemp(prefix="routecore-cluster-bench-"))
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; PostgreSQL "
              "on loopback, fsync and synchronous commits on")  # fmt: skip
        pg = write_rate(server.create_database(), args.records, "p")
        lite = write_rate(str(folder / "calls.db"), args.records, "s")
        print(f"call records, {BATCH} a transaction (one writer thread), {args.records:,}:")
        print(f"  SQLite file (baseline)   {lite:9,.0f} records/s")
        print(
            f"  PostgreSQL               {pg:9,.0f} records/s  ({pg / lite:.2f}×; aim >= 5,000/s)"
        )
        for listen in (True, False):
            url = server.create_database()
            lat = sorted(publish_latencies(url, folder / f"l{listen}", args.hosts,
                                           args.publishes, listen))  # fmt: skip
            what = "LISTEN/NOTIFY" if listen else "polling every 1 s (fallback)"
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"publish to the image on all {args.hosts} hosts, {what}, {len(lat)} publishes:")
            print(f"  p50 {statistics.median(lat) * 1e3:7.1f} ms   p99 {p99 * 1e3:7.1f} ms"
                  f"   max {lat[-1] * 1e3:7.1f} ms   (aim: within 2 s)")  # fmt: skip
    finally:
        context.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
