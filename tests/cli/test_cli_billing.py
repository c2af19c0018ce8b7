"""``routecore bill``: assign, statement, quote and packages as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from routecore.cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from routecore.engine import CallRecord
from routecore.store import CallStore

SH = ZoneInfo("Asia/Shanghai")
DID = "4006001003"


def _at(*args: int) -> float:
    return datetime(*args, tzinfo=SH).timestamp()


def _calls(path) -> None:
    def rec(i: int, start: float, talk: int, kind: str = "inbound", answered: bool = True):
        return CallRecord(
            call_id=f"c{i}", did=DID, caller="13900000000", kind=kind, start=start,
            answer=start + 5 if answered else None, end=start + 5 + talk,
            talk_seconds=talk, outcome="answered" if answered else "no_answer",
        )  # fmt: skip

    with CallStore(path) as store:
        store.add_many(
            [
                rec(1, _at(2026, 3, 1, 0, 0, 1), 61),  # 2 min, the first second of March
                rec(2, _at(2026, 3, 15, 10), 60 * 1000),  # 1000 min
                rec(3, _at(2026, 3, 20, 10), 0, answered=False),
                rec(4, _at(2026, 3, 21, 10), 90, kind="outbound"),  # 2 min, no gift
                rec(5, _at(2026, 2, 28, 23, 59, 59), 600),  # February (Shanghai)
                rec(6, _at(2026, 4, 1, 0, 0, 0), 600),  # April
            ]
        )


def test_statement_as_text_json_and_csv(run, located, monkeypatch):
    """On either engine: the flow store (terms) and the call store by ROUTECORE_* variables."""
    monkeypatch.setenv("ROUTECORE_STORE", located("routecore.db"))
    monkeypatch.setenv("ROUTECORE_CALLS", located("calls.db"))
    _calls(located("calls.db"))
    code, out, _ = run("bill", "assign", DID, "5000/3年", "--from", "2026-01")
    assert (
        code == EXIT_OK
        and out.strip() == f"{DID}: package 5000/3年 (5000-3y) from 2026-01 to 2028-12"
    )
    code, out, _ = run("bill", "statement", DID, "--month", "2026-03", "--seats", "40")
    assert code == EXIT_OK
    assert "month 3 of 36 (2026-01 to 2028-12)" in out
    assert "inbound calls       2, 1002 min: 80.16" in out
    assert "gift credit         138.89 available, 80.16 used, 58.73 left (lapses)" in out
    assert "outbound calls      1, 2 min: 0.16 (no gift credit)" in out
    assert "seats               40: 30 free, 5 paid by the feature credit, 5 at 18.00" in out
    assert "total               90.16 yuan charged to the balance" in out
    code, out, _ = run("--json", "bill", "statement", DID, "--month", "2026-03", "--seats", "40")
    data = json.loads(out)
    assert (
        data["gift_used"] == "80.16"
        and data["total"] == "90.16"
        and data["inbound_minutes"] == 1002
    )
    code, out, _ = run("bill", "statement", DID, "--month", "2026-03", "--csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["number"] == DID and row["total"] == "0.16" and row["gift_needs_approval"] == "false"


def test_a_month_of_heavy_use_charges_only_the_excess(run, tmp_path):
    _calls(tmp_path / "calls.db")
    run("bill", "assign", DID, "1200-1y", "--from", "2026-03")
    _code, out, _ = run("bill", "statement", DID, "--month", "2026-03", "--json")
    data = json.loads(out)
    assert data["inbound_charges"] == "100.20" and data["gift_available"] == "100.00"
    assert data["gift_used"] == "100.00" and data["inbound_to_balance"] == "0.20"
    assert data["total"] == "0.40"


def test_quote(run):
    code, out, _ = run("bill", "quote", "30000-1y", "--seats", "120")
    assert code == EXIT_OK
    assert "gift credit         20000.00 over 12 months" in out
    assert "needs a director's approval" in out
    assert "seats               120: 60 free, 12 paid by the feature credit, 48 at 12.00" in out
    code, out, _ = run("bill", "quote", "1500/2年", "--json")
    data = json.loads(out)
    assert data["rate"] == "0.12" and data["low_price_rule"] is True and data["months"] == 24
    code, out, _ = run("bill", "packages")
    assert code == EXIT_OK and len(out.splitlines()) == 14


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("bill", "quote", "9999-9y"), EXIT_ERROR, "unknown package '9999-9y'"),
        (("bill", "assign", DID, "nope", "--from", "2026-01"), EXIT_ERROR, "unknown package"),
        (("bill", "statement", DID, "--month", "2029-01"), EXIT_ERROR, "outside the term"),
        (("bill", "statement", "4006009999", "--month", "2026-01"), EXIT_ERROR, "no package"),
        (("bill", "statement", DID, "--month", "2026-13"), EXIT_USAGE, "not a month"),
        (("bill", "quote", "5000-3y", "--seats", "-1"), EXIT_USAGE, "seats"),
        (("bill", "quote", "5000-3y", "--packages", "bad.csv"), EXIT_ERROR, "bad.csv: line 2"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(run, tmp_path, argv, code, message):
    (tmp_path / "bad.csv").write_text(
        "id,name,price_yuan,years,rate_yuan_per_min,number_class,"
        "feature_credit_yuan_per_month,free_seats\nx,y,abc,1,0.1,regular,×,1\n",
        encoding="utf-8",
    )
    run("bill", "assign", DID, "5000-3y", "--from", "2026-01")
    got, _out, err = run(*argv)
    assert got == code and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_help_still_works(run):
    with pytest.raises(SystemExit) as e:
        run("--help")
    assert e.value.code == 0


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("'many'", "is not a whole number of seconds"),
        ("9e999", "is not a whole number of seconds"),  # SQLite's infinity
        ("1e15", "beyond a month"),
        ("2678401", "beyond a month"),
        ("-5", "beyond a month"),
        ("12.5", "is not a whole number of seconds"),
    ],
)
def test_a_record_that_cannot_be_true_stops_the_statement(run, tmp_path, stored, message):
    """A record written by another program (or corrupted) never becomes a bill nor a
    traceback: one line naming the call, exit 4."""
    import sqlite3

    _calls(tmp_path / "calls.db")
    with sqlite3.connect(tmp_path / "calls.db") as db:
        db.execute(f"UPDATE calls SET talk_seconds = {stored} WHERE call_id = 'c2'")
    run("bill", "assign", DID, "5000/3年", "--from", "2026-01")
    code, out, err = run("bill", "statement", DID, "--month", "2026-03")
    assert code == EXIT_ERROR and out == ""
    assert "'c2'" in err and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
