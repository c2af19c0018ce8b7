"""Call records of a number: filtered pages, a call's page, the CSV export, recordings played
with HTTP Range."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from portal_tests.common import A_DID, B_DID, T0, add_calls
from routecore.engine import CallRecord
from routecore.store import CallStore


def test_the_records_page_pages_newest_first_and_filters(a_client, stores):
    add_calls(stores["calls"], A_DID, 120)
    add_calls(stores["calls"], B_DID, 5)
    first = a_client.get(f"/n/{A_DID}/calls/")
    body = first.content.decode()
    assert first.status_code == 200 and f"{A_DID}-c0119" in body and f"{B_DID}-c" not in body
    assert f"{A_DID}-c0069" not in body  # 50 a page
    more = first.context["more"]
    second = [r["call_id"] for r in a_client.get(f"/n/{A_DID}/calls/?{more}").context["rows"]]
    assert second[0] == f"{A_DID}-c0069" and second[-1] == f"{A_DID}-c0020"
    third = a_client.get(
        f"/n/{A_DID}/calls/?{a_client.get(f'/n/{A_DID}/calls/?{more}').context['more']}"
    )
    assert [r["call_id"] for r in third.context["rows"]][-1] == f"{A_DID}-c0000"
    assert third.context["more"] is None
    missed = a_client.get(f"/n/{A_DID}/calls/", {"outcome": "no_answer"})
    assert all(r["outcome"] == "no_answer" for r in missed.context["rows"])
    by_caller = a_client.get(f"/n/{A_DID}/calls/", {"caller": "13900000007"})
    assert [r["call_id"] for r in by_caller.context["rows"]] == [f"{A_DID}-c0007"]
    by_branch = a_client.get(f"/n/{A_DID}/calls/", {"branch": "menu.2"})
    assert len(by_branch.context["rows"]) == 40


def test_times_are_shown_in_the_numbers_zone(a_client, stores):
    add_calls(stores["calls"], A_DID, 1)
    page = a_client.get(f"/n/{A_DID}/calls/").content.decode()
    assert "2026-09-21 22:13:20" in page  # T0 in Asia/Shanghai (UTC+8)


def test_bad_filters_are_a_400_with_the_field_named(a_client, stores):
    add_calls(stores["calls"], A_DID, 1)
    for query in (
        {"caller": "13x"},
        {"outcome": "exploded"},
        {"since": "2026-02-30"},
        {"since": "2026-03-02", "until": "2026-03-01"},
    ):
        response = a_client.get(f"/n/{A_DID}/calls/", query)
        assert response.status_code == 400, query
        assert 'class="error"' in response.content.decode()
    assert a_client.get(f"/n/{A_DID}/calls/?after=garbage").status_code == 404
    assert a_client.get(f"/n/{A_DID}/calls/?after=nan~x").status_code == 404


def test_csv_export_streams_every_row_and_defuses_formulas(a_client, stores):
    add_calls(stores["calls"], A_DID, 30)
    with CallStore(stores["calls"]) as calls:
        calls.add(CallRecord("evil", A_DID, '=HYPERLINK("x")', start=T0 + 99_999))
    response = a_client.get(f"/n/{A_DID}/calls.csv")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 31
    assert rows[-1]["caller"] == '\'=HYPERLINK("x")'
    assert rows[0]["start"] == "2026-09-21 22:13:20"


def test_a_call_page_plays_its_recording_with_range_requests(a_client, stores):
    add_calls(stores["calls"], A_DID, 2, recording=True)
    audio = bytes(range(256)) * 40
    Path(stores["recordings"], f"rec-{A_DID}-0.wav").write_bytes(audio)
    page = a_client.get(f"/n/{A_DID}/calls/{A_DID}-c0000/").content.decode()
    src = f"/n/{A_DID}/calls/{A_DID}-c0000/recording"
    assert f'src="{src}"' in page
    whole = a_client.get(src)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == audio
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Type"] == "audio/wav"
    part = a_client.get(src, headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert b"".join(part.streaming_content) == audio[100:200]
    tail = a_client.get(src, headers={"range": "bytes=-10"})
    assert b"".join(tail.streaming_content) == audio[-10:]
    assert a_client.get(src, headers={"range": "bytes=999999-"}).status_code == 416


def test_media_only_by_the_records_reference(a_client, stores):
    add_calls(stores["calls"], A_DID, 2, recording=True)
    Path(stores["recordings"], "secret.wav").write_bytes(b"x")
    for path in (
        f"/n/{A_DID}/calls/{A_DID}-c0001/recording",  # no recording
        f"/n/{A_DID}/calls/{A_DID}-c0000/voicemail",  # none
        f"/n/{A_DID}/calls/{A_DID}-c0000/secret.wav",
        f"/n/{A_DID}/calls/..%2Fsecret/recording",
        f"/n/{A_DID}/calls/{A_DID}-c0000/recording",
    ):  # file missing on disk
        assert a_client.get(path).status_code == 404, path


def test_a_missing_call_store_is_a_clear_503_page(a_client, stores):
    response = a_client.get(f"/n/{A_DID}/calls/")
    assert response.status_code == 503
    assert "calls.db" in response.content.decode()
