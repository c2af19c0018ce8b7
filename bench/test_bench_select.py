"""Ring selection over 100 destinations, per mode: native beside the pure-Python reference.

Run with ``make bench``; each mode is one benchmark group, so the two backends sit side by side.
"""

from __future__ import annotations

from types import ModuleType

import pytest

import routecore.backend.native
import routecore.py

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}
N = 100
DESTINATIONS = [(f"138{i:08d}", 1 + (i * 37) % 100) for i in range(N)]
IDLE = [i % 3 != 0 for i in range(N)]


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("mode", routecore.py.MODES)
@pytest.mark.parametrize("idle_first", [False, True], ids=["plain", "idle_first"])
def test_select_100(benchmark, backend_name: str, mode: str, idle_first: bool) -> None:
    backend: ModuleType = BACKENDS[backend_name]
    group = backend.Group.build(DESTINATIONS, mode=mode, idle_first=idle_first)
    benchmark.group = f"select {mode} {'idle_first' if idle_first else 'plain'}"
    benchmark.extra_info["backend"] = backend_name

    def run() -> list[object]:
        return group.attempts(seed=12345, idle=IDLE, cursor=41, preferred=7)

    got = benchmark(run)
    # Correctness recorded beside the timing: the same attempts as the reference.
    want = routecore.py.Group.build(DESTINATIONS, mode=mode, idle_first=idle_first).attempts(
        seed=12345, idle=IDLE, cursor=41, preferred=7
    )
    same = [(a.targets, a.timeout) for a in got] == [(a.targets, a.timeout) for a in want]
    benchmark.extra_info["matches_reference"] = same
    assert same


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_open_group(benchmark, backend_name: str) -> None:
    backend: ModuleType = BACKENDS[backend_name]
    data = backend.Group.build(DESTINATIONS).to_bytes()
    benchmark.group = "open group table"
    benchmark.extra_info["backend"] = backend_name
    benchmark(backend.Group.from_buffer, data)
