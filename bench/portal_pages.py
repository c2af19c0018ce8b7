"""The portal's pages over a big call store, beside the store's own queries in the same run
(issue 22): 1,000,000 call records of one number in the SQLite call store.

    .venv/bin/python bench/portal_pages.py [--records 1000000] [--samples 40]

Builds the call store once (kept as ``.benchmarks/portal-<N>.db``; the records spread over the
last 90 days up to now, so today has its share), a portal database in a temporary folder with
one enterprise admin, then measures through Django's test client (the whole request: session,
middleware, the store opened, the query, the template):

- the call records page: the first page, a page 5,000 records deep (keyset), a filtered page
  (an outcome; a caller's digits), p50 and p95 — beside ``CallStore.page`` alone;
- the dashboard, p50 and p95 — beside its store queries alone (``per_hour`` and the last calls);
- the CSV export of every record: rows per second and the Python heap's peak while streaming
  (tracemalloc) — beside a plain ``sqlite3`` cursor written with ``csv`` (no portal).

Prints a markdown table with the ratios and the issue's aims (records p95 <= 200 ms, dashboard
<= 300 ms, export >= 50,000 rows/s in constant memory).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

DID = "4006001003"
ROOT = Path(__file__).resolve().parents[1]
AIMS = {"records": 200.0, "dashboard": 300.0, "export": 50_000.0}


def build_store(path: Path, records: int) -> None:
    from routecore.engine import CallRecord
    from routecore.store import CallStore

    now = time.time()
    span = 90 * 86400
    step = span / records
    outcomes = ("answered", "answered", "answered", "no_answer", "busy", "caller_hung_up")
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with CallStore(tmp) as store:
        batch: list[Any] = []
        for i in range(records):
            start = now - span + i * step
            outcome = outcomes[i % len(outcomes)]
            answered = outcome == "answered"
            batch.append(
                CallRecord(
                    f"c{i:08d}",
                    DID,
                    f"139{i % 100_000_000:08d}",
                    start=start,
                    answer=start + 6 if answered else None,
                    end=start + 70,
                    branches=[f"main.{1 + i % 3}"],
                    tried=["13800138001"],
                    answered_by="13800138001" if answered else None,
                    talk_seconds=64 if answered else 0,
                    outcome=outcome,
                    caller_kind="mobile",
                    caller_area="010",
                )
            )
            if len(batch) == 20_000:
                store.add_many(batch)
                batch.clear()
                print(
                    f"\r  building the call store: {i + 1:,}/{records:,}", end="", file=sys.stderr
                )
        store.add_many(batch)
    print(file=sys.stderr)
    tmp.rename(path)


def timed(fn: Callable[[], Any], samples: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds over ``samples`` runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1e3)
    runs.sort()
    return statistics.median(runs), runs[min(len(runs) - 1, int(len(runs) * 0.95))]


def setup_portal(calls: Path, folder: Path) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "routecore_portal.settings"
    os.environ["ROUTECORE_RUN"] = str(folder)
    os.environ["ROUTECORE_CALLS"] = str(calls)
    os.environ["ROUTECORE_PORTAL_SECRET"] = "bench"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from routecore_portal.models import ADMIN, Enterprise, Member, Number

    ent = Enterprise.objects.create(name="bench")
    Number.objects.create(did=DID, enterprise=ent)
    user = get_user_model().objects.create_user("bench-admin", password="bench-password-1")
    Member.objects.create(user=user, role=ADMIN, enterprise=ent, primary=True)
    client = Client()
    client.force_login(user, backend="routecore_portal.auth.NumberOrNameBackend")
    return client


def get(client: Any, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code}")
    return response


def export_portal(client: Any) -> int:
    """Rows of the portal's CSV export, read to the end as a browser would."""
    response = client.get(f"/n/{DID}/calls.csv")
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    return lines - 1


def export_plain(calls: Path) -> int:
    """Rows of the same records by a plain sqlite3 cursor written with csv (the baseline)."""
    db = sqlite3.connect(calls)
    cursor = db.execute("SELECT * FROM calls WHERE did = ? ORDER BY start, call_id", (DID,))
    out = io.StringIO()
    writer = csv.writer(out)
    rows = 0
    while batch := cursor.fetchmany(2000):
        writer.writerows(batch)
        rows += len(batch)
        out.seek(0)
        out.truncate()
    db.close()
    return rows


