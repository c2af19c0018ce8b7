from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import routecore.backend.native as native
import routecore.py as ref


def test_known_splitmix64_sequence(backend):
    r = backend.SplitMix64(0)
    assert [r.next_u64() for _ in range(3)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


@given(seed=st.integers(0, 2**64 - 1), bounds=st.lists(st.integers(0, 2**64 - 1), max_size=30))
def test_native_and_reference_draw_the_same(seed, bounds):
    a, b = native.SplitMix64(seed), ref.SplitMix64(seed)
    for n in bounds:
        x = a.below(n)
        assert x == b.below(n)
        assert n == 0 or 0 <= x < n
    assert a.next_u64() == b.next_u64()
