"""A carrier host's shared state (issue 26): 300,000 destinations, 100,000 numbers' counters and
2,000,000 call-memory entries in one state file, and the claim path on it.

    .venv/bin/python bench/state_scale.py [--destinations 300000] [--numbers 100000]
        [--memory 2000000] [--pairs 200000] [--baseline-python /opt/routecore-v2-venv/bin/python]

Creates a layout-3 state file (on /dev/shm when it is there, else the temporary folder; removed
at the end) with room for them (destination slots and counter rows at a load of about 3/4, the
pools at their defaults) and fills it through the native ``routecore.State``:

- destinations: 97 % phones of capacity 1, 2.5 % small groups' lines of capacity 2–10, 0.5 %
  trunks of capacity 11–100;
- 400 numbers: 75 % with the examples' menus (0–7 branches: one counter block), 22 % with 8–31
  branches (menus and extensions), 3 % with 32–256 (extension dialling); each counts every
  branch it has once (branch 0 at least);
- call memory: as many (number, caller) pairs as entries, each remembered once.

Then measures claim + release pairs from Python: one random phone of the 300,000 per pair, and
the pairs of ``bench/test_bench_state.py`` on a default file of 4 destinations.

The baseline is the code before (layout 2: 100 lease records in every slot, 256 branches in
every row), which this tree cannot build: ``--baseline-python`` names the Python of a virtualenv
where the commit before this layout is installed (``git worktree add /tmp/v2 901584a`` and
``pip install /tmp/v2`` into a new virtualenv); this script is run there (``-P``, from the
temporary folder, so the checkout is not imported) with ``--claims-only``: the same sizes, the
same destinations, the same pairs, in the same run. Without it the layout-2 size is its spec's
formula, said so, and its claims are not measured. Prints a markdown table; the issue's aims: the
file ≤ 512 MiB, claim + release ≤ 1 µs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

MIB = 1 << 20
AIM_BYTES = 512 * MIB
AIM_PAIR_NS = 1000.0


def v2_length(destinations: int, memory: int, numbers: int) -> int:
    """The length of a layout-2 file of these sizes, from its spec: 128 + D·6496 + M·96 +
    N·8280 + 16·N·16."""
    return 128 + destinations * 6496 + memory * 96 + numbers * 8280 + 16 * numbers * 16


def capacities(count: int, rng: random.Random) -> list[int]:
    out = []
    for _ in range(count):
        roll = rng.random()
        out.append(
            1 if roll < 0.97 else rng.randint(2, 10) if roll < 0.995 else rng.randint(11, 100)
        )
    return out


def branches(count: int, rng: random.Random) -> list[int]:
    """The branches of each number (how many it counts)."""
    out = []
    for _ in range(count):
        roll = rng.random()
        out.append(
            rng.randint(1, 7)
            if roll < 0.75
            else rng.randint(8, 31)
            if roll < 0.97
            else rng.randint(32, 256)
        )
    return out


def pair_ns(state: Any, groups: list[list[str]], rounds: int) -> float:
    """ns per claim + release pair over ``groups`` (taken in turn), the best of 3 runs."""
    claim, release = state.claim, state.release
    n = len(groups)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        for i in range(rounds):
            release(claim(groups[i % n], "1700000000.42"))
        best = min(best, (time.perf_counter_ns() - started) / rounds)
    return best


def phones_of(count: int) -> list[str]:
    return [f"138{i:08d}" for i in range(count)]


def claims(
    native: Any, where: str, state: Any, phones: list[str], pairs: int, seed: int
) -> dict[str, float]:
    """Both claim figures: random phones of ``state`` and 4 destinations of a default file."""
    sample = random.Random(seed + 1).sample(phones, min(len(phones), 100_000))
    big = pair_ns(state, [[p] for p in sample], pairs)
    with native.State.create(os.path.join(where, "small")) as small:
        for number in phones[:4]:
            small.add_destination(number, capacity=2)
        default = pair_ns(small, [[p] for p in phones[:4]], pairs)
    return {"random": big, "default": default}


def sizes_of(args: argparse.Namespace) -> tuple[int, int, int]:
    """Destination slots, call-memory entries and counter rows for the platform."""
    return args.destinations * 4 // 3 + 1, args.memory, args.numbers * 4 // 3 + 1


def shm_folder() -> str:
    return tempfile.mkdtemp(
        prefix="routecore-scale-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )


def claims_only(native: Any, args: argparse.Namespace) -> dict[str, float]:
    """The baseline's side: the same file sizes and destinations, then the claim figures."""
    slots, memory, rows = sizes_of(args)
    where = shm_folder()
    try:
        path = os.path.join(where, "state")
        with native.State.create(path, destinations=slots, memory=memory, numbers=rows) as state:
            phones = phones_of(args.destinations)
            rng = random.Random(args.seed)
            for number, capacity in zip(phones, capacities(len(phones), rng), strict=True):
                state.add_destination(number, capacity=capacity)
            return {
                "length": os.path.getsize(path),
                **claims(native, where, state, phones, args.pairs, args.seed),
            }
    finally:
        shutil.rmtree(where, ignore_errors=True)