def exported(run: Callable[[], int]) -> tuple[int, float, int]:
    """(rows, seconds, the Python heap's peak in bytes): timed alone, then run again under
    tracemalloc for the peak (tracemalloc slows what it watches several times)."""
    t = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, seconds, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    try:
        import routecore_portal  # noqa: F401
    except ImportError:
        print("routecore-portal is not installed (make install): nothing measured")
        return 0
    cache = ROOT / ".benchmarks"
    cache.mkdir(exist_ok=True)
    calls = cache / f"portal-{args.records}.db"
    if not calls.exists():
        build_store(calls, args.records)
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    client = setup_portal(calls, folder)

    from routecore.store import CallQuery, CallStore
    from routecore_portal import times

    with CallStore(calls) as store:
        _rows, after = store.page(CallQuery(DID), limit=50)
        deep = None
        for _ in range(100):  # 100 pages of 50: 5,000 records deep
            _rows, deep = store.page(CallQuery(DID), after=deep or after, limit=50)
        assert deep is not None
        deep_key = f"{deep[0]!r}~{deep[1]}"
        base = {
            "first page": timed(lambda: store.page(CallQuery(DID), limit=50), args.samples),
            "5,000 deep": timed(
                lambda: store.page(CallQuery(DID), after=deep, limit=50), args.samples
            ),
            "outcome filter": timed(
                lambda: store.page(CallQuery(DID, outcome="busy"), limit=50), args.samples
            ),
            "caller filter": timed(
                lambda: store.page(CallQuery(DID, caller="0001234"), limit=50), args.samples
            ),
        }
        midnight = times.day_start(times.today("Asia/Shanghai"), "Asia/Shanghai")
        base_dash = timed(
            lambda: (store.per_hour(DID, midnight), store.page(CallQuery(DID), limit=10)),
            args.samples,
        )
    pages = {
        "first page": timed(lambda: get(client, f"/n/{DID}/calls/"), args.samples),
        "5,000 deep": timed(lambda: get(client, f"/n/{DID}/calls/?after={deep_key}"), args.samples),
        "outcome filter": timed(lambda: get(client, f"/n/{DID}/calls/?outcome=busy"), args.samples),
        "caller filter": timed(
            lambda: get(client, f"/n/{DID}/calls/?caller=0001234"), args.samples
        ),
    }
    dash = timed(lambda: get(client, f"/n/{DID}/"), args.samples)
    plain = exported(lambda: export_plain(calls))
    portal = exported(lambda: export_portal(client))

    machine = platform.processor() or platform.machine()
    day = time.strftime("%Y-%m-%d", time.gmtime())
    print(
        f"{args.records:,} call records of one number; {machine}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, {day}"
    )
    print()
    print("| what | portal p50 | portal p95 | store alone p95 | ratio | aim |")
    print("|---|---|---|---|---|---|")
    for name, (p50, p95) in pages.items():
        ok = "met" if p95 <= AIMS["records"] else "NOT met"
        print(
            f"| records page, {name} | {p50:.1f} ms | {p95:.1f} ms | {base[name][1]:.2f} ms "
            f"| {p95 / base[name][1]:.0f}× | ≤ 200 ms: {ok} |"
        )
    ok = "met" if dash[1] <= AIMS["dashboard"] else "NOT met"
    print(
        f"| dashboard | {dash[0]:.1f} ms | {dash[1]:.1f} ms | {base_dash[1]:.2f} ms "
        f"| {dash[1] / base_dash[1]:.0f}× | ≤ 300 ms: {ok} |"
    )
    print()
    print("| export | rows | rows/s | Python heap peak | ratio | aim |")
    print("|---|---|---|---|---|---|")
    for name, (n, seconds, peak) in (
        ("portal CSV (streamed)", portal),
        ("sqlite3 + csv alone", plain),
    ):
        rate = n / seconds
        aim = ("met" if rate >= AIMS["export"] else "NOT met") if name.startswith("portal") else "—"
        print(
            f"| {name} | {n:,} | {rate:,.0f} | {peak / 1e6:.1f} MB "
            f"| {rate / (plain[0] / plain[1]):.2f}× | ≥ 50,000 rows/s: {aim} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
