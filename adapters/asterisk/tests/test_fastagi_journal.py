"""The journal of calls in progress, through the FastAGI server: a call has its row from its
start (with the agent it holds while they talk) and its record replaces the row at the end."""

from __future__ import annotations

import asyncio
from typing import Any

from fakeast import Ring, Scenario, environment, serving

from routecore.adapter.runtime import Runtime


def test_a_call_through_the_server_is_journaled_and_its_row_replaced_by_its_record(
    host: Runtime,
) -> None:
    seen: dict[str, Any] = {}

    def at_the_answer(fake: Any) -> None:
        seen["rows"] = host.calls.open_calls()

    async def body() -> None:
        async with serving(host) as served:
            ring = Ring(talk=5, delay=0.3, on_answer=at_the_answer)
            scenario = Scenario(digits=["1", "1"], rings=[ring])
            await served.call(scenario, environment(uniqueid="j-1"))

    asyncio.run(body())
    [row] = seen["rows"]
    assert row.call_id == "j-1" and row.channel == "j-1" and row.protocol == "fastagi"
    assert len(row.claimed) == 1 and row.record.outcome == "in_progress"
    assert host.calls.open_calls() == []
    [rec] = host.calls.calls()
    assert rec["call_id"] == "j-1" and rec["recovered"] is None
