"""Ring selection (B9 idle-first, V3 call memory) and the group table, on both backends."""

from __future__ import annotations

import mmap
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routecore
import routecore.backend.native as native
import routecore.py as ref
from routecore.errors import LayoutError, SelectionError

NUMBERS = ["13800138000", "01065529988", "8001", "13912345678", "02161234567"]


def targets(attempts: list) -> list[tuple[int, ...]]:
    return [a.targets for a in attempts]


def singles(*order: int) -> list[tuple[int, ...]]:
    return [(i,) for i in order]


def flat(attempts: list) -> list[int]:
    return [i for a in attempts for i in a.targets]


# --- each mode's known behaviour ---------------------------------------------------------


def test_modes_are_exported():
    assert native.MODES == ref.MODES == routecore.MODES
    assert ref.MODES == ("sequential", "round_robin", "random", "weighted", "simultaneous")


def test_sequential_is_list_order_with_the_ring_timeout(backend):
    g = backend.Group.build(NUMBERS, ring_timeout=35)
    got = g.attempts()
    assert targets(got) == singles(0, 1, 2, 3, 4)
    assert all(a.timeout == 35 for a in got)
    assert got[0] == backend.Attempt((0,), 35)
    assert repr(got[0]) == "Attempt(targets=(0,), timeout=35)"


def test_round_robin_starts_after_the_cursor_and_wraps(backend):
    g = backend.Group.build(NUMBERS, mode="round_robin")
    assert targets(g.attempts()) == singles(0, 1, 2, 3, 4)
    assert targets(g.attempts(cursor=1)) == singles(2, 3, 4, 0, 1)
    assert targets(g.attempts(cursor=4)) == singles(0, 1, 2, 3, 4)
    # The cursor means nothing to the other modes.
    assert targets(backend.Group.build(NUMBERS).attempts(cursor=2)) == singles(0, 1, 2, 3, 4)


def test_round_robin_idle_first_keeps_the_rotation_in_each_part(backend):
    g = backend.Group.build(NUMBERS, mode="round_robin", idle_first=True)
    idle = [True, False, True, False, True]
    assert targets(g.attempts(cursor=2, idle=idle)) == singles(4, 0, 2, 3, 1)


def test_simultaneous_is_one_attempt(backend):
    g = backend.Group.build(NUMBERS, mode="simultaneous", ring_timeout=15)
    assert g.attempts() == [backend.Attempt((0, 1, 2, 3, 4), 15)]


def test_simultaneous_idle_first_rings_idle_then_busy(backend):
    g = backend.Group.build(NUMBERS, mode="simultaneous", idle_first=True)
    idle = [False, True, False, True, True]
    assert targets(g.attempts(idle=idle)) == [(1, 3, 4), (0, 2)]
    # An empty part gives no attempt.
    assert targets(g.attempts(idle=[False] * 5)) == [(0, 1, 2, 3, 4)]
    assert targets(g.attempts(idle=[True] * 5)) == [(0, 1, 2, 3, 4)]
    # Without idle_first the flags change nothing.
    plain = backend.Group.build(NUMBERS, mode="simultaneous")
    assert targets(plain.attempts(idle=idle)) == [(0, 1, 2, 3, 4)]


def test_simultaneous_with_preferred(backend):
    g = backend.Group.build(NUMBERS, mode="simultaneous")
    assert targets(g.attempts(preferred=3)) == [(3,), (0, 1, 2, 4)]
    gi = backend.Group.build(NUMBERS, mode="simultaneous", idle_first=True)
    idle = [False, True, False, True, True]
    assert targets(gi.attempts(preferred=3, idle=idle)) == [(3,), (1, 4), (0, 2)]


def test_idle_first_sequential(backend):
    g = backend.Group.build(NUMBERS, idle_first=True)
    assert targets(g.attempts(idle=[False, True, False, True, True])) == singles(1, 3, 4, 0, 2)


@pytest.mark.parametrize("mode", ["random", "weighted"])
def test_idle_first_random_modes_put_every_idle_one_first(backend, mode):
    dests = list(zip(NUMBERS, [1, 2, 3, 4, 5], strict=True))
    g = backend.Group.build(dests, mode=mode, idle_first=True)
    idle = [False, True, False, True, True]
    for seed in range(50):
        order = flat(g.attempts(seed=seed, idle=idle))
        assert sorted(order[:3]) == [1, 3, 4]
        assert sorted(order[3:]) == [0, 2]


