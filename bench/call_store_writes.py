"""What the portal's indexes on the call store cost the adapters' writer: records written in
batches of 100 (as the writer thread does), with the indexes ``calls_call`` and
``calls_caller`` and without them, in one run.

    .venv/bin/python bench/call_store_writes.py [--records 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from routecore.engine import CallRecord
from routecore.store import CallStore


def write(folder: Path, records: int, indexes: bool) -> float:
    """Seconds to write ``records`` records, 100 a transaction."""
    path = folder / f"calls-{indexes}-{time.monotonic_ns()}.db"
    CallStore(path).close()
    if not indexes:
        db = sqlite3.connect(path)
        db.execute("DROP INDEX calls_call")
        db.execute("DROP INDEX calls_caller")
        db.close()
    rows = [
        CallRecord(
            f"c{i:08d}",
            "4006001003",
            f"139{i:08d}",
            start=1.79e9 + i,
            branches=["main.1"],
            tried=["13800138001"],
            outcome="no_answer",
        )
        for i in range(records)
    ]
    store = CallStore(path, threads=True)
    if not indexes:  # opening makes them again: drop them once more behind the open store
        store._db.execute("DROP INDEX IF EXISTS calls_call")
        store._db.execute("DROP INDEX IF EXISTS calls_caller")
    started = time.perf_counter()
    for i in range(0, records, 100):
        store.add_many(rows[i : i + 100])
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="call-writes-"))
    best = {True: float("inf"), False: float("inf")}
    for _ in range(args.rounds):
        for indexes in (False, True):
            best[indexes] = min(best[indexes], write(folder, args.records, indexes))
    print(f"{args.records:,} records, 100 a transaction, best of {args.rounds}:")
    for indexes in (False, True):
        label = "with the portal's indexes" if indexes else "without them (baseline)"
        per = best[indexes] / args.records * 1e6
        print(f"  {label:28} {per:6.1f} µs a record ({best[indexes] / best[False]:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
