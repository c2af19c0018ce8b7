"""Clear errors, not tracebacks: every input an operator can get wrong gives one line on
standard error and a documented exit code (``routecore.cli``), and the flow loader turns
every unreadable document into a FlowError (deeply nested JSON, a document over its size
limit) quickly."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import routecore.store.sqlite
from routecore.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from routecore.engine import CallRecord
from routecore.errors import FlowError, StoreError
from routecore.flow import loads_flow
from routecore.flow.loader import MAX_DEPTH, MAX_DOCUMENT_BYTES, parse_text, read_flow_file
from routecore.store import CallStore, FlowStore, day_range, months_before

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MENU = str(EXAMPLES / "4006001003.yaml")
DID = "4006001001"


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    """``main(argv)`` in tmp_path: (exit code, stdout, stderr); an argparse exit counts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROUTECORE_STATE", str(tmp_path / "no-state"))

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _validate(content, source):
    return loads_flow(content, source=source)[0]


# -- the store file -----------------------------------------------------------------------------


def test_a_store_that_is_not_a_database_is_a_one_line_error(run, tmp_path):
    (tmp_path / "bad.db").write_bytes(b"this is not sqlite" * 100)
    code, _, err = run("--store", "bad.db", "history", DID)
    assert code == EXIT_ERROR
    assert one_line(err) == "routecore: bad.db: not a flow store (file is not a database)"
    code, _, err = run("report", "calls", "--calls", "bad.db")
    assert code == EXIT_ERROR and "bad.db: not a call store" in one_line(err)
    (tmp_path / "folder.db").mkdir()
    code, _, err = run("--store", "folder.db", "history", DID)
    assert code == EXIT_ERROR and "folder.db" in one_line(err)


def test_a_store_of_another_schema_is_refused_not_changed(run, tmp_path):
    CallStore(tmp_path / "calls.db").close()
    code, _, err = run("--store", "calls.db", "history", DID)
    assert code == EXIT_ERROR
    assert one_line(err) == (
        "routecore: calls.db: not a flow store (it holds the tables calls, open_calls, sms_outbox)"
    )
    db = sqlite3.connect(tmp_path / "calls.db")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "flow_versions" not in tables  # nothing was added to the other store
    FlowStore(str(tmp_path / "flows.db"), validate=_validate).close()
    code, _, err = run("report", "calls", "--calls", "flows.db")
    assert code == EXIT_ERROR and "flows.db: not a call store (it holds the tables" in err
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("CREATE TABLE flow_versions (did TEXT, body TEXT)")
    db.commit()
    db.close()
    code, _, err = run("--store", "old.db", "history", DID)
    assert code == EXIT_ERROR and "table flow_versions has no" in one_line(err)


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_locked_store_is_a_one_line_error(run, tmp_path, monkeypatch, journal):
    monkeypatch.setattr(routecore.store.sqlite, "BUSY_TIMEOUT", 0.2)
    path = tmp_path / "flows.db"
    if journal == "wal":  # a flow store another process is writing
        FlowStore(str(path), validate=_validate).close()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        argv = ["draft", MENU, "--author", "ann"]
    else:  # a database in rollback-journal mode, locked exclusively
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("PRAGMA journal_mode=DELETE")
        other.execute("CREATE TABLE x (y)")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("INSERT INTO x VALUES (1)")
        argv = ["history", DID]
    try:
        code, _, err = run("--store", str(path), *argv)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == EXIT_ERROR
    assert "is locked by another process" in one_line(err)


# -- dates, times and zones ---------------------------------------------------------------------


def test_a_report_to_the_last_day_of_the_calendar_is_open_ended(run, tmp_path):
    with CallStore(tmp_path / "calls.db") as store:
        store.add(CallRecord("c1", DID, "139", start=1_790_000_000.0))
    code, out, err = run("report", "calls", "--to", "9999-12-31", "--calls", "calls.db")
    assert code == EXIT_OK and err == "" and out.splitlines()[1].startswith("c1,")
    code, out, _ = run("report", "calls", "--from", "0001-01-01", "--to", "9999-12-31")
    assert code == EXIT_OK and len(out.splitlines()) == 2
    assert day_range(None, __import__("datetime").date.max) == (None, None)


@pytest.mark.parametrize(
    "zone",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "Nowhere/City",
        "",
        "Asia",
        "zone.tab",
        "a" * 5000,
        "Asia/../Asia/Shanghai",
        "posix/Asia/Shanghai",
        "UTC",
    ],
)
def test_an_unknown_or_hostile_time_zone_is_a_usage_error(run, zone):
    for argv in (
        ["report", "calls", "--tz", zone],
        ["purge", "--tz", zone, "--dry-run"],
        ["simulate", "4006001003", "13900000000", "--flow", MENU, "--tz", zone, "1"],
    ):
        code, _, err = run(*argv)
        if code == EXIT_OK:  # a real zone under another name may be accepted
            assert zone in ("posix/Asia/Shanghai", "UTC") and "Traceback" not in err
        else:
            assert code == EXIT_USAGE
            assert one_line(err) == (
                f"routecore: unknown time zone: {zone!r} (an IANA name: Asia/Shanghai)"
            )
    with pytest.raises(StoreError, match="unknown time zone"):
        if zone not in ("posix/Asia/Shanghai", "UTC"):
            day_range(None, None, zone)
        else:
            raise StoreError("unknown time zone (accepted here)")


