"""Customers (V5): made from a caller the first time a seat's phone rings for them, the card in
the screen pop, named and tagged by seats and admins, their calls and the notes written about
them; another enterprise's customers are a 404."""

from __future__ import annotations

import asyncio
import json

from django.test import AsyncClient

from portal_tests.common import A_DID, T0, client_for
from routecore.engine import CallRecord
from routecore.store import CallStore
from routecore_portal.models import Customer, Member, Seat
from routecore_portal.views.customers import card


def _seat(people):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("zhang", password="x-long-password-1")
    Member.objects.create(user=user, role="seat", enterprise=people["a_enterprise"])
    return Seat.objects.create(
        enterprise=people["a_enterprise"], user=user, name="张三", phone="13800138100"
    )


def test_a_caller_becomes_a_customer_once_and_the_card_shows_what_seats_wrote(people, stores):
    ent = people["a_enterprise"].pk
    first = card(ent, "13900000042", "010")
    again = card(ent, "13900000042", "010")
    assert first["id"] == again["id"] and Customer.objects.count() == 1
    assert Customer.objects.get().area == "010"


def test_a_note_lands_on_the_customer_card_and_seats_name_them(people, a_client, b_client, stores):
    seat = client_for(_seat(people).user)
    with CallStore(stores["calls"]) as calls:
        calls.add(
            CallRecord(
                "c1",
                A_DID,
                "13900000042",
                start=T0,
                outcome="answered",
                answer=T0 + 5,
                answered_by="13800138100",
                talk_seconds=40,
            )
        )
    seat.post(
        "/seat/notes/", {"call_id": "c1", "did": A_DID, "caller": "13900000042", "text": "要报价单"}
    )
    customer = Customer.objects.get(number="13900000042")
    page = seat.get(f"/customers/{customer.pk}/").content.decode()
    assert "要报价单" in page and "<td>40</td>" in page  # the note; the call, its talk time
    seat.post(
        f"/customers/{customer.pk}/", {"name": "王经理", "company": "远景科技", "tags": "VIP"}
    )
    customer.refresh_from_db()
    assert (customer.name, customer.company, customer.tags) == ("王经理", "远景科技", "VIP")
    assert card(customer.enterprise_id, "13900000042", None)["notes"] == ["要报价单"]
    found = a_client.get("/customers/", {"q": "远景"}).content.decode()
    assert "13900000042" in found
    # Another enterprise: nothing.
    assert b_client.get(f"/customers/{customer.pk}/").status_code == 404
    assert "13900000042" not in b_client.get("/customers/", {"q": "139"}).content.decode()
    # An operator has no customers page (the enterprises' own).
    assert client_for(people["op"]).get("/customers/").status_code == 404


def test_a_note_for_another_enterprises_number_is_refused(people, stores):
    seat = client_for(_seat(people).user)
    response = seat.post(
        "/seat/notes/", {"call_id": "c1", "did": "4006001001", "caller": "139", "text": "x"}
    )
    assert response.status_code == 404


def test_the_screen_pop_carries_the_customer_card(people, stores, transactional_db):
    from routecore_portal import screenpop
    from routecore_portal.screenpop import Pop

    seat = _seat(people)
    customer = Customer.objects.create(
        enterprise=people["a_enterprise"], number="13900000042", name="王经理"
    )
    client = AsyncClient()

    async def first_pop() -> dict:
        await client.aforce_login(seat.user, backend="routecore_portal.auth.NumberOrNameBackend")
        response = await client.get("/seat/events")
        stream = response.streaming_content.__aiter__()
        assert (await stream.__anext__()).startswith(b"retry:")
        for queue in screenpop.WATCHER._queues["13800138100"]:
            queue.put_nowait(Pop("ringing", "13800138100", "c1", A_DID, "13900000042", "010"))
        chunk = await asyncio.wait_for(stream.__anext__(), 5)
        await stream.aclose()
        return json.loads(chunk.decode().split("data: ", 1)[1])

    data = asyncio.run(first_pop())
    assert data["event"] == "ringing" and data["customer"]["name"] == "王经理"
    assert data["customer"]["id"] == customer.pk
