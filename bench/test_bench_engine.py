"""The call engine: one complete call through ``CallSession`` — greeting, a menu key, one dial
attempt claimed in the shared state, answered, hang-up, the record — native beside the
pure-Python reference (its own tables, state and classifier).

Also a simultaneous-ring call: the group rings its four phones at once, the first answers
(``Answered``: the other three are released at once), then the conversation ends.

Run with ``make bench``. Aim (issue 10): at least 3x faster than the 26.9 us of a complete call
before the engine was built once per image.
"""

from __future__ import annotations

from typing import Any

import pytest

import routecore.backend.native
import routecore.py
from routecore.engine import CallSession
from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    CallStarted,
    Dial,
    DialResult,
    Digits,
)
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}
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


SIMULTANEOUS = {
    **FLOW,
    "groups": {"sales": {**FLOW["groups"]["sales"], "mode": "simultaneous"}},  # type: ignore[dict-item]
}


def _bench_calls(
    benchmark: Any, tmp_path: Any, backend_name: str, flow: dict[str, Any], pickup: bool
) -> None:
    backend = BACKENDS[backend_name]
    validated = validate_flow(flow, source="4006001003.yaml")[0]
    image = backend.Image.from_buffer(compile_flows([validated], core=backend))
    classify = backend.default_classifier().classify
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
                if pickup:
                    s.handle(Answered(dial.targets[0]))
                s.handle(DialResult("answered", dial.targets[0], 60))
                s.handle(CallerHungUp())
                answered += s.record is not None and s.record.outcome == "answered"
            return answered

        assert benchmark(run) == CALLS
        assert all(d.busy == 0 for d in state.destinations_now())


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_complete_call(benchmark: Any, tmp_path: Any, backend_name: str) -> None:
    benchmark.group = "complete call: greeting, menu, dial, answer, hang-up (per call)"
    _bench_calls(benchmark, tmp_path, backend_name, FLOW, pickup=False)


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_simultaneous_ring_call(benchmark: Any, tmp_path: Any, backend_name: str) -> None:
    benchmark.group = "simultaneous ring: 4 phones, the first answers, the rest freed (per call)"
    _bench_calls(benchmark, tmp_path, backend_name, SIMULTANEOUS, pickup=True)
