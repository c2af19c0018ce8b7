"""Graceful shutdown: ``Server.shutdown()`` stops accepting at once, lets the calls in progress
end for up to ``drain`` seconds, then cancels the rest; a cancelled call still ends properly
(claims released, record written, socket closed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

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

from routecore.adapter.runtime import Runtime

DIAL = 5


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def dialling(fake: FakeAsterisk) -> Callable[[], bool]:
    return lambda: any(line.startswith(b"EXEC Dial ") for line in fake.lines)


def test_shutdown_waits_for_a_call_that_ends_within_drain(host: Runtime) -> None:
    runtime = Runtime(replace(host.config, drain=5.0))
    seen: dict[str, object] = {}

    async def body() -> tuple[FakeAsterisk, float]:
        async with serving(runtime) as served:
            scenario = Scenario(digits=["1", "1"], rings=[Ring(delay=0.6, talk=1)])
            fake = FakeAsterisk(scenario, environment(uniqueid="drained"))
            call = asyncio.create_task(fake.call(served.port))
            await until(dialling(fake))
            seen["held"] = busy(runtime)
            t0 = time.monotonic()
            stopping = asyncio.create_task(served.server.shutdown())
            await asyncio.sleep(0.05)
            try:  # no new call is accepted while the others drain
                _r, w = await asyncio.open_connection("127.0.0.1", served.port)
                w.close()
                seen["new"] = "accepted"
            except OSError:
                seen["new"] = "refused"
            await stopping
            waited = time.monotonic() - t0
            await call
            return fake, waited

    try:
        with errors_logged() as errors:
            fake, waited = run(body())
    finally:
        runtime.close()
    assert errors.records == []
    assert seen["new"] == "refused"
    assert len(seen["held"]) == 1  # type: ignore[arg-type]
    assert 0.4 < waited < 3.0, waited
    check_call(fake)
    assert fake.commands()[-1] == "EXEC Hangup 16"  # the call ended on its own
    (rec,) = records(host, "drained")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 1
    assert busy(host) == {}


def test_shutdown_cancels_a_call_still_going_after_drain(host: Runtime) -> None:
    runtime = Runtime(replace(host.config, drain=0.3))

    async def body() -> tuple[FakeAsterisk, float, dict[str, int]]:
        async with serving(runtime) as served:
            # the Dial never ends (a long conversation): only the drain limit ends the call
            scenario = Scenario(digits=["1", "1"], rings=[Ring()], stall_at=DIAL)
            fake = FakeAsterisk(scenario, environment(uniqueid="cut"))
            call = asyncio.create_task(fake.call(served.port))
            await until(dialling(fake))
            held = busy(runtime)
            t0 = time.monotonic()
            await served.server.shutdown()
            waited = time.monotonic() - t0
            await asyncio.wait_for(call, 5)
            assert not served.server.tasks
            return fake, waited, held

    try:
        with errors_logged() as errors:
            fake, waited, held = run(body())
    finally:
        runtime.close()
    assert errors.records == []
    assert list(held.values()) == [1]
    assert 0.25 < waited < 2.0, waited
    assert fake.closed_by_server and not fake.stalled_server
    assert len(fake.lines) == DIAL + 1
    assert busy(host) == {}, "the cancelled call kept its claim"
    (rec,) = records(host, "cut")
    assert rec["outcome"] == "drained" and rec["end"] is not None  # the caller did not hang up


def test_shutdown_with_no_call_returns_at_once(host: Runtime) -> None:
    async def body() -> float:
        async with serving(host) as served:
            t0 = time.monotonic()
            await served.server.shutdown()
            return time.monotonic() - t0

    assert run(body()) < 0.5


def test_a_conversation_outlasts_the_drain_and_a_second_signal_cuts_the_rest(
    host: Runtime,
) -> None:
    """A deploy never frees an agent who is talking: Asterisk bridges the conversation whatever
    the adapter does. After ``drain`` the server cancels the calls not in a conversation and
    waits for the conversations; the one that ends on its own keeps its answer and talk time,
    and a second signal (``force``) cuts the one still talking."""
    runtime = Runtime(replace(host.config, drain=0.2))

    async def body() -> tuple[float, dict[str, int], dict[str, int]]:
        async with serving(runtime) as served:
            # conversations of 1.0 s and of ever (a stall after the answer)
            talk = FakeAsterisk(
                Scenario(digits=["1", "1"], rings=[Ring(talk=1, delay=1.0)]),
                environment(uniqueid="talking"),
            )
            ring = FakeAsterisk(
                Scenario(digits=["2"], rings=[Ring(delay=30.0)]),
                environment(uniqueid="long", caller="13900139000"),
            )
            calls = [asyncio.create_task(f.call(served.port)) for f in (talk, ring)]
            await until(lambda: len(busy(runtime)) == 2)
            await until(lambda: len(talk.answers) == 1 and len(ring.answers) == 1)
            held = busy(runtime)
            force = asyncio.Event()
            t0 = time.monotonic()
            stopping = asyncio.create_task(served.server.shutdown(force))
            await asyncio.wait_for(calls[0], 5)  # the first conversation ends on its own
            after_first = busy(runtime)
            assert not stopping.done()  # the other one still talks: the server waits
            force.set()
            await asyncio.wait_for(stopping, 5)
            calls[1].cancel()  # the fake Asterisk still "talks" (its Dial reply is 30 s away)
            return time.monotonic() - t0, held, after_first

    try:
        with errors_logged() as errors:
            waited, held, after_first = run(body())
    finally:
        runtime.close()
    assert errors.records == []
    assert sorted(held.values()) == [1, 1]
    assert len(after_first) == 1  # the talking agent of the other call is still claimed
    assert waited > 0.8, waited  # far beyond drain: the conversation was waited for
    (rec,) = records(host, "talking")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 1
    (cut,) = records(host, "long")
    assert cut["answer"] is not None  # cut by the second signal, its answer kept
    assert busy(host) == {}
