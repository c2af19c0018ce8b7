"""The admin's side of the seats (V5, P4): a removed seat cannot log in, goes offline and is
still billed for its month; seats see only the calls that involved them unless the admin lets
them see every call of their customers; the admin watches every seat live."""

from __future__ import annotations

import time
from pathlib import Path

from django.test import Client

from portal_tests.common import A_DID, client_for, open_call
from portal_tests.test_seats import _make_seat, _state
from routecore.backend import get_backend
from routecore.engine import CallRecord
from routecore.store import CallStore
from routecore_portal.models import AuditEntry, Customer, Seat

PHONE, OTHER = "13800138100", "13800138101"
CALLER = "13900000042"


def test_a_removed_seat_cannot_log_in_goes_offline_and_leaves_the_list(a_client, stores, settings):
    path = _state(stores, settings)
    password = _make_seat(a_client)
    seat = Seat.objects.get()
    client_for(seat.user).post("/seat/presence/", {"online": "1"})
    assert a_client.get("/seat/").status_code == 404  # an admin has no workspace
    a_client.post(f"/seats/{seat.pk}/remove/")
    seat.refresh_from_db()
    assert seat.removed is not None and not seat.user.is_active
    with get_backend().State.open(path) as state:
        assert state.destination(PHONE).online is False
    assert Client().post("/login/", {"username": "zhang", "password": password}).status_code == 200
    assert PHONE not in a_client.get("/seats/").content.decode()
    assert AuditEntry.objects.filter(action="seat.remove").exists()
    # the phone and the agent id are free for a new seat
    _make_seat(a_client, username="wang")
    assert Seat.objects.filter(removed__isnull=True).count() == 1


def test_another_enterprises_admin_cannot_remove_a_seat(a_client, b_client, stores, settings):
    _state(stores, settings)
    _make_seat(a_client)
    seat = Seat.objects.get()
    assert b_client.post(f"/seats/{seat.pk}/remove/").status_code == 404
    assert a_client.get(f"/seats/{seat.pk}/remove/").status_code == 405
    seat.refresh_from_db()
    assert seat.removed is None


def _calls(stores) -> None:
    with CallStore(stores["calls"]) as calls:
        now = time.time()
        for i, (answered_by, tried) in enumerate(
            [(PHONE, [PHONE]), (OTHER, [OTHER]), (None, [OTHER, PHONE])]
        ):
            calls.add(
                CallRecord(
                    f"c{i}",
                    A_DID,
                    CALLER,
                    start=now - 3600 + i,
                    tried=tried,
                    answered_by=answered_by,
                    outcome="answered" if answered_by else "no_answer",
                )
            )


def test_seats_see_only_their_calls_unless_the_admin_allows_every_call(a_client, stores, settings):
    _state(stores, settings)
    _make_seat(a_client)
    _calls(stores)
    customer = Customer.objects.create(enterprise=Seat.objects.get().enterprise, number=CALLER)
    seat = client_for(Seat.objects.get().user)

    def seen() -> int:
        return len(seat.get(f"/customers/{customer.pk}/").context["calls"])

    assert seen() == 2  # answered by it, and rung with a colleague; not the colleague's own
    a_client.post("/seats/visibility/", {"all": "1"})
    assert seen() == 3
    a_client.post("/seats/visibility/", {"all": "0"})
    assert seen() == 2
    assert len(a_client.get(f"/customers/{customer.pk}/").context["calls"]) == 3  # the admin


def test_the_admin_watches_every_seat_live(a_client, stores, settings):
    _state(stores, settings)
    _make_seat(a_client)
    _make_seat(a_client, username="lisi", phone=OTHER, agent="806")
    client_for(Seat.objects.get(phone=PHONE).user).post("/seat/presence/", {"online": "1"})
    with CallStore(stores["calls"]) as calls:
        calls.journal(open_call("c9", (PHONE,), PHONE))
    states = {s["id"]: s for s in a_client.get("/seats/now.json").json()["seats"]}
    mine, other = states[Seat.objects.get(phone=PHONE).pk], states[Seat.objects.get(phone=OTHER).pk]
    assert (mine["online"], mine["state"], mine["caller"]) == (True, "talking", CALLER)
    assert (other["state"], other["caller"]) == ("idle", None)
    seat = client_for(Seat.objects.get(phone=PHONE).user)
    assert seat.get("/seats/now.json").status_code == 404  # a seat does not watch others
    assert Path(stores["calls"]).exists()