@pytest.mark.parametrize("mode", ["sequential", "round_robin", "random", "weighted"])
def test_preferred_idle_goes_first_alone(backend, mode):
    g = backend.Group.build(NUMBERS, mode=mode)
    for seed in range(20):
        got = g.attempts(seed=seed, preferred=2, cursor=3)
        assert got[0].targets == (2,)
        assert sorted(flat(got[1:])) == [0, 1, 3, 4]


def test_preferred_rest_keeps_the_mode_order(backend):
    assert targets(backend.Group.build(NUMBERS).attempts(preferred=2)) == singles(2, 0, 1, 3, 4)
    rr = backend.Group.build(NUMBERS, mode="round_robin")
    assert targets(rr.attempts(preferred=1, cursor=3)) == singles(1, 4, 0, 2, 3)


@pytest.mark.parametrize(
    "mode", ["sequential", "round_robin", "random", "weighted", "simultaneous"]
)
def test_preferred_busy_is_ignored(backend, mode):
    g = backend.Group.build(NUMBERS, mode=mode, idle_first=True)
    idle = [True, True, False, True, True]
    for seed in range(20):
        kw = {"seed": seed, "idle": idle, "cursor": 1}
        assert g.attempts(preferred=2, **kw) == g.attempts(**kw)
    # Without idle_first too: a busy preferred keeps its normal place.
    g = backend.Group.build(NUMBERS, mode=mode)
    assert g.attempts(seed=3, idle=idle, preferred=2) == g.attempts(seed=3, idle=idle)


def test_weight_zero_comes_last_in_list_order(backend):
    g = backend.Group.build(
        [("1001", 0), ("1002", 5), ("1003", 0), ("1004", 1), ("1005", 9)], mode="weighted"
    )
    for seed in range(200):
        order = flat(g.attempts(seed=seed))
        assert order[3:] == [0, 2]
        assert sorted(order[:3]) == [1, 3, 4]
    all_zero = backend.Group.build([("1001", 0), ("1002", 0), ("1003", 0)], mode="weighted")
    assert targets(all_zero.attempts(seed=5)) == singles(0, 1, 2)


def test_random_is_forward_fisher_yates_on_splitmix64(backend):
    g = backend.Group.build(NUMBERS, mode="random")
    for seed in range(30):
        rng = backend.SplitMix64(seed)
        order = list(range(5))
        for i in range(4):
            j = i + rng.below(5 - i)
            order[i], order[j] = order[j], order[i]
        assert flat(g.attempts(seed=seed)) == order


def test_weighted_draws_walk_the_remaining_in_list_order(backend):
    weights = [3, 0, 1, 6]
    g = backend.Group.build(
        [(n, w) for n, w in zip(NUMBERS, weights, strict=False)], mode="weighted"
    )
    for seed in range(30):
        rng = backend.SplitMix64(seed)
        remaining, out = [0, 2, 3], []
        while len(remaining) > 1:
            r = rng.below(sum(weights[i] for i in remaining))
            k = 0
            while r >= weights[remaining[k]]:
                r -= weights[remaining[k]]
                k += 1
            out.append(remaining.pop(k))
        assert flat(g.attempts(seed=seed)) == [*out, *remaining, 1]


def test_same_seed_same_order_other_seed_other_order(backend):
    g = backend.Group.build([f"{1000 + i}" for i in range(30)], mode="random")
    assert g.attempts(seed=7) == g.attempts(seed=7)
    assert g.attempts(seed=7) != g.attempts(seed=8)


# --- the group object ------------------------------------------------------------------


def test_group_properties(backend):
    g = backend.Group.build(
        ["13800138000", ("01065529988", 7), ["8001", 0]],
        mode="weighted",
        idle_first=True,
        ring_timeout=45,
    )
    assert g.numbers == ["13800138000", "01065529988", "8001"]
    assert g.weights == [1, 7, 0]
    assert (g.mode, g.idle_first, g.ring_timeout, len(g)) == ("weighted", True, 45, 3)
    assert repr(g) == "Group(n=3, mode='weighted', idle_first=True, ring_timeout=45)"


