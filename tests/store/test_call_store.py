"""The call store: records from real sessions, reports and CSV, retention (purge), SMS outbox."""

from __future__ import annotations

import io
import multiprocessing
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import routecore
from routecore.engine import CallRecord, CallSession
from routecore.engine.actions import (
    CallerHungUp,
    CallStarted,
    DialResult,
    Digits,
    SurveyResult,
    VoicemailResult,
)
from routecore.engine.sms import Sms
from routecore.errors import StoreError
from routecore.flow import load_flow
from routecore.flow.compile import compile_flows
from routecore.store import CallStore, day_range, months_before, report_rows, write_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SH = ZoneInfo("Asia/Shanghai")


def at(y, mo, d, h=10, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=SH).timestamp()


@pytest.fixture(scope="module")
def image():
    flows = [load_flow(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return routecore.Image.from_buffer(compile_flows(flows))


@pytest.fixture
def store(located):
    with CallStore(located("calls.db")) as s:
        yield s


def run(image, store, did, caller, start, call_id, *events):
    s = CallSession(image, None, seed=1, records=store)
    s.handle(CallStarted(did, caller, start, call_id))
    for ev in events:
        s.handle(ev)
    s.handle(CallerHungUp())  # a call still going ends here (nothing when it has ended)
    return s.record


def test_records_of_real_calls_come_back_whole(image, store):
    t = at(2026, 11, 23)
    rec = run(
        image, store, "4006001003", "13900000000", t, "c1",
        Digits("1", t + 5), Digits("2", t + 9),
        DialResult("answered", "13800138003", 61, "rec-c1", t + 80),
    )  # fmt: skip
    (row,) = store.calls("4006001003")
    assert row["branches"] == ["main.1", "sales.2"] and row["tried"] == ["13800138003"]
    assert CallRecord(**{k: v for k, v in row.items() if not k.endswith("_purged")}) == rec
    assert rec.caller_kind == "mobile" and rec.caller_area == "0991"  # 1390000: Urumqi


def test_branch_survey_recording_and_voicemail_reports(image, store):
    t = at(2026, 11, 23)
    survey_key = "1"  # 8006001007: menu key 1 -> service group with a survey
    for i, rating in enumerate([1, 1, 4, None]):
        run(
            image, store, "8006001007", "13900000000", t + i, f"s{i}",
            Digits(survey_key), DialResult("answered", "13800138100", 30, f"rec-s{i}"),
            SurveyResult(rating),
        )  # fmt: skip
    run(image, store, "4006001006", "13900000001", t, "v1", Digits("8"), VoicemailResult("vm-1", 9))
    run(image, store, "4006001003", "13900000002", t, "m1", Digits("1"), Digits("*"), Digits("1"))
    assert store.branch_stats("4006001003") == [
        {"did": "4006001003", "branch": "main.1", "calls": 1},  # twice in one call: one call
        {"did": "4006001003", "branch": "sales.*", "calls": 1},
    ]
    assert [dict(r) for r in store.survey_results("8006001007")] == [
        {
            "did": "8006001007",
            "agent": "13800138100",
            "surveyed": 3,
            "very_satisfied": 2,
            "satisfied": 0,
            "average": 0,
            "dissatisfied": 1,
            "mean_rating": 2.0,
        }
    ]
    assert [r["recording"] for r in store.recordings("8006001007")] == [
        "rec-s0", "rec-s1", "rec-s2", "rec-s3",
    ]  # fmt: skip
    assert [r["voicemail"] for r in store.voicemails()] == ["vm-1"]


def test_date_range_is_whole_days_in_the_numbers_zone(store):
    for i, (d, h) in enumerate([(22, 23), (23, 0), (23, 23), (24, 0)]):
        store.add(CallRecord(f"c{i}", "4006001001", "13900000000", start=at(2026, 11, d, h, 30)))
    lo, hi = day_range(date(2026, 11, 23), date(2026, 11, 23))
    assert [r["call_id"] for r in store.calls("4006001001", lo, hi)] == ["c1", "c2"]
    assert [r["call_id"] for r in store.calls("4006001001", lo)] == ["c1", "c2", "c3"]
    assert store.calls("4009999999") == []
    with pytest.raises(StoreError, match="ends .* before it starts"):
        day_range(date(2026, 11, 23), date(2026, 11, 22))


def test_csv_export_has_a_header_even_when_empty(image, store):
    t = at(2026, 11, 23)
    run(image, store, "4006001003", "13900000000", t, "c1", Digits("0"))
    out = io.StringIO()
    assert write_csv(report_rows(store, "branches", "4006001003"), out) == 1
    assert out.getvalue() == "did,branch,calls\n4006001003,main.0,1\n"
    out = io.StringIO()
    write_csv(report_rows(store, "calls", "4006001003"), out)
    header, line = out.getvalue().splitlines()
    assert header.startswith("call_id,did,caller,kind,callee,caller_kind,caller_area,start,")
    assert ",2026-11-23T10:00:00+08:00," in line and '"[""main.0""]"' in line
    out = io.StringIO()
    assert write_csv(report_rows(store, "surveys", "4009999999"), out) == 0
    assert out.getvalue().startswith("did,agent,surveyed,very_satisfied,")
    with pytest.raises(StoreError, match="unknown report 'nope'"):
        report_rows(store, "nope")


def test_six_calendar_months_back():
    assert months_before(at(2026, 11, 24), 6) == at(2026, 5, 24)
    assert months_before(at(2026, 8, 31), 6) == at(2026, 2, 28)  # clamped to the month's end
    assert months_before(at(2026, 3, 15), 6) == at(2025, 9, 15)


def test_purge_removes_old_recordings_and_expired_voicemail(tmp_path, store):
    rec_dir, vm_dir = tmp_path / "rec", tmp_path / "vm"
    rec_dir.mkdir(), vm_dir.mkdir()
    now = at(2026, 11, 24)
    calls = [
        ("old", at(2026, 5, 23), "rec-old", None),
        ("edge", at(2026, 5, 24, 10, 1), "rec-edge", None),  # 6 months minus a minute: kept
        ("vm-old", at(2026, 10, 20), None, "vm-old"),
        ("vm-new", at(2026, 11, 20), None, "vm-new"),
    ]
    for call_id, start, recording, voicemail in calls:
        store.add(CallRecord(call_id, "8006001007", "139", start=start, recording=recording,
                             voicemail=voicemail))  # fmt: skip
        for d, ref in ((rec_dir, recording), (vm_dir, voicemail)):
            if ref:
                (d / f"{ref}.wav").write_bytes(b"RIFF")
    (rec_dir / "unrelated.wav").write_bytes(b"RIFF")
    dry = store.purge(now, recordings_dir=rec_dir, voicemail_dir=vm_dir, dry_run=True)
    assert [(p.kind, p.call_id) for p in dry] == [("recording", "old"), ("voicemail", "vm-old")]
    assert (rec_dir / "rec-old.wav").exists()  # a dry run removes nothing
    done = store.purge(now, recordings_dir=rec_dir, voicemail_dir=vm_dir)
    assert [(p.kind, p.reference, p.files) for p in done] == [
        ("recording", "rec-old", (str(rec_dir / "rec-old.wav"),)),
        ("voicemail", "vm-old", (str(vm_dir / "vm-old.wav"),)),
    ]
    assert sorted(p.name for p in rec_dir.iterdir()) == ["rec-edge.wav", "unrelated.wav"]
    assert sorted(p.name for p in vm_dir.iterdir()) == ["vm-new.wav"]
    assert [r["recording"] for r in store.recordings()] == ["rec-edge"]
    assert store.purge(now, recordings_dir=rec_dir, voicemail_dir=vm_dir) == []  # once only
    with pytest.raises(StoreError, match="negative"):
        store.purge(now, voicemail_days=-1)


def test_outbox_keeps_sms_until_marked_sent(store):
    from routecore.engine.sms import Sms

    store.send(Sms("hangup", "8006001007", "13900000000", "【x】hi", "c1", 1.0))
    store.send(Sms("missed_call", "8006001007", "13900000001", "【x】missed", "o1", 2.0))
    pending = store.pending_sms()
    assert [m["to_number"] for m in pending] == ["13900000000", "13900000001"]
    store.mark_sent([pending[0]["id"]], 3.0)
    assert [m["call_id"] for m in store.pending_sms()] == ["o1"]


def test_not_a_call_store(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a call store"):
        CallStore(bad)


def _add_many(path: str, prefix: str) -> None:
    with CallStore(path) as s:
        for i in range(0, 300, 30):
            s.add_many(
                CallRecord(f"{prefix}{j}", "4006001001", "139", start=float(j))
                for j in range(i, i + 30)
            )
            # the same call and SMS from every writer (a batch sent again): stored once
            s.write(records=[CallRecord("same", "4006001001", "139", start=1.0)],
                    sms=[Sms("hangup", "4006001001", "13900000000", "t", "same", 1.0)])  # fmt: skip


def test_three_writers_add_at_once_and_lose_nothing(located):
    """Three processes (hosts, on PostgreSQL) writing at once: every record once."""
    path = located("calls.db")
    CallStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(path, p)) for p in "abc"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with CallStore(path) as s:
        ids = [r["call_id"] for r in s.calls()]
        assert len(ids) == 901 and len(set(ids)) == 901
        assert [r["call_id"] for r in s.pending_sms()] == ["same"]


def test_a_store_of_a_newer_release_is_refused_with_a_clear_message(located):
    path = located("calls.db")
    with CallStore(path) as s:
        s.db.execute("UPDATE routecore_schema SET version = 99 WHERE store = 'calls'")
    with pytest.raises(StoreError, match="schema version 99, made by a newer routecore"):
        CallStore(path)


def test_a_numbers_reports_read_its_own_calls_by_index_never_the_platforms(tmp_path):
    """A statement or report of one number reads that number's calls of the period through the
    (number, start) key, not every number's calls of the month (a platform of 100,000 numbers
    runs one a number); all numbers at once read the period by its start index."""
    import sqlite3

    path = tmp_path / "calls.db"
    plans: list[str] = []

    def trace(store: CallStore) -> None:
        real = store.db.conn

        def explain(sql: str, *args: object) -> object:
            if sql.lstrip().upper().startswith("SELECT"):
                rows = sqlite3.connect(path).execute("EXPLAIN QUERY PLAN " + sql, *args)
                plans.append(" ".join(str(r[-1]) for r in rows))
            return real.execute(sql, *args)

        store.db.execute = explain

    with CallStore(path) as store:
        trace(store)
        for method in ("calls", "branch_stats", "survey_results", "recordings", "voicemails"):
            plans.clear()
            getattr(store, method)("4006001003", 0.0, 1e10)
            assert plans and all("did=?" in p for p in plans), (method, plans)
            plans.clear()
            getattr(store, method)(None, 0.0, 1e10)
            assert all("SCAN calls" not in p or "USING" in p for p in plans), (method, plans)
