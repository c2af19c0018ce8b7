"""The JSON API: a bearer token acts as its user, scoped as the pages are; the OpenAPI schema
is served; another tenant's number is a 404 on every route; bad input is a 4xx with a message."""

from __future__ import annotations

import re

from django.test import Client

from portal_tests.common import A_DID, B_DID, add_calls, example
from routecore_portal import tokens
from routecore_portal.models import ApiToken, AuditEntry


def _api(user):
    _, token = tokens.make(user, "tests")
    return Client(headers={"authorization": f"Bearer {token}"})


def test_a_token_is_made_once_in_the_portal_and_only_its_digest_kept(a_client, people):
    page = a_client.post("/tokens/", {"name": "CRM"})
    token = re.search(r'id="new-token">([^<]+)<', page.content.decode()).group(1)
    row = ApiToken.objects.get()
    assert token not in (row.digest, row.prefix) and row.digest == tokens.digest(token)
    api = Client(headers={"authorization": f"Bearer {token}"})
    assert api.get("/api/numbers").json() == [
        {"did": A_DID, "tz": "Asia/Shanghai", "enterprise": "甲公司"}
    ]
    a_client.post(f"/tokens/{row.pk}/revoke/")
    assert api.get("/api/numbers").status_code == 401
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["token.create", "token.revoke"]


def test_without_a_valid_token_nothing_is_served(people):
    assert Client().get("/api/numbers").status_code == 401
    bad = Client(headers={"authorization": "Bearer rc_not-a-token"})
    assert bad.get(f"/api/numbers/{A_DID}/calls").status_code == 401


def test_calls_are_paged_with_filters(people, stores):
    add_calls(stores["calls"], A_DID, 30)
    api = _api(people["a"])
    first = api.get(f"/api/numbers/{A_DID}/calls", {"limit": 20}).json()
    assert len(first["calls"]) == 20 and first["next"]
    second = api.get(f"/api/numbers/{A_DID}/calls", {"limit": 20, "after": first["next"]}).json()
    assert len(second["calls"]) == 10 and second["next"] is None
    missed = api.get(f"/api/numbers/{A_DID}/calls", {"outcome": "no_answer", "limit": 500}).json()
    assert len(missed["calls"]) == 15
    one = api.get(f"/api/numbers/{A_DID}/calls/{A_DID}-c0003").json()
    assert one["caller"] == "13900000003"
    for query in (
        {"outcome": "exploded"},
        {"caller": "x"},
        {"limit": 0},
        {"after": "x~"},
        {"since": "nan"},
    ):
        response = api.get(f"/api/numbers/{A_DID}/calls", query)
        assert 400 <= response.status_code < 500, (query, response.status_code)
        assert "detail" in response.json()


def test_a_draft_submitted_then_approved_and_published_by_an_operator(people, stores):
    admin, op = _api(people["a"]), _api(people["op"])
    bad = admin.post(
        f"/api/numbers/{A_DID}/flow",
        {"content": "number: '4006001003'\n"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["errors"]
    made = admin.post(
        f"/api/numbers/{A_DID}/flow",
        {"content": example(A_DID), "submit": True},
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["state"] == "submitted"
    assert admin.post(f"/api/numbers/{A_DID}/flow/1/approve").status_code == 404  # not an operator
    assert op.post(f"/api/numbers/{A_DID}/flow/1/approve").json()["state"] == "approved"
    assert op.post(f"/api/numbers/{A_DID}/flow/1/publish").json()["live"] is True
    assert op.post(f"/api/numbers/{A_DID}/flow/9/publish").status_code == 404
    assert admin.get(f"/api/numbers/{A_DID}/flow").json()[0]["state"] == "published"


def test_the_openapi_schema_is_served_and_every_route_is_a_404_for_another_tenant(people, stores):
    add_calls(stores["calls"], A_DID, 2)
    admin, other = _api(people["a"]), _api(people["b"])
    schema = admin.get("/api/openapi.json").json()
    routes = [(path, method) for path, ops in schema["paths"].items() for method in ops]
    assert len(routes) >= 8
    values = {"did": A_DID, "call_id": f"{A_DID}-c0000", "version": "1", "action": "submit"}
    checked = 0
    for path, method in routes:
        if "{did}" not in path:
            continue
        url = "/api" + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
        query = {"month": "2026-09"} if path.endswith("/statement") else {}
        response = getattr(other, method)(
            url, query if method == "get" else {"content": "x"}, content_type="application/json"
        )
        assert response.status_code == 404, (method, url, response.status_code)
        checked += 1
    assert checked >= 7
    # The other tenant sees its own number and only that.
    assert [n["did"] for n in other.get("/api/numbers").json()] == [B_DID]