def test_attempt_value_semantics(backend):
    a = backend.Attempt([1, 2], 20)
    assert a == backend.Attempt((1, 2), 20)
    assert a != backend.Attempt((1, 2), 21)
    assert a != backend.Attempt((2, 1), 20)
    assert hash(a) == hash(backend.Attempt((1, 2), 20))
    assert a.targets == (1, 2) and a.timeout == 20
    assert repr(a) == "Attempt(targets=(1, 2), timeout=20)"
    assert a != (1, 2)
    for bad in [((), 20), ((100,), 20), ((-1,), 20), ((1,), 0), ((1,), 601)]:
        with pytest.raises(SelectionError):
            backend.Attempt(*bad)


def test_round_trip_in_place(backend):
    g = backend.Group.build([("13800138000", 3), "8001"], mode="random", ring_timeout=30)
    data = g.to_bytes()
    assert data[:4] == b"RCGR" and len(data) % 8 == 0
    assert struct.unpack_from("<H", data, 4)[0] == 1
    for buf in (data, bytearray(data), memoryview(data), data + b"\0" * 16):
        h = backend.Group.from_buffer(buf)
        h.verify()
        assert h.to_bytes() == data
        assert h.numbers == g.numbers and h.weights == g.weights
        assert h.attempts(seed=4) == g.attempts(seed=4)


def test_from_mmap(backend, tmp_path):
    data = backend.Group.build(NUMBERS).to_bytes()
    path = tmp_path / "group.bin"
    path.write_bytes(data)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        g = backend.Group.from_buffer(m)
        assert g.numbers == NUMBERS
        del g


def test_tables_are_byte_identical_across_backends():
    dests = [("13800138000", 3), "01065529988", ("8001", 0)]
    for mode in ref.MODES:
        a = native.Group.build(dests, mode=mode, idle_first=True, ring_timeout=99)
        b = ref.Group.build(dests, mode=mode, idle_first=True, ring_timeout=99)
        assert a.to_bytes() == b.to_bytes()


# --- validation ------------------------------------------------------------------------

BAD_BUILDS = [
    ([], {}, "1 to 100 destinations, got 0"),
    ([f"{1000 + i}" for i in range(101)], {}, "1 to 100 destinations, got 101"),
    ("13800138000", {}, "not a str"),
    (["12"], {}, "number '12' must be 3 to 20 ASCII digits"),
    (["1" * 21], {}, "must be 3 to 20 ASCII digits"),
    (["138-0013"], {}, "must be 3 to 20 ASCII digits"),
    (["１２３４"], {}, "must be 3 to 20 ASCII digits"),
    (["1234", "5678", "1234"], {}, "destination 2: number '1234' repeats destination 0"),
    ([("1234", -1)], {}, "destination 0: weight must be an int in 0..65535, got -1"),
    ([("1234", 65536)], {}, "weight must be an int in 0..65535, got 65536"),
    ([("1234", 1.5)], {}, "weight must be an int in 0..65535, got 1.5"),
    ([("1234", True)], {}, "weight must be an int in 0..65535, got True"),
    ([("1234", 2**70)], {}, f"got {2**70}"),
    ([("1234", 1, 2)], {}, "pair has 2 items, got 3"),
    ([1234], {}, "destination 0: expected a number or a (number, weight) pair, got int"),
    ([(1234, 1)], {}, "destination 0: number must be a str, got int"),
    (["1234"], {"mode": "hunt"}, "unknown mode 'hunt'"),
    (["1234"], {"ring_timeout": 0}, "ring_timeout must be 1 to 600 seconds, got 0"),
    (["1234"], {"ring_timeout": 601}, "ring_timeout must be 1 to 600 seconds, got 601"),
]


@pytest.mark.parametrize(("dests", "kwargs", "message"), BAD_BUILDS)
def test_bad_builds_name_the_problem(backend, dests, kwargs, message):
    with pytest.raises(SelectionError) as e:
        backend.Group.build(dests, **kwargs)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle": [True] * 4}, "idle has 4 flags for a group of 5 destinations"),
        ({"idle": [True] * 6}, "idle has 6 flags"),
        ({"cursor": 5}, "cursor 5 is out of range for a group of 5 destinations"),
        ({"cursor": -1}, "cursor -1 is out of range"),
        ({"preferred": 5}, "preferred 5 is out of range"),
        ({"preferred": -3}, "preferred -3 is out of range"),
        ({"preferred": 2**70}, "out of range"),
        ({"seed": -1}, "seed must be an int in 0..2**64-1, got -1"),
        ({"seed": 2**64}, "seed must be an int in 0..2**64-1"),
    ],
)
def test_bad_requests_name_the_problem(backend, kwargs, message):
    g = backend.Group.build(NUMBERS, mode="round_robin")
    with pytest.raises(SelectionError) as e:
        g.attempts(**kwargs)
    assert message in str(e.value)


