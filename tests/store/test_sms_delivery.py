"""The delivery state beside the outbox: what is due is read from indexes, never by walking the
whole outbox, however many messages have left over the years."""

from __future__ import annotations

import re
import sqlite3

from routecore.engine.sms import Sms
from routecore.store import CallStore
from routecore.store.sms_delivery import AGAIN, FRESH, Deliveries


def test_what_is_due_comes_from_indexes(tmp_path):
    path = tmp_path / "calls.db"
    with CallStore(path) as store:
        store.write(sms=[Sms("hangup", "4006001003", f"139{i:08d}", "t", f"c{i}", 1.0)
                         for i in range(3000)])  # fmt: skip
    with Deliveries(str(path)) as deliveries:
        for i in range(1, 3000):
            deliveries.begin(i, "smpp", 2.0)
            deliveries.sent(i, [f"m{i}"], 3.0)
        assert [r["id"] for r in deliveries.due(10.0)] == [3000]
    db = sqlite3.connect(path)
    fresh = FRESH.format(outbox="sms_outbox o INDEXED BY sms_outbox_unsent")  # SQLite's spelling
    for sql, args in ((fresh, (10.0, 100)), (AGAIN, (10.0, 10.0, 100))):
        plan = " ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
        assert re.search(r"SCAN o(?! USING)", plan) is None, plan  # never the bare table
    db.close()
