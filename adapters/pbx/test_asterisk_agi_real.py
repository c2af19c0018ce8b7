"""Real calls through a real Asterisk 22 and the process-per-call AGI
(``AGI(routecore-asterisk,agi)``, ``make test-pbx``): talk time from ``[rc-answer-time]``'s
``GOSUB_RETVAL``, and a record written by the process itself."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pbxharness import (
    BIN,
    Pbx,
    Server,
    Site,
    call,
    need_asterisk,
    start_pbx,
    stop_pbx,
    wait_for,
)

EXPORT = "13800138003"  # 4006001003, keys 1 2: rings 1 s, answers, talks 3 s, hangs up


@pytest.fixture(scope="module")
def agi_asterisk(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    need_asterisk()
    pbx = start_pbx(
        "asterisk",
        tmp_path_factory.mktemp("pbx-agi"),
        ASTERISK_SIP_PORT="25062",
        ASTERISK_AMI_PORT="25040",
        ROUTECORE_AGI_URL=f"{BIN / 'routecore-asterisk'},agi",  # a process per call
        ROUTECORE_IMAGE=str(site.image),
        ROUTECORE_STATE=str(site.state),
        ROUTECORE_CALLS=str(site.calls),
        ROUTECORE_PROMPTS=str(site.prompts),
        ROUTECORE_RECORDINGS=str(site.recordings),
    )
    try:
        yield pbx
    finally:
        stop_pbx(pbx)


def test_talk_time_from_the_answer_time_subroutine(site: Site, agi_asterisk: Pbx) -> None:
    site.clear_calls()
    c = call(agi_asterisk, "4006001003", digits="12", hold=20)
    assert "answered" in c.result()
    rec = site.record()
    text = agi_asterisk.log_text()

    def at(event: str) -> float:
        found = re.findall(rf"^\[([0-9-]+ [0-9:.]+)\].*DEST {EXPORT} {event}", text, re.M)
        assert found, event
        return datetime.strptime(found[-1], "%Y-%m-%d %H:%M:%S.%f").timestamp()

    answered, ended = at("answered"), at("ended")
    assert "rc-answer-time" in text  # the subroutine ran on the answering channel
    assert rec["outcome"] == "answered" and rec["answered_by"] == EXPORT
    assert abs((ended - answered) - rec["talk_seconds"]) <= 1.0, (ended - answered, rec)
    assert abs(rec["end"] - ended) <= 1.0
    assert site.open_calls() == [] and site.busy() == {}


OPERATOR = "075523456780"  # 4006001003, key 0: answers at once, stays until the caller leaves


def _agi_pids(site: Site) -> list[int]:
    """The process-per-call AGIs running for ``site`` now."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(a.endswith(b"routecore-asterisk") for a in argv) and b"agi" in argv:
            if str(site.calls).encode() in environ:
                found.append(int(proc.name))
    return found


def test_a_killed_agi_is_reconciled_by_the_reconcile_command(site: Site, agi_asterisk: Pbx) -> None:
    """kill -9 of the process-per-call AGI while its agent talks (Asterisk goes on with the
    Dial): `routecore-asterisk reconcile` adopts the call at its next scan, holds the agent
    until Asterisk ends the call, then frees them and completes the record."""
    site.clear_calls()
    reconciler = Server(
        [str(BIN / "routecore-asterisk"), "reconcile", "--pbx",
         f"ami://routecore:routecore@127.0.0.1:{agi_asterisk.env['ASTERISK_AMI_PORT']}",
         "--image", str(site.image), "--state", str(site.state), "--calls", str(site.calls)],
        site.folder / "reconcile.log",
        {k: v for k, v in os.environ.items() if not k.startswith("ROUTECORE_")},
    )  # fmt: skip
    reconciler.start_until(b"reconciling the calls")
    try:
        c = call(agi_asterisk, "4006001003", digits="0", hold=24)
        wait_for(lambda: f"DEST {OPERATOR} answered" in agi_asterisk.log_text(), 20, "answer")
        time.sleep(0.5)
        [pid] = _agi_pids(site)
        os.kill(pid, signal.SIGKILL)
        [row] = wait_for(site.open_calls, 5, "the journal row")
        assert row.claimed and row.protocol == "agi"
        wait_for(lambda: site.busy().get(OPERATOR), 15, "the agent adopted")  # next scan
        assert "answered" in c.result()
        freed = wait_for(lambda: not site.busy() and time.time(), 10, "the agent is freed")
        rec = site.record()
        # the end from Asterisk; who answered is not known (a process per call learns it only
        # when its Dial returns), so the call is `cut`, its agent the one it rang
        assert rec["recovered"] == "pbx" and rec["outcome"] == "cut"
        assert rec["tried"] == [OPERATOR]
        assert freed - rec["end"] <= 5.0
        assert site.open_calls() == []
    finally:
        reconciler.stop()