def test_idle_accepts_any_sequence_of_truthy_values(backend):
    g = backend.Group.build(NUMBERS, idle_first=True)
    want = singles(1, 3, 0, 2, 4)
    assert targets(g.attempts(idle=[0, 1, 0, 1, 0])) == want
    assert targets(g.attempts(idle=(False, True, False, True, False))) == want
    assert targets(g.attempts(idle=b"\0\1\0\1\0")) == want


# --- bad buffers -----------------------------------------------------------------------


def _table() -> bytes:
    dests = [("13800138000", 3), ("01065529988", 0), "8001"]
    return ref.Group.build(dests, mode="weighted").to_bytes()


def test_empty_and_foreign_buffers(backend):
    for buf in (b"", b"R", b"RCG", b"RCTR" + bytes(28), b"hello world, not a table at all!"):
        with pytest.raises(LayoutError):
            backend.Group.from_buffer(buf)


def test_every_truncation_is_a_layout_error(backend):
    data = _table()
    for cut in range(len(data)):
        with pytest.raises(LayoutError):
            backend.Group.from_buffer(data[:cut])


def test_other_version_is_a_layout_error(backend):
    data = bytearray(_table())
    struct.pack_into("<H", data, 4, 2)
    with pytest.raises(LayoutError, match="version 2"):
        backend.Group.from_buffer(bytes(data))


@pytest.mark.parametrize(
    ("offset", "fmt", "value"),
    [
        (16, "<H", 0),  # no destinations
        (16, "<H", 101),  # too many
        (16, "<H", 60),  # entries past the end
        (18, "<B", 5),  # unknown mode
        (19, "<B", 2),  # unknown flag
        (20, "<H", 0),  # ring timeout
        (20, "<H", 601),
        (24, "<I", 10_000),  # pool past the end
        (8, "<I", 24),  # length too short for the fixed fields
    ],
)
def test_bad_fixed_fields_are_layout_errors(backend, offset, fmt, value):
    data = bytearray(_table())
    struct.pack_into(fmt, data, offset, value)
    with pytest.raises(LayoutError):
        backend.Group.from_buffer(bytes(data))


def test_corrupt_entries_fail_on_read_and_verify(backend):
    data = bytearray(_table())
    struct.pack_into("<I", data, 32 + 8, 1000)  # number 1 points outside the pool
    g = backend.Group.from_buffer(bytes(data))  # O(1) open does not walk the entries
    with pytest.raises(LayoutError, match="outside the pool"):
        g.numbers  # noqa: B018
    with pytest.raises(LayoutError):
        g.verify()


def test_every_flipped_byte_is_caught_or_harmless(backend):
    data = _table()
    for at in range(len(data)):
        if at in (6, 7):
            continue  # the header's flags: not under the CRC, read by no table yet
        for bit in (0x01, 0x80, 0xFF):
            buf = bytearray(data)
            buf[at] ^= bit
            try:
                g = backend.Group.from_buffer(bytes(buf))
            except LayoutError:
                continue
            with pytest.raises(LayoutError):
                g.verify()
            try:
                g.numbers  # noqa: B018
            except LayoutError:
                pass
            g.attempts(seed=at)


@given(st.binary(max_size=200))
def test_random_bytes_are_layout_errors(data):
    for b in (native, ref):
        with pytest.raises(LayoutError):
            b.Group.from_buffer(data)


@given(st.binary(min_size=1, max_size=120))
def test_random_bodies_never_crash(body):
    head = bytearray(_table()[:16])
    buf = head + body
    buf += b"\0" * (-len(buf) % 8)
    struct.pack_into("<I", buf, 8, len(buf))
    for b in (native, ref):
        try:
            g = b.Group.from_buffer(bytes(buf))
        except LayoutError:
            continue
        try:
            g.numbers  # noqa: B018
            g.verify()
        except LayoutError:
            pass
        g.attempts(seed=1)


# --- differential: native against the reference ----------------------------------------

