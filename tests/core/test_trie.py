from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routecore.backend.native as native
import routecore.py as ref
from routecore.errors import LayoutError, TrieError

AREAS = {"010": 1, "020": 2, "0755": 3, "075": 4}


def test_longest_prefix_and_exact(backend):
    t = backend.Trie.build(AREAS, exact={"13800138000": 9, "0755": 5})
    assert t.longest("075512345678") == (3, 4)
    assert t.lookup("01012345678") == 1
    assert t.longest("0756") == (4, 3)
    assert t.longest("0755") == (5, 4)  # the exact entry wins on the whole input
    assert t.lookup("13800138000") == 9
    assert t.lookup("138001380001") is None  # exact entries match the whole input only
    assert t.lookup("02") is None
    assert t.get("075") == 4 and t.get("07") is None
    assert t.lookup("01a0") is None and t.lookup("010a") == 1
    assert t.lookup("😀") is None and t.lookup("") is None
    assert len(t) == 6


def test_catch_all_prefix(backend):
    t = backend.Trie.build([("", 0), ("1", 1)])
    assert t.lookup("999") == 0 and t.lookup("") == 0 and t.longest("12") == (1, 1)


@pytest.mark.parametrize(
    "entries",
    [{"12a": 1}, {"１２": 1}, {"1" * 65: 1}, {"1": -1}, {"1": 2**32 - 1}, [("1", 1), ("1", 2)]],
)
def test_bad_entries_raise_trie_error(backend, entries):
    with pytest.raises(TrieError):
        backend.Trie.build(entries)


def test_bad_buffers(backend):
    good = backend.Trie.build(AREAS).to_bytes()
    for cut in range(len(good)):
        with pytest.raises(LayoutError):
            backend.Trie.from_buffer(good[:cut])
    with pytest.raises(LayoutError, match="not a RCTR table"):
        backend.Trie.from_buffer(b"RCSG" + good[4:])
    with pytest.raises(LayoutError, match="layout version 2"):
        backend.Trie.from_buffer(good[:4] + b"\x02" + good[5:])
    rnd = random.Random(7)
    for _ in range(200):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
        with pytest.raises(LayoutError):
            backend.Trie.from_buffer(junk)


def test_corrupt_body_is_caught_by_verify_and_never_crashes(backend):
    good = bytearray(backend.Trie.build(AREAS, exact={"13800138000": 9}).to_bytes())
    rnd = random.Random(3)
    for _ in range(300):
        bad = bytearray(good)
        for _ in range(3):
            bad[rnd.randrange(16, len(bad))] = rnd.randrange(256)
        try:
            t = backend.Trie.from_buffer(bytes(bad))
        except LayoutError:
            continue  # a count field was hit: refused at open, which is fine
        for key in ("075512345678", "13800138000", "0", ""):
            t.longest(key)  # any answer, never an exception or a crash
        if bad != good:
            with pytest.raises(LayoutError, match="checksum"):
                t.verify()


def test_reads_in_place_from_a_memoryview(backend):
    data = bytearray(b"\0" * 8) + backend.Trie.build(AREAS).to_bytes()
    t = backend.Trie.from_buffer(memoryview(data)[8:])
    assert t.lookup("0755") == 3


keys = st.text(alphabet="0123456789", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    prefixes=st.dictionaries(keys, st.integers(0, 2**32 - 2), max_size=40),
    exact=st.dictionaries(keys, st.integers(0, 2**32 - 2), max_size=40),
    queries=st.lists(st.text(alphabet="0123456789x", max_size=14), max_size=30),
)
def test_native_matches_reference(prefixes, exact, queries):
    a = native.Trie.build(prefixes, exact)
    b = ref.Trie.build(prefixes, exact)
    assert a.to_bytes() == b.to_bytes()
    b2 = ref.Trie.from_buffer(a.to_bytes())
    for q in queries + list(prefixes) + list(exact):
        assert a.longest(q) == b.longest(q) == b2.longest(q)
        # the answer really is the longest matching key
        # (an exact entry beats a prefix entry of the same key)
        cands = [(len(k), 0, v) for k, v in prefixes.items() if q.startswith(k)]
        if q in exact:
            cands.append((len(q), 1, exact[q]))
        expected = max(cands, default=None)
        assert a.longest(q) == (None if expected is None else (expected[2], expected[0]))