def baseline(args: argparse.Namespace) -> dict[str, float] | None:
    """The figures of the code before, run by ``--baseline-python`` (None when not given)."""
    if not args.baseline_python:
        return None
    command = [
        args.baseline_python,
        "-P",
        os.path.abspath(__file__),
        "--claims-only",
        "--destinations",
        str(args.destinations),
        "--numbers",
        str(args.numbers),
        "--memory",
        str(args.memory),
        "--pairs",
        str(args.pairs),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(
        command, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"baseline failed: {done.stderr.strip()[-500:]}")
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--destinations", type=int, default=300_000)
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--memory", type=int, default=2_000_000)
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--baseline-python", help="the Python of the code before (layout 2)")
    parser.add_argument("--claims-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import routecore.backend.native as native
    except ImportError as e:
        print(f"skipped: the native core is not built ({e})")
        return 0
    if args.claims_only:
        print(json.dumps(claims_only(native, args)))
        return 0
    slots, memory, rows = sizes_of(args)
    where = shm_folder()
    try:
        path = os.path.join(where, "state")
        started = time.perf_counter()
        state = native.State.create(path, destinations=slots, memory=memory, numbers=rows)
        created = time.perf_counter() - started
        length = os.path.getsize(path)
        phones = phones_of(args.destinations)
        rng = random.Random(args.seed)
        started = time.perf_counter()
        for number, capacity in zip(phones, capacities(len(phones), rng), strict=True):
            state.add_destination(number, capacity=capacity)
        dids = [f"400{i:07d}" for i in range(args.numbers)]
        for did, count in zip(dids, branches(len(dids), rng), strict=True):
            for b in range(count):
                state.count_branch(did, b, 1_765_000_000.0)
        for i in range(args.memory):
            state.remember(
                dids[i % len(dids)], f"139{i:08d}", phones[i % len(phones)], 1_765_000_000.0
            )
        filled = time.perf_counter() - started
        handed = state.pool_use()
        now = claims(native, where, state, phones, args.pairs, args.seed)
        pools = state.leases, state.counter_blocks
        state.close()
    finally:
        shutil.rmtree(where, ignore_errors=True)
    before = baseline(args)
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; sizes D={slots} M={memory} N={rows}, pools R={pools[0]} "
        f"P={pools[1]}; created in {created:.2f} s, filled in {filled:.1f} s; lease records "
        f"handed out {handed[0]:,} of {pools[0]:,}, counter blocks {handed[1]:,} of {pools[1]:,}"
    )
    print()
    print("| figure | layout 3 | layout 2, the code before (same run) | aim |")
    print("|---|---|---|---|")
    if before is None:
        old = v2_length(slots, memory, rows)
        was = f"{old / MIB:,.0f} MiB (its spec's formula; not run)"
    else:
        old = int(before["length"])
        was = f"{old / MIB:,.1f} MiB"
    print(
        f"| state file: {args.destinations:,} destinations, {args.numbers:,} numbers, "
        f"{args.memory:,} call-memory entries | {length / MIB:,.1f} MiB | {was} "
        f"({old / length:.1f}× layout 3) | ≤ 512 MiB |"
    )
    for key, what in (
        ("default", "claim + release, the default file's 4 destinations (per pair)"),
        ("random", f"claim + release, a random phone of {args.destinations:,} (per pair)"),
    ):
        was = (
            "not run"
            if before is None
            else f"{before[key]:,.0f} ns ({now[key] / before[key]:.2f}×)"
        )
        print(f"| {what} | {now[key]:,.0f} ns | {was} | ≤ 1 µs |")
    ok = length <= AIM_BYTES and now["default"] <= AIM_PAIR_NS
    print()
    print("aims met" if ok else "an aim is missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
