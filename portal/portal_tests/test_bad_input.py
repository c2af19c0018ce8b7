"""Bad input anywhere is a message or a 4xx, never a 500 or a traceback: random query strings on
every page, random form bodies on every form, random JSON on the API; a locked store is a 503
page that says so."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal_tests.common import A_DID, add_calls, example

PAGES = [
    "",
    "calls/",
    "calls.csv",
    f"calls/{A_DID}-c0000/",
    f"calls/{A_DID}-c0000/recording",
    "stats/",
    "stats.csv",
    "flow/",
    "flow/1/",
    "flow/edit/",
    "settings/",
    "prompts/",
    "statement/",
]
POSTS = ["flow/edit/", "flow/1/submit/", "settings/", "prompts/"]
KEYS = [
    "since",
    "until",
    "caller",
    "outcome",
    "branch",
    "after",
    "month",
    "format",
    "form",
    "content",
    "name",
    "blacklist-numbers",
    "menu-main-key_1",
    "menu-main-menu",
    "extensions-extensions",
    "destinations-destinations",
    "x" * 300,
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(
    [
        "2026-02-30",
        "9999-12-31",
        "-1",
        "nan",
        "inf",
        "1e999",
        "0" * 500,
        "../../etc/passwd",
        "=cmd|' /C calc'!A0",
        "\x00",
        "menu-main",
        "blacklist",
        "route-nope",
        "2026-13",
    ]
)
FORMS = st.dictionaries(st.sampled_from(KEYS), TEXT, max_size=5)
SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1969-12-31"])
def test_days_out_of_range_are_a_400_on_every_page_that_takes_days(ready, day):
    for page in ("calls/", "calls.csv", "stats/", "stats.csv"):
        for key in ("since", "until"):
            assert ready.get(f"/n/{A_DID}/{page}", {key: day}).status_code == 400, (page, key)


@pytest.fixture
def ready(a_client, stores):
    add_calls(stores["calls"], A_DID, 5, recording=True)
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    return a_client


@SLOW
@given(query=FORMS, page=st.sampled_from(PAGES))
def test_random_query_strings_are_never_a_500(ready, query, page):
    response = ready.get(f"/n/{A_DID}/{page}", query)
    assert response.status_code in (200, 302, 400, 404, 405), (page, query, response.status_code)


@SLOW
@given(body=FORMS, page=st.sampled_from(POSTS))
def test_random_form_bodies_are_never_a_500(ready, body, page):
    response = ready.post(f"/n/{A_DID}/{page}", body)
    assert response.status_code in (200, 302, 400, 404, 405), (page, body, response.status_code)


@SLOW
@given(
    body=st.text(string.printable, max_size=200)
    | st.sampled_from(['{"content": 5}', "[]", "{", "null"])
)
def test_random_json_on_the_api_is_a_4xx(people, stores, body):
    from django.test import Client

    from routecore_portal import tokens

    _, token = tokens.make(people["a"], "fuzz")
    api = Client(headers={"authorization": f"Bearer {token}"})
    response = api.post(f"/api/numbers/{A_DID}/flow", body, content_type="application/json")
    assert 400 <= response.status_code < 500, (body, response.status_code)


def test_a_locked_store_is_a_503_page_that_says_so(a_client, stores, monkeypatch):
    import sqlite3

    import routecore.store.sqlite as sqlite_store

    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(stores["store"], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503 and "locked" in response.content.decode()
