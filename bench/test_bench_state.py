"""The shared state: one claim + release pair from Python, native beside the pure-Python twin
(whose every operation takes the file's flock).

Run with ``make bench``.
"""

from __future__ import annotations

from typing import Any

import pytest

import routecore.native
import routecore.py

BACKENDS = {"native": routecore.native, "py": routecore.py}
CANDIDATES = ["13800138001", "13800138002", "13800138003", "13800138004"]


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("ring", [False, True], ids=["first", "all"])
def test_claim_release(benchmark: Any, tmp_path: Any, backend_name: str, ring: bool) -> None:
    state_class = BACKENDS[backend_name].State
    with state_class.create(str(tmp_path / "state")) as state:
        for i, number in enumerate(CANDIDATES):
            state.add_destination(number, capacity=2, online=i != 0)  # the first is offline
        benchmark.group = f"state claim + release ({'all 4' if ring else 'first of 4'})"
        benchmark.extra_info["backend"] = backend_name

        def run() -> int:
            claim = state.claim(CANDIDATES, "1700000000.42", all=ring)
            return int(state.release(claim))

        freed = benchmark(run)
        assert freed == (3 if ring else 1)
        assert all(d.busy == 0 for d in state.destinations_now())
