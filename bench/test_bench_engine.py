"""The call engine: one complete call through ``CallSession`` — greeting, a menu key, one dial
attempt claimed in the shared state, answered, hang-up, the record — native beside the
pure-Python reference (its own tables, state and classifier).

Run with ``make bench``. Aim (issue 6): 20,000 complete calls a second on one core, native.
"""

from __future__ import annotations

from typing import Any

import pytest

import routecore.native
import routecore.py
from routecore.actions import CallerHungUp, CallStarted, Dial, DialResult, Digits
from routecore.engine import CallSession
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows

BACKENDS = {"native": routecore.native, "py": routecore.py}
CALLS = 200  # calls per round: the harness's own overhead is spread over them
START = 1_795_000_000.0  # a Wednesday, 2026-11-18 15:46 in Shanghai

FLOW = {
    "number": "4006001003",
    "greeting": "welcome",
    "start": "main",
    "prompts": {"welcome": "welcome.wav", "main": "main.wav"},
    "recording": True,
    "destinations": {f"d{i}": {"number": f"1380013800{i}", "agent_id": 801 + i} for i in range(4)},
    "groups": {
        "sales": {
            "members": [f"d{i}" for i in range(4)],
            "mode": "sequential",
            "idle_first": True,
            "announce_agent_id": True,
        }
    },
    "menus": {"main": {"prompt": "main", "keys": {"1": "sales", "0": "hangup"}}},
    "blacklist": {"numbers": ["13812345678"], "prefixes": ["170"]},
}


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_complete_call(benchmark: Any, tmp_path: Any, backend_name: str) -> None:
    backend = BACKENDS[backend_name]
    flow = validate_flow(FLOW, source="4006001003.yaml")[0]
    image = backend.Image.from_buffer(compile_flows([flow], core=backend))
    classify = backend.default_classifier().classify
    benchmark.group = "complete call: greeting, menu, dial, answer, hang-up (per call)"
    benchmark.extra_info["backend"] = backend_name
    benchmark.extra_info["items"] = CALLS
    with backend.State.create(str(tmp_path / "state")) as state:

        def run() -> int:
            answered = 0
            for i in range(CALLS):
                s = CallSession(image, state, seed=i, classify=classify)
                s.handle(CallStarted("4006001003", "13900139000", START + i, f"c{i}"))
                actions = s.handle(Digits("1"))
                dial = actions[-1]
                assert isinstance(dial, Dial)
                s.handle(DialResult("answered", dial.targets[0], 60))
                s.handle(CallerHungUp())
                answered += s.record is not None and s.record.outcome == "answered"
            return answered

        assert benchmark(run) == CALLS
        assert all(d.busy == 0 for d in state.destinations_now())