numbers_st = st.lists(
    st.text("0123456789", min_size=3, max_size=20), min_size=1, max_size=100, unique=True
)


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    numbers = draw(numbers_st)
    n = len(numbers)
    weights = draw(
        st.lists(st.one_of(st.integers(0, 3), st.integers(0, 65535)), min_size=n, max_size=n)
    )
    build = {
        "mode": draw(st.sampled_from(ref.MODES)),
        "idle_first": draw(st.booleans()),
        "ring_timeout": draw(st.integers(1, 600)),
    }
    request = {
        "seed": draw(st.integers(0, 2**64 - 1)),
        "idle": draw(st.none() | st.lists(st.booleans(), min_size=n, max_size=n)),
        "cursor": draw(st.none() | st.integers(0, n - 1)),
        "preferred": draw(st.none() | st.integers(0, n - 1)),
    }
    return list(zip(numbers, weights, strict=True)), build, request


def _plain(attempts: list) -> list[tuple[tuple[int, ...], int]]:
    return [(a.targets, a.timeout) for a in attempts]


@settings(max_examples=400, deadline=None)
@given(cases())
def test_native_and_reference_agree(case):
    dests, build, request = case
    a = native.Group.build(dests, **build)
    b = ref.Group.build(dests, **build)
    assert a.to_bytes() == b.to_bytes()
    got = a.attempts(**request)
    assert _plain(got) == _plain(b.attempts(**request))
    n = len(dests)
    # A partition of the group's indices: each exactly once, no empty attempt.
    assert all(x.targets for x in got)
    assert sorted(flat(got)) == list(range(n))
    assert all(x.timeout == build["ring_timeout"] for x in got)
    if build["mode"] == "simultaneous":
        assert len(got) <= 3
    else:
        assert all(len(x.targets) == 1 for x in got)
    # Opening the other backend's bytes gives the same again.
    assert _plain(ref.Group.from_buffer(a.to_bytes()).attempts(**request)) == _plain(got)


# --- distribution: chi-square of the first choice ----------------------------------------

SEEDS = 20000


def _chi_square(counts: list[int], expected: list[float]) -> float:
    return sum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True))


def test_random_first_choice_is_uniform(backend):
    n = 10
    g = backend.Group.build([f"{1000 + i}" for i in range(n)], mode="random")
    counts = [0] * n
    for seed in range(SEEDS):
        counts[g.attempts(seed=seed)[0].targets[0]] += 1
    # Critical value of chi-square with 9 degrees of freedom at p = 0.001.
    assert _chi_square(counts, [SEEDS / n] * n) < 27.877


def test_weighted_first_choice_is_proportional_to_weight(backend):
    weights = [1, 2, 3, 4, 10, 0]
    g = backend.Group.build([(f"{1000 + i}", w) for i, w in enumerate(weights)], mode="weighted")
    counts = [0] * len(weights)
    for seed in range(SEEDS):
        counts[g.attempts(seed=seed)[0].targets[0]] += 1
    assert counts[5] == 0
    total = sum(weights)
    # Critical value of chi-square with 4 degrees of freedom at p = 0.001.
    expected = [SEEDS * w / total for w in weights[:5]]
    assert _chi_square(counts[:5], expected) < 18.467


def test_weighted_second_choice_follows_the_remaining_weights(backend):
    # First draw takes 0 (weight 1 of 4) or 1 (weight 3 of 4); a 2-destination group also
    # checks the zero-draw tail. With a third of weight 4: P(second = 2 | first = 1) = 4/5.
    g = backend.Group.build([("1000", 1), ("1001", 3), ("1002", 4)], mode="weighted")
    pairs: dict[tuple[int, int], int] = {}
    for seed in range(SEEDS):
        order = flat(g.attempts(seed=seed))
        pairs[order[0], order[1]] = pairs.get((order[0], order[1]), 0) + 1
    # Exact probabilities of the first two draws.
    p = {
        (0, 1): 1 / 8 * 3 / 7,
        (0, 2): 1 / 8 * 4 / 7,
        (1, 0): 3 / 8 * 1 / 5,
        (1, 2): 3 / 8 * 4 / 5,
        (2, 0): 4 / 8 * 1 / 4,
        (2, 1): 4 / 8 * 3 / 4,
    }
    counts = [pairs.get(k, 0) for k in p]
    # Critical value of chi-square with 5 degrees of freedom at p = 0.001.
    assert _chi_square(counts, [SEEDS * v for v in p.values()]) < 20.515
