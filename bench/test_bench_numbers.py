"""Caller classification: native beside the pure-Python reference and the libraries a user
would otherwise reach for (``phone.Phone().find``, ``phonenumbers`` parse + geocoder).

Run with ``make bench``. Every benchmark of one group measures the same work; the report
(``bench/report.py``) gives each figure's ratio to the native one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import routecore.backend.native
import routecore.py

NUMBER = "13800138000"


def _phone_find() -> Callable[[str], Any]:
    from phone import Phone

    return Phone().find  # type: ignore[no-any-return]


def _phonenumbers() -> Callable[[str], Any]:
    import phonenumbers
    from phonenumbers import geocoder

    def find(n: str) -> str:
        return str(geocoder.description_for_number(phonenumbers.parse(n, "CN"), "zh"))

    find(NUMBER)  # load the geocoder data outside the timing
    return find


ONE = {
    "native": lambda: routecore.backend.native.default_classifier().classify,
    "py": lambda: routecore.py.default_classifier().classify,
    "phone.find": _phone_find,
    "phonenumbers": _phonenumbers,
}


@pytest.mark.parametrize("impl", list(ONE))
def test_classify_one(benchmark: Any, impl: str) -> None:
    fn = ONE[impl]()
    benchmark.group = "classify one mobile number"
    benchmark.extra_info["backend"] = impl
    result = benchmark(fn, NUMBER)
    assert result  # each implementation found the number


def _numbers(n: int) -> np.ndarray:
    """A realistic mix: 80% mobiles, 15% landlines (various formats), 5% service and junk."""
    rng = np.random.default_rng(1)
    seg = rng.integers(1300000, 2000000, n)
    rest = rng.integers(0, 10000, n)
    out = np.char.add(seg.astype("S7"), np.char.zfill(rest.astype("S4"), 4))
    pick = rng.random(n)
    out[pick > 0.80] = b"075512345678"
    out[pick > 0.90] = b"+86 21 6123 4567"
    out[pick > 0.95] = b"4008001234"
    out[pick > 0.98] = b"garbage"
    return out.astype("S16")


BATCH = 1_000_000
SMALL = 10_000


@pytest.mark.parametrize("impl", ["native", "py", "phone.find"])
def test_classify_batch(benchmark: Any, impl: str) -> None:
    """ns per number; the baselines run on 10k numbers (a million would take minutes)."""
    n = BATCH if impl == "native" else SMALL
    numbers = _numbers(n)
    benchmark.group = "classify a batch (per number)"
    benchmark.extra_info["backend"] = impl
    benchmark.extra_info["items"] = n
    if impl == "phone.find":
        find = _phone_find()
        items = [x.decode() for x in numbers]

        def run() -> Any:
            return [find(x) if x[:1] == "1" else None for x in items]

        benchmark.pedantic(run, rounds=3, iterations=1)
        return
    backend = routecore.backend.native if impl == "native" else routecore.py
    backend.default_classifier()
    out = benchmark.pedantic(backend.classify_batch, args=(numbers,), rounds=5, iterations=1)
    assert out.kind.shape == (n,)
