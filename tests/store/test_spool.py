"""A PostgreSQL call store out of reach: an adapter's batches wait in the host's spool, in order,
and reach the store once when it is back (a real PostgreSQL, stopped by the test)."""

from __future__ import annotations

import logging
import time

import pytest

from routecore.adapter.records import Records
from routecore.engine import CallRecord
from routecore.engine.sms import Sms
from routecore.errors import StoreUnavailable
from routecore.store import CallStore
from routecore.store.journal import OpenCall
from routecore.store.spool import Batch, Spool

DID = "4006001003"


def journal(call_id: str) -> OpenCall:
    record = CallRecord(call_id, DID, "13900000042", start=1000.0)
    return OpenCall(call_id, call_id, "agi", "h1", 1, None, record, ("13800138001",), None,
                    None, time.time())  # fmt: skip


def record(call_id: str) -> CallRecord:
    return CallRecord(call_id, DID, "13900000042", start=1000.0, outcome="answered",
                      answered_by="13800138001", talk_seconds=42)  # fmt: skip


def sms(call_id: str) -> Sms:
    return Sms("hangup", DID, "13900000042", "【测试】谢谢来电", call_id, 1001.0)


def call(call_id: str) -> list[tuple[str, object]]:
    """What one call hands over: its journal row, then its record and SMS."""
    return [("journal", journal(call_id)), ("record", record(call_id)), ("sms", sms(call_id))]


def test_batches_wait_in_the_spool_while_the_store_is_down_and_arrive_once(
    pg_url, postgres_server, tmp_path, caplog
):
    records = Records(pg_url, str(tmp_path / "spool"))
    try:
        records.write(call("c0"))  # the store is up: written at once
        postgres_server.stop()
        with caplog.at_level(logging.ERROR, logger="routecore.adapter"):
            records.write([("journal", journal("c1"))])
            records.write(call("c2"))
            records.write(call("c1")[1:])  # c1's record after its journal row
        assert records.spooled() == 3 and records.unreachable_since is not None
        assert sum("wait in the spool" in r.getMessage() for r in caplog.records) == 1
        with pytest.raises(StoreUnavailable):
            _ = records.store.calls()
        postgres_server.start()
        records.write(call("c3"))  # the store is back, but c1 and c2 wait: behind them
        records.send_on(now=time.monotonic() + 60)  # the next try, however far the back-off
        assert records.spooled() == 0
        store = records.store
        assert sorted(r["call_id"] for r in store.calls()) == ["c0", "c1", "c2", "c3"]
        assert store.open_calls() == []  # no journal row outlived its record
        assert sorted(r["call_id"] for r in store.pending_sms()) == ["c0", "c1", "c2", "c3"]
    finally:
        records.close()


def test_a_batch_sent_again_after_a_lost_answer_is_stored_once(pg_url, tmp_path):
    with CallStore(pg_url) as store:
        store.write(records=[record("c1")], sms=[sms("c1")])  # committed; the answer "lost"
    spool = Spool(tmp_path / "spool")
    spool.put(Batch([], [record("c1")], [sms("c1")]))  # so the writer spooled it too
    spool.close()
    records = Records(pg_url, str(tmp_path / "spool"))
    try:
        assert records.send_on() == 1
        store = records.store
        assert [r["call_id"] for r in store.calls()] == ["c1"]
        assert [r["call_id"] for r in store.pending_sms()] == ["c1"]  # not twice
    finally:
        records.close()


def test_a_full_spool_refuses_with_a_log_never_memory(tmp_path, caplog):
    spool = Spool(tmp_path / "spool", max_bytes=2000)
    try:
        with caplog.at_level(logging.ERROR, logger="routecore.adapter"):
            taken = [spool.put(Batch([], [record(f"c{i}")], [])) for i in range(10)]
        assert taken[0] and not taken[-1] and spool.lost == taken.count(False)
        assert spool.size() <= 2000
        assert any("is full" in r.getMessage() for r in caplog.records)
    finally:
        spool.close()


def test_an_unreadable_batch_is_dropped_with_a_log_and_the_queue_goes_on(pg_url, tmp_path, caplog):
    spool = Spool(tmp_path / "spool")
    spool.put(Batch([], [record("c1")], []))
    spool._db.execute("INSERT INTO spool (size, batch) VALUES (1, '{not json')")
    spool.put(Batch([], [record("c2")], []))
    spool.close()
    records = Records(pg_url, str(tmp_path / "spool"))
    try:
        with caplog.at_level(logging.ERROR, logger="routecore.adapter"):
            records.send_on()
        assert sorted(r["call_id"] for r in records.store.calls()) == ["c1", "c2"]
        assert records.spooled() == 0
        assert any("unreadable, dropped" in r.getMessage() for r in caplog.records)
    finally:
        records.close()


def test_a_store_down_at_the_start_costs_no_call(postgres_server, pg_url, tmp_path):
    postgres_server.stop()
    records = Records(pg_url, str(tmp_path / "spool"))
    try:
        records.write(call("c1"))  # the store was never opened: spooled
        assert records.spooled() == 1
        postgres_server.start()
        records.send_on(now=time.monotonic() + 60)  # the next try, however far the back-off
        assert [r["call_id"] for r in records.store.calls()] == ["c1"]
    finally:
        records.close()
