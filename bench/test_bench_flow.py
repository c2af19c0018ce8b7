"""Compiling and opening the routing image of 10,000 numbers × 100 destinations each.

Compiling is measured per flow with both backends building the tables; opening is measured for
an image of 10 numbers and one of 10,000 (it must not grow with the number of flows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import routecore.backend.native
import routecore.py
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}
NUMBERS = {"native": 10_000, "py": 200}  # the reference compiles a sample


def _template() -> Any:
    data = {
        "number": "4000000000",
        "start": "hours",
        "destinations": {
            f"d{i}": {"number": f"138{i:08d}", "weight": 1 + i % 7} for i in range(100)
        },
        "groups": {
            "all": {
                "members": [f"d{i}" for i in range(100)],
                "mode": "weighted",
                "idle_first": True,
            },
            "night": {"members": ["d0", "d1"]},
        },
        "routes": {
            "hours": {
                "by": "time",
                "slots": {"office": {"when": ["mon-fri 09:00-18:00"], "to": "areas"}},
                "otherwise": "night",
            },
            "areas": {"by": "area", "areas": {"010": "all", "0755": "all"}, "default": "all"},
        },
        "blacklist": {"numbers": ["13812345678"], "prefixes": ["170"]},
    }
    return validate_flow(data, source="4000000000.yaml")[0]


def _flows(n: int) -> list[Any]:
    t = _template()
    return [t.model_copy(update={"number": f"400{i:07d}"}) for i in range(n)]


@pytest.mark.parametrize("name", list(BACKENDS))
def test_compile(benchmark: Any, name: str) -> None:
    flows = _flows(NUMBERS[name])
    benchmark.group = "compile flows of 100 destinations (per flow)"
    benchmark.extra_info["backend"] = name
    benchmark.extra_info["items"] = len(flows)
    image = benchmark.pedantic(
        compile_flows, args=(flows,), kwargs={"core": BACKENDS[name]}, rounds=1, iterations=1
    )
    benchmark.extra_info["image_bytes"] = len(image)


@pytest.fixture(scope="module")
def images(tmp_path_factory: Any) -> dict[int, Path]:
    d = tmp_path_factory.mktemp("flow-images")
    out = {}
    for n in (10, 10_000):
        path = d / f"{n}.img"
        path.write_bytes(compile_flows(_flows(n)))
        out[n] = path
    return out


@pytest.mark.parametrize("name", list(BACKENDS))
@pytest.mark.parametrize("numbers", [10, 10_000])
def test_open(benchmark: Any, images: dict[int, Path], name: str, numbers: int) -> None:
    benchmark.group = f"open the image of {numbers} numbers × 100 destinations"
    benchmark.extra_info["backend"] = name
    image = benchmark(BACKENDS[name].Image.open, images[numbers])
    assert image.group("4000000003/group/all").mode == "weighted"
