"""Real calls through a real Asterisk 22 and the process-per-call AGI
(``AGI(routecore-asterisk,agi)``, ``make test-pbx``): talk time from ``[rc-answer-time]``'s
``GOSUB_RETVAL``, and a record written by the process itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from pbxharness import BIN, Pbx, Site, call, need_asterisk, start_pbx, stop_pbx

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
