"""The caller hangs up at every step of a complete call (4006001003: keys 1 1, the domestic
group answers): Asterisk writes ``HANGUP`` inline and answers 511 from then on. Whatever the
step, the server ends the call cleanly and closes the socket, every claim is released and the
call leaves exactly one record."""

from __future__ import annotations

import pytest
from fakeast import (
    FakeAsterisk,
    Ring,
    Scenario,
    busy,
    check_call,
    environment,
    records,
    run,
    serving,
)

from routecore.adapter.runtime import Runtime

STEPS = 8  # ANSWER, welcome, main menu, sales menu, transfer, Dial, its result, Hangup
DIAL = 5
AFTER_HANGUP = (
    "GET VARIABLE ",
    "GET FULL VARIABLE ",
    "EXEC StopMixMonitor ",
)  # what Asterisk still answers


def complete(host: Runtime) -> list[str]:
    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            return await served.call(
                Scenario(digits=["1", "1"], rings=[Ring()]), environment(uniqueid="whole")
            )

    return run(body()).commands()


@pytest.mark.parametrize("dead_variables", ["511", "answer"])
@pytest.mark.parametrize("inflight", ["511", "reply-first", "hangup-first"])
@pytest.mark.parametrize("step", range(STEPS))
def test_hangup_at_every_step(host: Runtime, step: int, inflight: str, dead_variables: str) -> None:
    whole = complete(host)
    assert len(whole) == STEPS and whole[DIAL].startswith("EXEC Dial ")
    seen: dict[str, dict[str, int]] = {}

    def look(k: int, line: bytes, fake: FakeAsterisk) -> None:
        if k == DIAL:
            seen["dial"] = busy(host)

    scenario = Scenario(
        digits=["1", "1"],
        rings=[Ring(talk=9)],
        hangup_at=step,
        inflight=inflight,
        dead_variables=dead_variables,
        on_step=look,
    )

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            return await served.call(scenario, environment(uniqueid=f"h-{step}"))

    fake = run(body())
    check_call(fake)
    sent = fake.commands()
    # nothing but what the complete call sends (the dial target may differ: weighted), and
    # ANSWEREDTIME when the Dial was answered without its answer subroutine reaching us
    sent = [c for c in sent if c != "GET VARIABLE ANSWEREDTIME_MS"]
    assert len(sent) <= STEPS
    for i, (got, full) in enumerate(zip(sent, whole, strict=False)):
        if i != DIAL:
            assert got == full.replace("whole", f"h-{step}"), (i, got)
    # after the HANGUP only what Asterisk answers on a dead channel (when Asterisk writes the
    # reply first, one command may cross its HANGUP on the wire)
    live = [c for c in sent[step + 1 :] if not c.startswith(AFTER_HANGUP)]
    assert len(live) <= (1 if inflight == "reply-first" else 0), sent
    if step >= DIAL:
        assert set(seen["dial"].values()) == {1}, "the Dial rang without a claim"
    assert busy(host) == {}, "a claim outlived the call"
    rows = records(host, f"h-{step}")
    assert len(rows) == 1, rows
    rec = rows[0]
    if step < DIAL or (step == DIAL and inflight == "511"):
        assert rec["answered_by"] is None  # hung up before anyone answered
    if step == DIAL and inflight == "hangup-first":  # Dial's reply and variables say who
        assert (rec["answered_by"] is None) == (dead_variables == "511")
    if step == DIAL and inflight == "reply-first":
        assert fake.answers and rec["answer"] is not None  # talked, then hung up
    if step > DIAL + 1:  # the Dial's result was read in full
        assert rec["outcome"] == "answered" and rec["talk_seconds"] == 9
    assert rec["outcome"] != "error"


@pytest.mark.parametrize("dead_variables", ["answer", "asterisk", "511"])
def test_the_caller_hangs_up_during_a_recorded_conversation(
    host: Runtime, dead_variables: str
) -> None:
    """The usual end of a recorded call: the caller hangs up while talking; Dial returns, then
    ``HANGUP``. The record keeps who answered, the talk time and the recording's reference
    even when Asterisk refuses the StopMixMonitor that follows (511): the file exists, and
    without its reference the retention purge (B8) would never find it."""
    dial = 4  # ANSWER, welcome, main menu, MixMonitor, Dial
    scenario = Scenario(
        digits=["1", "2"],
        rings=[Ring(talk=50, result=-1)],
        hangup_at=dial,
        inflight="reply-first",
        dead_variables=dead_variables,
    )

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            env = environment(dnid="8006001007", uniqueid="rec-1")
            return await served.call(scenario, env)

    fake = run(body())
    check_call(fake)
    sent = fake.commands()
    assert sent[3].startswith("EXEC MixMonitor ") and sent[dial].startswith("EXEC Dial ")
    assert busy(host) == {}
    (rec,) = records(host, "rec-1")
    assert rec["answered_by"] in ("13800138100", "13800138101") and rec["answer"] is not None
    assert rec["recorded"]
    if dead_variables != "511":  # the Dial's result was read
        assert sent[dial + 1 :] == [
            "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
            'EXEC StopMixMonitor ""',
        ]
        assert rec["outcome"] == "answered" and rec["talk_seconds"] == 50
        assert rec["recording"] == "rec-1.wav"
