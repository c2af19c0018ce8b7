"""Time-plan lookups, native beside the pure-Python reference (opt-in: ``make bench``)."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import routecore.backend.native as native
import routecore.py as ref

BACKENDS = {"native": native, "py": ref}
SLOTS = {
    "office": ["mon-fri 09:00-18:00"],
    "mobile": ["mon-fri 18:00-09:00", "sat,sun 09:00-09:00"],
}
START = int(datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
BATCH = {"native": 1_000_000, "py": 20_000}


def plan(backend: ModuleType) -> Any:
    return backend.TimePlan.build(
        SLOTS, dates={"2026-12-31": {"office": ["00:00-15:00"]}}, default="mobile"
    )


@pytest.mark.benchmark(group="timeplan: one slot_id_at from Python")
@pytest.mark.parametrize("name", list(BACKENDS))
def test_slot_id_at(benchmark: Any, name: str) -> None:
    benchmark.extra_info["backend"] = name
    p = plan(BACKENDS[name])
    t = START + 280 * 86400 + 10 * 3600
    benchmark.extra_info["slot"] = p.slot_names[p.slot_id_at(t)]
    benchmark(p.slot_id_at, t)


@pytest.mark.benchmark(group="timeplan: one slot_at(datetime) from Python")
@pytest.mark.parametrize("name", list(BACKENDS))
def test_slot_at_datetime(benchmark: Any, name: str) -> None:
    benchmark.extra_info["backend"] = name
    p = plan(BACKENDS[name])
    when = datetime(2026, 10, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    benchmark(p.slot_at, when)


@pytest.mark.benchmark(group="timeplan: slot_ids_at batch (per instant)")
@pytest.mark.parametrize("name", list(BACKENDS))
def test_slot_ids_at(benchmark: Any, name: str) -> None:
    benchmark.extra_info["backend"] = name
    p = plan(BACKENDS[name])
    n = BATCH[name]
    epochs = np.random.default_rng(0).integers(START, START + 365 * 86400, n, dtype=np.int64)
    expected = native.TimePlan.from_buffer(p.to_bytes()).slot_ids_at(epochs)
    out = benchmark(p.slot_ids_at, epochs)
    assert (out == expected).all()
    benchmark.extra_info["items"] = n