@pytest.mark.parametrize(
    "argv, removed",
    [
        (["--now", "0001-01-01"], []),
        (["--now", "0001-01-01T00:00"], []),
        (["--now", "9999-12-31T23:59"], ["r1.wav", "v1.wav"]),
        (["--now", "2026-12-01", "--recording-months", "100000"], ["v1.wav"]),
        (["--now", "2026-12-01", "--recording-months", str(10**30)], ["v1.wav"]),
        (["--now", "2026-12-01", "--voicemail-days", str(10**400)], []),
    ],
)
def test_purge_at_the_ends_of_the_calendar_is_no_error(run, tmp_path, argv, removed):
    rec, vm = tmp_path / "rec", tmp_path / "vm"
    rec.mkdir(), vm.mkdir()
    (rec / "r1.wav").write_bytes(b"x")
    (vm / "v1.wav").write_bytes(b"x")
    start = 1_790_000_000.0  # 2026-09-22
    with CallStore(tmp_path / "calls.db") as store:
        store.add(CallRecord("c1", DID, "139", start=start, recording="r1"))
        store.add(CallRecord("c2", DID, "139", start=start, voicemail="v1"))
    code, _, err = run("purge", "--recordings", "rec", "--voicemail", "vm", *argv)
    assert code == EXIT_OK and err == ""
    left = {p.name for p in (*rec.iterdir(), *vm.iterdir())}
    assert sorted({"r1.wav", "v1.wav"} - left) == removed


def test_months_before_the_start_of_the_calendar_is_minus_infinity():
    assert months_before(-62135596800.0 + 86400 * 40, 100_000) == float("-inf")
    assert months_before(1_790_000_000.0, 10**30) == float("-inf")
    with pytest.raises(StoreError, match="out of range"):
        months_before(1e300, 6)


def test_simulating_at_the_end_of_time_is_a_usage_error(run):
    code, _, err = run(
        "simulate", "4006001003", "13900000000", "--flow", MENU,
        "--at", "9999-12-31T23:59", "1", "2", "answer:604800",
    )  # fmt: skip
    assert code == EXIT_USAGE and one_line(err).startswith("routecore: ")
    code, _, err = run(
        "simulate", "4006001003", "13900000000", "--flow", MENU,
        "--at", "2106-02-07T14:00", "1", "2", "answer:604800",
    )  # fmt: skip
    assert code == EXIT_USAGE and one_line(err).startswith("routecore: ")


# -- flow documents -----------------------------------------------------------------------------


def test_json_nested_hundreds_deep_is_a_flow_error_not_a_recursion_error(run, tmp_path):
    for depth in (MAX_DEPTH + 1, 300, 600, 5000):
        deep = '{"a": ' * depth + "[]" + "}" * depth
        text = f'{{"number": "{DID}", "deep": {deep}}}'
        _, issues = parse_text(text, source=f"{DID}.json", json_format=True)
        assert issues and all(isinstance(i.message, str) for i in issues)
        with pytest.raises(FlowError):
            loads_flow(text, source=f"{DID}.json", json_format=True)
        path = tmp_path / f"{DID}.json"
        path.write_text(text, encoding="utf-8")
        code, out, _ = run("validate", str(path))
        assert code == EXIT_INVALID and "Traceback" not in out
        assert "nested too deeply" in out or "not valid JSON" in out


def test_a_document_over_the_size_limit_is_refused_at_once(run, tmp_path):
    big = tmp_path / f"{DID}.yaml"
    line = "# " + "x" * 98 + "\n"
    big.write_text(f"number: '{DID}'\n" + line * (MAX_DOCUMENT_BYTES // len(line) + 10))
    started = time.monotonic()
    code, out, _ = run("validate", str(big))
    assert code == EXIT_INVALID and time.monotonic() - started < 5
    assert out.strip() == (
        f"{big}: the document is {big.stat().st_size} bytes: "
        f"a flow document has at most {MAX_DOCUMENT_BYTES} bytes"
    )
    data, issues = read_flow_file(big)
    assert data is None and "at most" in issues[0].message
    with pytest.raises(FlowError, match="at most"):
        loads_flow(big.read_text(), source=str(big))
    code, _, err = run("draft", str(big), "--author", "ann")
    assert code == EXIT_INVALID and "at most" in one_line(err)
    assert MAX_DOCUMENT_BYTES == 4 * 1024 * 1024


def test_a_device_that_never_ends_is_read_no_further_than_the_limit(run):
    code, out, _ = run("validate", "/dev/zero")
    assert code == EXIT_INVALID and "at most" in out
