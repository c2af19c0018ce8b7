"""Random ends of a scripted call (hypothesis): the caller hangs up at any step in any of the
orders Asterisk may write it, the PBX stalls at any step, or its bytes stop anywhere (EOF).
Whatever happens, nothing escapes the server (no ERROR logged, its task ends), the server
closes the socket, no claim leaks, no command carries a forbidden character, and a call whose
environment arrived leaves exactly one record."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fakeast import (
    FakeAsterisk,
    Ring,
    Scenario,
    busy,
    check_call,
    environment,
    errors_logged,
    records,
    run,
    serving,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.adapter.runtime import Runtime

NO_TIMEOUT = (b"EXEC Dial ", b"RECORD FILE ", b"EXEC ConfBridge ")
"""Commands that take the call's own time: the server waits for them without a limit (a
stall there is the call going on, not a stalled PBX)."""

FLOWS = {
    "4006001003": st.lists(st.sampled_from(["1", "2", "0", "9", "*", "7", ""]), max_size=5),
    "4006001006": st.lists(st.sampled_from(["1", "2", "8", ""]), max_size=4),
    "8006001007": st.lists(st.sampled_from(["1", "2", "20261", "3", ""]), max_size=4),
}
AFTER_HANGUP = (b"GET VARIABLE ", b"EXEC StopMixMonitor ")
"""What the server may still send once the caller hung up (Asterisk runs these dead)."""
_ids = itertools.count()


@pytest.fixture
def quick(host: Runtime) -> Iterator[Runtime]:
    runtime = Runtime(replace(host.config, reply_timeout=0.2))
    yield runtime
    runtime.close()
    runtime.state.close()


rings = st.builds(
    Ring,
    status=st.sampled_from(["ANSWER", "ANSWER", "BUSY", "NOANSWER", "CHANUNAVAIL"]),
    talk=st.integers(0, 3600),
    second=st.sampled_from([None, None, "13800138002", "075523456782", "13800138101"]),
    result=st.sampled_from([0, -1]),
)


@st.composite
def plans(draw: Any) -> dict[str, Any]:
    did = draw(st.sampled_from(sorted(FLOWS)))
    return {
        "did": did,
        "digits": draw(FLOWS[did]),
        "rings": draw(st.lists(rings, max_size=4)),
        "record_ms": draw(st.sampled_from([0, 4000, 90000])),
        "hangup_at": draw(st.none() | st.integers(0, 14)),
        "inflight": draw(st.sampled_from(["511", "reply-first", "hangup-first"])),
        "dead_variables": draw(st.sampled_from(["511", "answer", "asterisk"])),
        "stall_at": draw(st.none() | st.integers(0, 14)),
        "cut_at": draw(st.none() | st.integers(0, 1200)),
        "caller": draw(st.sampled_from(["13800138000", "02112345678", "anonymous", ""])),
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_random_ends_of_a_call(quick: Runtime, plan: dict[str, Any]) -> None:
    call_id = f"hyp-{next(_ids)}"
    env = environment(dnid=plan["did"], caller=plan["caller"], uniqueid=call_id)

    def no_stall_in_a_long_command(k: int, line: bytes, fake: FakeAsterisk) -> None:
        if k == fake.scenario.stall_at and line.startswith(NO_TIMEOUT):
            fake.scenario.stall_at = k + 1

    scenario = Scenario(
        digits=plan["digits"],
        rings=plan["rings"],
        record_ms=plan["record_ms"],
        hangup_at=plan["hangup_at"],
        inflight=plan["inflight"],
        dead_variables=plan["dead_variables"],
        stall_at=plan["stall_at"],
        cut_at=plan["cut_at"],
        on_step=no_stall_in_a_long_command,
    )

    async def body() -> FakeAsterisk:
        async with serving(quick) as served:
            fake = FakeAsterisk(scenario, env, wait=5)
            await fake.call(served.port)
            await served.settle()
            assert not served.server.tasks
            return fake

    with errors_logged() as errors:
        fake = run(body(), timeout=20)
    assert [r.getMessage() for r in errors.records] == []
    check_call(fake)
    step = plan["hangup_at"]
    if step is not None and len(fake.lines) > step and plan["stall_at"] != step:
        live = [line for line in fake.lines[step + 1 :] if not line.startswith(AFTER_HANGUP)]
        assert len(live) <= (1 if plan["inflight"] == "reply-first" else 0), fake.lines
    assert busy(quick) == {}, "a claim leaked"
    rows = records(quick, call_id)
    arrived = plan["cut_at"] is None or plan["cut_at"] >= len(env)
    assert len(rows) == (1 if arrived else 0), rows
    if rows and plan["stall_at"] is None and plan["cut_at"] is None:
        assert rows[0]["outcome"] != "error"  # "error": only a PBX that broke the protocol
