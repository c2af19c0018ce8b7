"""The shared state: one claim + release pair from Python, native beside the pure-Python twin
(whose every operation takes the file's flock).

Run with ``make bench``.
"""

from __future__ import annotations

from typing import Any

import pytest

import routecore.backend.native
import routecore.py

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}
CANDIDATES = ["13800138001", "13800138002", "13800138003", "13800138004"]


PAIRS = 100  # pairs per round: the harness's own call overhead is spread over them

CASES = {
    "one candidate": (CANDIDATES[1:2], False, 1),
    "first of 4": (CANDIDATES, False, 1),
    "all 4": (CANDIDATES, True, 3),
}


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(CASES))
def test_claim_release(benchmark: Any, tmp_path: Any, backend_name: str, case: str) -> None:
    candidates, ring, held = CASES[case]
    with BACKENDS[backend_name].State.create(str(tmp_path / "state")) as state:
        for i, number in enumerate(CANDIDATES):
            state.add_destination(number, capacity=2, online=i != 0)  # the first is offline
        benchmark.group = f"state claim + release pair ({case}, per pair)"
        benchmark.extra_info["backend"] = backend_name
        benchmark.extra_info["items"] = PAIRS

        def run() -> int:
            freed = 0
            for _ in range(PAIRS):
                freed += state.release(state.claim(candidates, "1700000000.42", all=ring))
            return freed

        assert benchmark(run) == held * PAIRS
        assert all(d.busy == 0 for d in state.destinations_now())
