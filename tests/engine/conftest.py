"""The engine's scenarios on the examples' flows: their image and a fresh shared state.
(test_engine_callmodel has a state per backend of its own.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import routecore
from routecore.flow import load_flow
from routecore.flow.compile import compile_flows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def image():
    flows = [load_flow(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return routecore.Image.from_buffer(compile_flows(flows))


@pytest.fixture
def state(tmp_path):
    return routecore.State.create(tmp_path / "state", destinations=256, memory=64, numbers=16)
