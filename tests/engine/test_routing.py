"""Routing a group with the shared state (native core and Python twin)."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

import routecore.backend.native
import routecore.py
from routecore.engine.dialer import route

GROUP = ["13800138000", "13900139000", "02161234567"]


@pytest.fixture(params=["native", "py"])
def be(request):
    backend = routecore.backend.native if request.param == "native" else routecore.py
    if not hasattr(backend, "State"):
        pytest.skip(f"{request.param} backend has no State yet")
    return backend


def make(be, tmp_path, **kw):
    state = be.State.create(tmp_path / "state", destinations=64, memory=64, numbers=8)
    group = be.Group.build(GROUP, **kw)
    return state, group


def test_claims_the_first_idle_destination_in_order(be, tmp_path):
    state, group = make(be, tmp_path, idle_first=True)
    busy = state.claim([GROUP[0]], "other-call")
    r = route(state, group, "c1")
    assert r.claim.numbers == (GROUP[1],) and r.claimed == 0
    assert [a.targets for a in r.attempts] == [(1,), (2,), (0,)]
    state.release(busy)
    state.release(r.claim)


def test_without_idle_first_a_busy_first_attempt_is_skipped(be, tmp_path):
    state, group = make(be, tmp_path)
    state.claim([GROUP[0]], "other-call")
    r = route(state, group, "c1")
    assert r.claimed == 1 and r.claim.numbers == (GROUP[1],)


def test_simultaneous_claims_every_idle_destination(be, tmp_path):
    state, group = make(be, tmp_path, mode="simultaneous", idle_first=True)
    state.claim([GROUP[2]], "other-call")
    r = route(state, group, "c1")
    assert sorted(r.claim.numbers) == sorted(GROUP[:2])
    assert state.release(r.claim, keep=GROUP[0]) == 1  # the one that answered stays claimed
    assert state.destination(GROUP[0]).busy == 1 and state.destination(GROUP[1]).busy == 0


def test_call_memory_puts_the_last_answering_agent_first(be, tmp_path):
    state, group = make(be, tmp_path)
    now = time.time()
    state.remember("4008001234", "13700137000", GROUP[2], now)
    r = route(state, group, "c1", did="4008001234", caller="13700137000", at=now)
    assert r.preferred == GROUP[2] and r.claim.numbers == (GROUP[2],)
    state.release(r.claim)
    state.set_online(GROUP[2], False)  # the remembered agent logged out: the group's order
    r = route(state, group, "c2", did="4008001234", caller="13700137000", at=now)
    assert r.claim.numbers == (GROUP[0],)
    r2 = route(state, group, "c3", did="4008001234", caller="13700137000", at=now, memory=False)
    assert r2.preferred is None


def test_nothing_idle_gives_no_claim(be, tmp_path):
    state, group = make(be, tmp_path)
    for n in GROUP:
        state.claim([n], "other")
    r = route(state, group, "c1")
    assert r.claim is None and r.claimed is None and len(r.attempts) == 3


def _race(backend_name, path, barrier, results):
    backend = routecore.backend.native if backend_name == "native" else routecore.py
    state = backend.State.open(path)
    group = backend.Group.build(GROUP, mode="random")
    barrier.wait()
    r = route(state, group, f"call-{mp.current_process().pid}", seed=mp.current_process().pid)
    results.put(None if r.claim is None else r.claim.numbers)


def test_two_calls_never_both_get_the_last_idle_destination(be, tmp_path):
    state, _ = make(be, tmp_path)
    state.claim([GROUP[0]], "x")
    state.claim([GROUP[2]], "y")  # only GROUP[1] is idle
    ctx = mp.get_context("fork")
    n = 6
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(be.NAME, str(tmp_path / "state"), barrier, results))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    winners = [g for g in got if g is not None]
    assert winners == [(GROUP[1],)]
