"""Seats, first part (V5): made by the enterprise admin, online and offline in one click through
the shared state (the engine then skips an offline seat), the calls that rang a seat and nobody
answered, and nothing of the numbers' pages for a seat."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

from portal_tests.common import A_DID, T0, client_for
from routecore.backend import get_backend
from routecore.engine import CallRecord
from routecore.store import CallStore
from routecore_portal.models import AuditEntry, Seat


def _state(stores, settings):
    path = str(Path(stores["store"]).with_name("state"))
    get_backend().State.create(path, destinations=64, memory=64, numbers=8).close()
    settings.ROUTECORE = {**stores, "state": path}
    return path


def _make_seat(a_client, username="zhang", phone="13800138100", agent="805"):
    response = a_client.post(
        "/seats/", {"name": "张三", "username": username, "phone": phone, "agent_id": agent}
    )
    assert response.status_code == 200, response.content.decode()[-1500:]
    return re.search(r'id="seat-password">([^<]+)<', response.content.decode()).group(1)


def test_an_admin_makes_a_seat_that_logs_in_to_its_workspace(a_client, stores, settings):
    _state(stores, settings)
    password = _make_seat(a_client)
    seat = Client()
    assert seat.post("/login/", {"username": "zhang", "password": password}).status_code == 302
    assert seat.get("/", follow=True).request["PATH_INFO"] == "/seat/"
    # A seat has no number pages, no back office, no tokens.
    for url in (f"/n/{A_DID}/", f"/n/{A_DID}/calls/", "/ops/", "/tokens/", "/seats/"):
        assert seat.get(url).status_code == 404, url
    assert AuditEntry.objects.filter(action="seat.create").exists()


def test_online_and_offline_in_the_shared_state(a_client, stores, settings):
    path = _state(stores, settings)
    _make_seat(a_client)
    seat = client_for(Seat.objects.get().user)
    seat.post("/seat/presence/", {"online": "1"})
    state = get_backend().State.open(path)
    assert state.destination("13800138100").online is True
    assert '<td class="presence">在线</td>' in a_client.get("/seats/").content.decode()
    seat.post("/seat/presence/", {"online": "0"})
    assert state.destination("13800138100").online is False
    # The engine's claim skips an offline destination.
    assert state.claim(["13800138100"], "c1") is None
    seat.post("/seat/presence/", {"online": "1"})
    assert state.claim(["13800138100"], "c2") is not None
    state.close()


def test_without_a_shared_state_going_online_is_a_message(a_client, stores):
    _make_seat(a_client)
    seat = client_for(Seat.objects.get().user)
    page = seat.post("/seat/presence/", {"online": "1"}, follow=True).content.decode()
    assert "ROUTECORE_STATE" in page


def test_missed_calls_are_those_that_rang_the_seat_and_nobody_answered(a_client, b_client, stores):
    import time

    _make_seat(a_client)
    now = time.time()
    with CallStore(stores["calls"]) as calls:
        calls.add_many(
            [
                CallRecord(
                    "m1",
                    A_DID,
                    "13900000001",
                    start=now - 60,
                    tried=["13800138100"],
                    outcome="no_answer",
                ),
                CallRecord(
                    "m2",
                    A_DID,
                    "13900000002",
                    start=now - 30,
                    tried=["13800138100", "13800138101"],
                    answer=now - 20,
                    answered_by="13800138101",
                    outcome="answered",
                ),
                CallRecord(
                    "m3", A_DID, "13900000003", start=T0, tried=["13800138100"], outcome="busy"
                ),
            ]
        )
    seat = client_for(Seat.objects.get().user)
    page = seat.get("/seat/").content.decode()
    assert 'id="missed-count">1<' in page and "13900000001" in page and "13900000002" not in page
    # Another enterprise's admin sees none of this enterprise's seats.
    assert "张三" not in b_client.get("/seats/").content.decode()


def test_a_bad_seat_is_a_message_beside_its_field(a_client, stores):
    _make_seat(a_client)
    for data, field in (
        ({"name": "李四", "username": "lisi", "phone": "13800138100"}, "phone"),  # taken
        ({"name": "李四", "username": "zhang", "phone": "13800138101"}, "username"),
        (
            {"name": "李四", "username": "lisi", "phone": "13800138101", "agent_id": "805"},
            "agent_id",
        ),
        ({"name": "李四", "username": "lisi", "phone": "abc"}, "phone"),
        (
            {"name": "李四", "username": "lisi", "phone": "13800138101", "agent_id": "900"},
            "agent_id",
        ),
    ):
        response = a_client.post("/seats/", data)
        assert response.status_code == 400, data
        assert response.context["form"].errors.get(field), (data, response.context["form"].errors)
    assert Seat.objects.count() == 1


def test_a_seats_groups_come_from_the_live_flow_and_their_missed_calls_show(
    a_client, op_client, stores
):
    """The seat's phone is a member of the support group: calls of that group nobody answered
    (one that only rang the colleague and went to voicemail) are its missed calls too; calls
    of groups it is not in are not."""
    import time

    from portal_tests.common import example

    flow = example(A_DID).replace('"075523456781"', '"13800138100"')  # support_1: the seat
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": flow})
    a_client.post(f"/n/{A_DID}/flow/1/submit/")
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")
    _make_seat(a_client)
    now = time.time()
    with CallStore(stores["calls"]) as calls:
        calls.add_many(
            [
                CallRecord("g1", A_DID, "13900000011", start=now - 60,
                           tried=["075523456782"], outcome="voicemail"),
                CallRecord("g2", A_DID, "13900000012", start=now - 50,
                           tried=["13800138003"], outcome="no_answer"),
            ]
        )  # fmt: skip
    page = client_for(Seat.objects.get().user).get("/seat/").content.decode()
    assert f"{A_DID} · support" in page
    assert 'id="missed-count">1<' in page and "13900000011" in page
    assert "13900000012" not in page  # the export group's, not the seat's
