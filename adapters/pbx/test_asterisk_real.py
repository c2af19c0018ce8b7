"""Real calls through a real Asterisk 22 and ``routecore-asterisk serve`` (``make test-pbx``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from pbxharness import Pbx, Server, Site, call, check_call_back, load, server, transfer, wait_for

EXPORT = "13800138003"  # 4006001003, keys 1 2: rings 1 s, answers, talks 3 s, hangs up
OPERATOR = "075523456780"  # 4006001003, key 0: answers at once, stays until the caller leaves
SEAT = "13800138000"  # a seat's phone: answers at once, stays until the other side hangs up
CUSTOMER = "13900139001"  # rings 1 s, answers, talks 3 s, hangs up


@pytest.fixture(scope="module")
def serving(site: Site, asterisk: Pbx) -> Iterator[Server]:
    s = server(site, "asterisk").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def _fresh(site: Site) -> None:
    site.clear_calls()


def dest_times(pbx: Pbx, number: str) -> tuple[float, float]:
    """When the harness logged ``DEST <number> answered`` and ``... ended`` (the PBX's clock)."""
    text = pbx.log_text()

    def at(event: str) -> float:
        found = re.findall(rf"^\[([0-9-]+ [0-9:.]+)\].*DEST {number} {event}", text, re.M)
        assert found, f"no DEST {number} {event} in the log"
        return datetime.strptime(found[-1], "%Y-%m-%d %H:%M:%S.%f").timestamp()

    return at("answered"), at("ended")


def test_talk_time_is_the_conversation_not_the_prompts(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    """Billing: talk = the agent's answer to the end of the bridge, whatever the prompts took
    before it (they took ~4 s here: greeting, two menus, the transfer prompt)."""
    c = call(asterisk, "4006001003", digits="12", hold=20)
    assert "answered" in c.result()
    rec = site.record()
    answered, ended = dest_times(asterisk, EXPORT)
    assert rec["outcome"] == "answered" and rec["answered_by"] == EXPORT
    assert abs((ended - answered) - rec["talk_seconds"]) <= 1.0, (ended - answered, rec)
    assert abs(rec["answer"] - answered) <= 1.0 and abs(rec["end"] - ended) <= 1.0
    assert rec["end"] > rec["answer"] > rec["start"]
    assert site.busy() == {}


def test_an_agents_outbound_call_shows_the_400_number(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    c = call(asterisk, "913800138001", caller="801", hold=10)
    assert "answered" in c.result()
    seen = re.findall(r"DEST 13800138001 mode=\S+ caller=(\S+)", asterisk.log_text())
    assert seen and seen[-1] == "4006001003"  # not the agent's own 801
    rec = site.record()
    assert rec["kind"] == "outbound" and rec["caller"] == "801"


def test_a_blacklisted_caller_is_declined_with_603(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    c = call(asterisk, "4006009007", caller="13812345678")
    assert c.result() == ["rejected 603"]
    assert site.record()["outcome"] == "blacklisted"


def test_a_killed_server_loses_no_record_and_double_books_no_agent(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    """kill -9 while an agent talks: the PBX keeps them bridged; the restarted server keeps the
    agent claimed until the PBX says the call ended, then frees them and completes the record."""
    c = call(asterisk, "4006001003", digits="0", hold=14)
    wait_for(lambda: site.busy().get(OPERATOR) and "DEST " + OPERATOR + " answered"
             in asterisk.log_text(), 20, "the operator answers")  # fmt: skip
    time.sleep(1.0)  # they talk (the answer's journal row is batched: at most 0.1 s)
    serving.kill()
    [row] = site.open_calls()  # the call's journal row, with the agent it holds
    assert row.claimed == (OPERATOR,) and row.answered_by == OPERATOR
    assert site.busy() == {}  # a dead owner's lease: the next claim would take the agent
    serving.start()
    assert site.busy() == {OPERATOR: 1}  # adopted before the server listens
    # a second caller for the operator while the first still talks: the operator is busy
    second = call(asterisk, "4006001003", caller="13900000001", digits="0", hold=3)
    second.result()
    assert "answered" in c.result()
    freed = wait_for(lambda: not site.busy() and time.time(), 10, "the agent is freed")
    _, ended = dest_times(asterisk, OPERATOR)
    assert freed - ended <= 5.0
    rows = {r["caller"]: r for r in site.records()}
    first = rows["13900000000"]
    assert first["outcome"] == "answered" and first["recovered"] == "pbx"
    assert abs(first["end"] - ended) <= 2.0
    assert rows["13900000001"]["answered_by"] != OPERATOR or rows["13900000001"]["start"] > ended
    assert site.open_calls() == []


def test_a_seat_transfers_its_caller_to_another_seat(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    """V5: the portal's transfer (AMI Getvar BRIDGEPEER, Setvar ROUTECORE_TRANSFER, Hangup of
    the agent's leg) on a real call: the engine rings the new seat, the old one is free at
    once, the record names both and bills both conversations."""
    c = call(asterisk, "4006001003", digits="0", hold=25)
    # the journal's answer (the claim comes before the transfer prompt, the answer after it)
    [row] = wait_for(lambda: [r for r in site.open_calls() if r.answered_by == OPERATOR], 20,
                     "the operator answers")  # fmt: skip
    time.sleep(1.0)  # they talk
    peer = transfer("asterisk", row.channel, EXPORT)
    assert peer.startswith(f"Local/{OPERATOR}@destinations-")
    wait_for(lambda: site.busy().get(EXPORT), 10, "the new seat is claimed")
    assert OPERATOR not in site.busy()  # the old seat is free while the caller is moved on
    assert "answered" in c.result()
    rec = site.record()
    first = dest_times(asterisk, OPERATOR)
    second = dest_times(asterisk, EXPORT)
    assert rec["answered_by"] == OPERATOR and rec["talked_with"] == [OPERATOR, EXPORT]
    assert rec["transfers"] == [EXPORT] and rec["outcome"] == "answered"
    talked = (first[1] - first[0]) + (second[1] - second[0])
    assert abs(talked - rec["talk_seconds"]) <= 1.5, (talked, rec)
    assert site.busy() == {} and site.open_calls() == []


def test_a_seat_calls_a_customer_back_from_the_portal(
    site: Site, asterisk: Pbx, serving: Server
) -> None:
    """B3 from the seat's page (the portal's click to call): the PBX rings the seat's phone,
    then the customer, who sees the 400 number; the engine records the seat as the caller and
    holds it while they talk, so no inbound call is offered to it meanwhile."""
    check_call_back(site, asterisk, SEAT, CUSTOMER)


def test_load(
    site: Site, asterisk: Pbx, serving: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """100 calls at 20/s (bench/pbx_real.py measures more): none fails, each has its record;
    the CPU per call of both sides is printed."""
    result = load(asterisk, site, serving.pid, "4006009100", rate=20, calls=100, hold_ms=3000)
    with capsys.disabled():
        print(f"\nAsterisk load: {result.calls} calls, routecore {result.routecore_ms:.2f} ms a"
              f" call, Asterisk {result.pbx_ms:.2f} ms")  # fmt: skip
    assert result.failed == 0 and result.answered == result.calls
    assert site.open_calls() == [] and site.busy() == {}
