"""Two processes hammering the same 100 destinations with claim+release pairs while a third
samples the state: pairs per second, and the over-capacity count (which must be 0).

Run with ``make bench``; the report shows the time per pair across both processes.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from pathlib import Path
from typing import Any

import pytest

import routecore.backend.native
import routecore.py

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}
NUMBERS = [f"138{i:08d}" for i in range(100)]
SECONDS = 2.0


def _hammer(name: str, path: str, seed: int, start: Any, out: Any) -> None:
    state = BACKENDS[name].State.open(path)
    rnd = random.Random(seed)
    pairs = 0
    start.wait()
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        for _ in range(100):
            first = rnd.randrange(96)
            claim = state.claim(NUMBERS[first : first + 5], "bench")  # an attempt's candidates
            if claim is not None:
                state.release(claim)
                pairs += 1
    out.put(pairs)


def _sample(name: str, path: str, start: Any, out: Any) -> None:
    state = BACKENDS[name].State.open(path)
    over = samples = 0
    start.wait()
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        over += sum(d.busy > d.capacity for d in state.destinations_now())
        samples += 1
        time.sleep(0.001)  # leave the two cores to the hammering processes
    out.put((over, samples))


@pytest.mark.parametrize("name", list(BACKENDS))
def test_two_processes_hammer_100_destinations(benchmark: Any, tmp_path: Path, name: str) -> None:
    backend = BACKENDS[name]
    path = str(tmp_path / "state")
    state = backend.State.create(path, destinations=256, memory=16, numbers=4)
    for n in NUMBERS:
        state.add_destination(n)
    ctx = mp.get_context("fork")
    benchmark.group = "state: 2 processes, claim+release pairs on 100 destinations (per pair)"
    benchmark.extra_info["backend"] = name

    def run() -> tuple[int, int, int]:
        start, out, sampled = ctx.Barrier(3), ctx.Queue(), ctx.Queue()
        procs = [ctx.Process(target=_hammer, args=(name, path, s, start, out)) for s in (1, 2)]
        procs.append(ctx.Process(target=_sample, args=(name, path, start, sampled)))
        for p in procs:
            p.start()
        pairs = out.get(timeout=60) + out.get(timeout=60)
        over, samples = sampled.get(timeout=60)
        for p in procs:
            p.join(timeout=60)
        return pairs, over, samples

    pairs, over, samples = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["items"] = pairs
    benchmark.extra_info["pairs_per_second"] = round(pairs / SECONDS)
    benchmark.extra_info["over_capacity"] = over
    benchmark.extra_info["samples"] = samples
    assert over == 0
