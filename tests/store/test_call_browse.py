"""Browsing call records: filters, keyset pages newest first, a streamed export, calls per hour."""

from __future__ import annotations

import pytest

from routecore.engine import CallRecord
from routecore.errors import StoreError
from routecore.store import CallQuery, CallStore

DID = "4006001001"


@pytest.fixture
def store(located):
    with CallStore(located("calls.db")) as s:
        records = []
        for i in range(120):
            answered = i % 3 != 0
            records.append(
                CallRecord(
                    f"c{i:03d}",
                    DID,
                    f"13900000{i:03d}",
                    start=1_000_000.0 + i * 60,
                    answer=1_000_005.0 + i * 60 if answered else None,
                    end=1_000_050.0 + i * 60,
                    branches=["menu.1"] if i % 2 else ["menu.2"],
                    outcome="answered" if answered else "no_answer",
                )
            )
        records.append(CallRecord("other", "4006001002", "13900000001", start=1_000_030.0))
        # Two calls in the same second: the call id orders them.
        records.append(CallRecord("same-a", DID, "1", start=1_000_000.0 + 200 * 60))
        records.append(CallRecord("same-b", DID, "1", start=1_000_000.0 + 200 * 60))
        s.add_many(records)
        yield s


def test_pages_walk_every_call_of_the_number_newest_first_once(store):
    seen, after = [], None
    while True:
        rows, after = store.page(CallQuery(DID), after=after, limit=7)
        seen += [r["call_id"] for r in rows]
        if after is None:
            break
    assert seen[:2] == ["same-b", "same-a"]
    assert seen[2:] == [f"c{i:03d}" for i in range(119, -1, -1)]
    assert "other" not in seen


def test_filters_narrow_the_pages(store):
    rows, _ = store.page(CallQuery(DID, outcome="no_answer"), limit=500)
    assert {r["outcome"] for r in rows} == {"no_answer"} and len(rows) == 40
    rows, _ = store.page(CallQuery(DID, branch="menu.1"), limit=500)
    assert len(rows) == 60 and all(r["branches"] == ["menu.1"] for r in rows)
    rows, _ = store.page(CallQuery(DID, caller="1390000011"), limit=500)  # a prefix
    assert [r["call_id"] for r in rows] == [f"c{i:03d}" for i in range(119, 109, -1)]
    rows, _ = store.page(CallQuery(DID, caller="13900000011"), limit=500)  # a whole number
    assert [r["call_id"] for r in rows] == ["c011"]
    rows, _ = store.page(CallQuery(DID, since=1_000_000.0 + 10 * 60, until=1_000_000.0 + 12 * 60))
    assert [r["call_id"] for r in rows] == ["c011", "c010"]


def test_stream_gives_every_row_oldest_first(store):
    ids = [r["call_id"] for r in store.stream(CallQuery(DID))]
    assert ids[0] == "c000" and ids[-1] == "same-b" and len(ids) == 122
    raw = [
        row
        for rows in store.stream_raw(CallQuery(DID), ("call_id", "branches"), 50)
        for row in rows
    ]
    assert raw[0] == ("c000", '["menu.2"]') and len(raw) == 122
    with pytest.raises(StoreError, match="unknown columns"):
        next(store.stream_raw(CallQuery(DID), ("call_id", "secret")))


def test_per_hour_counts_calls_and_answers(store):
    calls, answered = store.per_hour(DID, 1_000_000.0)
    assert calls[0] == 60 and calls[1] == 60 and answered[0] == 40 and sum(calls) == 122


def test_one_call_by_id_of_its_number_only(store):
    assert store.call(DID, "c005")["caller"] == "13900000005"
    assert store.call("4006001002", "c005") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"did": "400-600"},
        {"did": DID, "caller": "13x"},
        {"did": DID, "outcome": "exploded"},
        {"did": DID, "since": float("nan")},
        {"did": DID, "branch": ""},
    ],
)
def test_bad_filters_are_store_errors(bad):
    with pytest.raises(StoreError):
        CallQuery(**bad)


def test_a_page_size_out_of_range_is_refused(store):
    with pytest.raises(StoreError, match="a page holds"):
        store.page(CallQuery(DID), limit=0)


def test_a_caller_filter_gives_the_same_pages_by_either_index(store, monkeypatch):
    from routecore.store import browse

    def pages(query):
        seen, after = [], None
        while True:
            rows, after = store.page(query, after=after, limit=3)
            seen += [r["call_id"] for r in rows]
            if after is None:
                return seen

    query = CallQuery(DID, caller="1390000011")
    by_caller_index = pages(query)
    monkeypatch.setattr(browse, "RARE", 5)  # 10 matches are "many" now: the newest-first walk
    assert pages(query) == by_caller_index == [f"c{i:03d}" for i in range(119, 109, -1)]
