"""Real calls through a real FreeSWITCH 1.10 and ``routecore-freeswitch serve``
(``make test-pbx``)."""

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
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


@pytest.fixture(scope="module")
def serving(site: Site, freeswitch: Pbx) -> Iterator[Server]:
    s = server(site, "freeswitch").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def _fresh(site: Site) -> None:
    site.clear_calls()


def _time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def logged_at(pbx: Pbx, pattern: str) -> float:
    """When FreeSWITCH logged the last line matching ``pattern`` (a line without a time of
    its own, such as ``EXECUTE``, takes the next line's)."""
    lines = pbx.log_text().splitlines()
    found = None
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            found = i
    assert found is not None, f"nothing like {pattern!r} in the log"
    for line in lines[found:]:
        if m := _STAMP.search(line):
            return _time(m.group(1))
    raise AssertionError(f"no time after {pattern!r}")


def test_talk_time_is_the_conversation(site: Site, freeswitch: Pbx, serving: Server) -> None:
    c = call(freeswitch, "4006001003", digits="12", hold=20)
    assert "answered" in c.result()
    rec = site.record()
    answered = logged_at(freeswitch, f"DEST {EXPORT} answered")
    ended = logged_at(freeswitch, f"DEST {EXPORT} ended")
    assert rec["outcome"] == "answered" and rec["answered_by"] == EXPORT
    assert abs((ended - answered) - rec["talk_seconds"]) <= 1.0, (ended - answered, rec)
    assert abs(rec["end"] - ended) <= 1.0
    assert site.busy() == {}


def test_the_agent_is_announced_before_the_conversation(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    """B10: the caller hears "801" when the agent answers, not after the call (a bridge sent
    with event-lock held the announcement back until the bridge was over)."""
    c = call(freeswitch, "4006001005", hold=20)
    assert "answered" in c.result()
    rec = site.record()
    agent = rec["answered_by"]
    answered = logged_at(freeswitch, f"DEST {agent} answered")
    ended = logged_at(freeswitch, f"DEST {agent} ended")
    played = logged_at(freeswitch, r"EXECUTE .*playback\(file_string://digits/8\.wav")
    assert answered - 0.5 <= played <= answered + 1.5, (answered, played, ended)
    assert played < ended - 1.0


def test_a_blacklisted_caller_is_declined_with_603(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    c = call(freeswitch, "4006009007", caller="13812345678")
    assert c.result() == ["rejected 603"]
    assert site.record()["outcome"] == "blacklisted"


def test_an_agents_outbound_call_shows_the_400_number(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    c = call(freeswitch, "913800138001", caller="801", hold=10)
    assert "answered" in c.result()
    seen = re.findall(r"DEST 13800138001 mode=\S+ caller=(\S+)", freeswitch.log_text())
    assert seen and seen[-1] == "4006001003"
    assert site.record()["kind"] == "outbound"


def test_a_killed_server_loses_no_record_and_double_books_no_agent(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    c = call(freeswitch, "4006001003", digits="0", hold=14)
    wait_for(lambda: site.busy().get(OPERATOR) and f"DEST {OPERATOR} answered"
             in freeswitch.log_text(), 20, "the operator answers")  # fmt: skip
    time.sleep(1.0)  # they talk (the answer's journal row is batched: at most 0.1 s)
    serving.kill()
    [row] = site.open_calls()
    assert row.claimed == (OPERATOR,) and row.answered_by == OPERATOR
    serving.start()
    assert site.busy() == {OPERATOR: 1}
    assert "answered" in c.result()
    freed = wait_for(lambda: not site.busy() and time.time(), 10, "the agent is freed")
    ended = logged_at(freeswitch, f"DEST {OPERATOR} ended")
    assert freed - ended <= 5.0
    rec = site.record()
    assert rec["outcome"] == "answered" and rec["recovered"] == "pbx"
    assert abs(rec["end"] - ended) <= 2.0
    assert site.open_calls() == []


def test_a_seat_transfers_its_caller_to_another_seat(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    """V5: the portal's transfer (ESL uuid_getvar bridge_uuid, uuid_setvar routecore_transfer,
    uuid_kill of the agent's leg) on a real call: the engine rings the new seat, the record
    names both and bills both conversations."""
    c = call(freeswitch, "4006001003", digits="0", hold=25)
    # the journal's answer (the claim comes before the transfer prompt, the answer after it)
    [row] = wait_for(lambda: [r for r in site.open_calls() if r.answered_by == OPERATOR], 20,
                     "the operator answers")  # fmt: skip
    time.sleep(1.0)  # they talk
    transfer("freeswitch", row.channel, EXPORT)
    wait_for(lambda: site.busy().get(EXPORT), 10, "the new seat is claimed")
    assert OPERATOR not in site.busy()
    assert "answered" in c.result()
    rec = site.record()
    assert rec["answered_by"] == OPERATOR and rec["talked_with"] == [OPERATOR, EXPORT]
    assert rec["transfers"] == [EXPORT] and rec["outcome"] == "answered"
    talked = (logged_at(freeswitch, f"DEST {OPERATOR} ended")
              - logged_at(freeswitch, f"DEST {OPERATOR} answered")
              + logged_at(freeswitch, f"DEST {EXPORT} ended")
              - logged_at(freeswitch, f"DEST {EXPORT} answered"))  # fmt: skip
    assert abs(talked - rec["talk_seconds"]) <= 1.5, (talked, rec)
    assert site.busy() == {} and site.open_calls() == []


def test_a_seat_calls_a_customer_back_from_the_portal(
    site: Site, freeswitch: Pbx, serving: Server
) -> None:
    """B3 from the seat's page (the portal's click to call): the PBX rings the seat's phone,
    then the customer, who sees the 400 number; the engine records the seat as the caller and
    holds it while they talk, so no inbound call is offered to it meanwhile."""
    check_call_back(site, freeswitch, SEAT, CUSTOMER)


def test_load(
    site: Site, freeswitch: Pbx, serving: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """100 calls at 20/s (bench/pbx_real.py measures more): none fails, each has its record."""
    result = load(freeswitch, site, serving.pid, "4006009100", rate=20, calls=100, hold_ms=3000)
    with capsys.disabled():
        print(f"\nFreeSWITCH load: {result.calls} calls, routecore {result.routecore_ms:.2f} ms"
              f" a call, FreeSWITCH {result.pbx_ms:.2f} ms")  # fmt: skip
    assert result.failed == 0 and result.answered == result.calls
    assert site.open_calls() == [] and site.busy() == {}
