"""``routecore simulate``, ``report`` and ``purge`` as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from routecore.cli import EXIT_OK, EXIT_USAGE
from routecore.engine import CallRecord, CallSession
from routecore.engine.actions import CallStarted, DialResult, Digits, SurveyResult
from routecore.store import CallStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MENU = str(EXAMPLES / "4006001003.yaml")
VISTA = str(EXAMPLES / "8006001007.yaml")
SH = ZoneInfo("Asia/Shanghai")


def test_simulate_prints_each_action_as_text(run):
    code, out, _ = run(
        "simulate", "4006001003", "13900000000", "--flow", MENU, "--at", "2026-11-23 10:00",
        "7", "1", "wait:3", "2", "answer:95",
    )  # fmt: skip
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[:13] == [
        "    +0s > call_started did=4006001003 caller=13900000000 call_id=sim-1",
        "        < play prompt=welcome",
        "        < collect prompt=main_menu max_digits=1 timeout=5",
        "    +0s > digits digits=7",
        "        < play prompt=invalid",
        "        < collect prompt=main_menu max_digits=1 timeout=5",
        "    +0s > digits digits=1",
        "        < collect prompt=sales_menu max_digits=1 timeout=5",
        "    +3s > digits digits=2",
        "        < play prompt=sys_transfer",
        "        < dial targets=13800138003 ring_timeout=20",
        "   +98s > dial_result outcome=answered answered_by=13800138003 talk_seconds=95",
        "        < hangup cause=normal",
    ]
    assert lines[13].startswith("record call_id=sim-1 did=4006001003 ")
    assert "answer=2026-11-23T10:00:03+08:00 end=2026-11-23T10:01:38+08:00" in lines[13]
    assert "branches=main.1,sales.2" in lines[13] and " outcome=answered " in lines[13]


def test_simulate_the_answer_moment(run):
    code, out, _ = run(
        "simulate", "4006001003", "13900000000", "--flow", MENU, "--at", "2026-11-23 10:00",
        "1", "2", "wait:7", "pickup", "keepalive", "answer:95",
    )  # fmt: skip
    assert code == EXIT_OK
    assert "    +7s > answered target=13800138003" in out and "keep_alive" in out
    # the answer time is the pick-up, not the end minus the talk
    assert "answer=2026-11-23T10:00:07+08:00 end=2026-11-23T10:01:42+08:00" in out


def test_a_script_that_is_not_utf8_is_a_usage_error_not_a_traceback(run, tmp_path):
    script = tmp_path / "script.txt"
    script.write_bytes(b"1\n\xff\xfeanswer\n")
    code, _, err = run("simulate", "4006001003", "13900000000", "--flow", MENU,
                       "--script", str(script))  # fmt: skip
    assert code == 2 and "not UTF-8" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_simulate_json_lines_from_a_script_on_stdin(run):
    script = (
        "1   # the service group\nnoanswer\n\n# the second agent answers\nanswer:30\nsurvey:2\n"
    )
    code, out, _ = run(
        "simulate", "8006001007", "13900000000", "--flow", VISTA, "--at", "2026-11-23T10:00",
        "--script", "-", "--json", stdin=script,
    )  # fmt: skip
    assert code == EXIT_OK
    items = [json.loads(line) for line in out.splitlines()]
    types = [i["type"] for i in items]
    assert types == [
        "call_started", "play", "collect", "digits", "dial", "dial_result", "dial",
        "dial_result", "survey", "survey_result", "hangup", "record", "sms",
    ]  # fmt: skip
    first, second = (i for i in items if i["type"] == "dial")
    assert first["announce"] in (805, "zhang_id") and second["record"] is True
    record = items[-2]
    assert (record["outcome"], record["survey"], record["answered_by"]) == (
        "answered", 2, second["targets"][0],
    )  # fmt: skip
    assert record["end"] - record["start"] == 20 + 30  # rang out, then talked
    assert items[-1]["kind"] == "hangup" and items[-1]["to"] == "13900000000"


def test_simulate_outbound_missed_call(run):
    code, out, _ = run(
        "simulate", "8006001007", "13900139000", "--outbound", "13800138100", "--flow", VISTA,
        "--at", "2026-11-24T14:05", "noanswer",
    )  # fmt: skip
    assert code == EXIT_OK
    assert out.splitlines()[-1] == (
        "sms missed_call to=13900139000 text=【远景科技】您好，远景科技 Vista Tech（8006001007）"
        "于2026-11-24 14:05致电您未接通，如需帮助请回拨8006001007。"
    )


def test_simulate_a_published_image(run, tmp_path):
    assert run("compile", MENU, "-o", str(tmp_path / "routes.img"))[0] == EXIT_OK
    code, out, _ = run("simulate", "4006001003", "13900000000", "0", "busy")
    assert code == EXIT_OK and "< dial targets=075523456780 ring_timeout=20" in out
    # the only destination was busy and the group's on_busy hangs up: the call ends busy
    assert "< hangup cause=busy" in out and " outcome=busy " in out.splitlines()[-1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["foo"], "step 'foo': Digits.digits: 'foo' has keys other than"),
        (["wait:x"], "step 'wait:x': not a step"),
        (["answer"], "no Dial to answer yet"),
        (['{"type":"play","prompt":"x"}'], "an Action, not an Event"),
        (["--at", "yesterday"], "not a date or time: 'yesterday'"),
    ],
)
def test_simulate_bad_scripts_are_usage_errors(run, argv, message):
    code, _, err = run("simulate", "4006001003", "13900000000", "--flow", MENU, *argv)
    assert code == EXIT_USAGE and message in err


def _store_with_calls(path: Path) -> None:
    from routecore import Image
    from routecore.flow import load_flow
    from routecore.flow.compile import compile_flows

    image = Image.from_buffer(compile_flows([load_flow(VISTA), load_flow(MENU)]))
    with CallStore(path) as store:
        for day, rating in [(22, 1), (23, 4), (23, 1), (24, 2)]:
            t = datetime(2026, 11, day, 10, tzinfo=SH).timestamp()
            s = CallSession(image, records=store, seed=1)
            dial = s.handle(CallStarted("8006001007", "13900000000", t, f"c{day}{rating}"))
            dial = s.handle(Digits("1"))[-1]
            s.handle(DialResult("answered", dial.targets[0], 30, f"rec-{day}{rating}"))
            s.handle(SurveyResult(rating))
        store.add(CallRecord("old", "8006001007", "139", start=datetime(2026, 1, 5, tzinfo=SH)
                             .timestamp(), recording="rec-old"))  # fmt: skip


def test_report_branches_and_surveys_as_csv(run, tmp_path):
    _store_with_calls(tmp_path / "calls.db")
    code, out, _ = run("report", "branches", "--number", "8006001007", "--calls", "calls.db")
    assert code == EXIT_OK and out == "did,branch,calls\n8006001007,main.1,4\n"
    code, out, _ = run(
        "report", "surveys", "--number", "8006001007", "--from", "2026-11-23", "--to",
        "2026-11-23", "--calls", "calls.db",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["surveyed"], r["very_satisfied"], r["dissatisfied"]) for r in rows] == [
        ("2", "1", "1")
    ]
    code, _, err = run("report", "calls", "--calls", "calls.db", "-o", "calls.csv")
    assert code == EXIT_OK and err.strip() == "calls.csv: 5 rows"
    rows = list(csv.DictReader((tmp_path / "calls.csv").open(encoding="utf-8")))
    assert [r["call_id"] for r in rows] == ["old", "c221", "c231", "c234", "c242"]
    code, out, _ = run("report", "recordings", "--calls", "calls.db", "--json")
    assert [r["recording"] for r in json.loads(out)] == [
        "rec-old", "rec-221", "rec-231", "rec-234", "rec-242",
    ]  # fmt: skip
    code, out, _ = run("report", "calls", "--calls", "calls.db", "--json")
    by_id = {r["call_id"]: r for r in json.loads(out)}  # list columns are JSON arrays
    assert by_id["c221"]["branches"] == ["main.1"] and isinstance(by_id["c221"]["tried"], list)
    [row] = [r for r in rows if r["call_id"] == "c221"]  # and JSON text in a CSV cell
    assert json.loads(row["branches"]) == ["main.1"]
    code, _, err = run("report", "calls", "--from", "2026-11-23", "--to", "2026-11-01")
    assert code != EXIT_OK and "before it starts" in err


def test_purge_lists_what_it_removed(run, tmp_path):
    _store_with_calls(tmp_path / "calls.db")
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "rec-old.wav").write_bytes(b"RIFF")
    (rec / "rec-221.wav").write_bytes(b"RIFF")
    argv = ["purge", "--calls", "calls.db", "--recordings", str(rec), "--now", "2026-11-24"]
    code, out, _ = run(*argv, "--dry-run")
    assert code == EXIT_OK
    assert (
        out
        == "would remove recording rec-old of 8006001007 call old (2026-01-05 00:00): 1 file(s)\n"
    )
    assert (rec / "rec-old.wav").exists()
    code, out, _ = run(*argv)
    assert out.startswith("removed recording rec-old") and not (rec / "rec-old.wav").exists()
    assert run(*argv)[1] == "nothing to purge\n"
    assert (rec / "rec-221.wav").exists()
