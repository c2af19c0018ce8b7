"""Click to call (B3 from the seat's page): the PBX rings the seat's phone, then sends it into
the agents' outbound path with the customer's number, showing the 400 number — over a
loopback Asterisk manager interface and FreeSWITCH event socket that answer as the real ones
do; a PBX that refuses or cannot be reached, a blacklisted or malformed number are a message
on the page and a log line, never a stuck seat."""

from __future__ import annotations

import socket

import pytest

from portal_tests.common import A_DID, client_for, example
from portal_tests.fakepbx import CUSTOMER, SEAT_PHONE
from portal_tests.fakepbx import Ami as _Ami
from portal_tests.fakepbx import Esl as _Esl
from portal_tests.fakepbx import Fake as _Fake
from routecore_portal.models import AuditEntry, Member, Seat


@pytest.fixture
def seat(people, a_client, stores):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("zhang", password="x-long-password-1")
    Member.objects.create(user=user, role="seat", enterprise=people["a_enterprise"])
    Seat.objects.create(enterprise=people["a_enterprise"], user=user, name="张三", phone=SEAT_PHONE)
    return client_for(user)


def _pbx(settings, stores, url: str) -> None:
    settings.ROUTECORE = {**stores, "pbx": url, "seat_dial": "", "callback_context": ""}


def _call(seat, number: str = CUSTOMER, did: str = A_DID) -> str:
    return seat.post("/seat/call/", {"number": number, "did": did}, follow=True).content.decode()


def test_asterisk_rings_the_seat_then_sends_it_to_the_agents_outbound_path(seat, settings, stores):
    ami = _Fake(_Ami)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    page = _call(seat)
    originate = next(b for b in ami.received if b.startswith(b"Action: Originate"))
    assert b"Channel: Local/13800138100@destinations\r\n" in originate
    assert b"Context: agents-out\r\n" in originate and b"Exten: 13900000042\r\n" in originate
    assert b"CallerID: 13800138100\r\n" in originate  # the agent: the seat's phone
    assert "13900000042" in page and AuditEntry.objects.filter(action="seat.callback").exists()
    ami.shutdown()


def test_freeswitch_originates_with_the_service_number(seat, settings, stores):
    esl = _Fake(_Esl)
    _pbx(settings, stores, f"esl://:ClueCon@127.0.0.1:{esl.port}")
    _call(seat)
    originate = next(c for c in esl.received if c.startswith(b"api originate"))
    assert originate == (
        b"api originate {originate_timeout=30,origination_caller_id_number=13800138100,"
        b"routecore_service=4006001003,routecore_agent=13800138100}loopback/13800138100/default"
        b" 13900000042 XML default\n\n"
    )
    esl.shutdown()


def test_a_pbx_that_refuses_or_cannot_be_reached_is_a_message(seat, settings, stores):
    seat.cookies["django_language"] = "en"
    ami = _Fake(_Ami, refuse=True)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    assert "Permission denied" in _call(seat)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{closed}")
    assert "cannot connect" in _call(seat)
    _pbx(settings, stores, "")
    assert "ROUTECORE_PBX" in _call(seat)
    assert AuditEntry.objects.filter(action="seat.callback.failed").count() == 3
    ami.shutdown()


def test_blacklisted_malformed_and_foreign_numbers_never_reach_the_pbx(
    seat, a_client, op_client, settings, stores
):
    seat.cookies["django_language"] = "en"
    flow = example(A_DID) + "\nblacklist:\n  numbers: ['13900000042']\n"
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": flow})
    a_client.post(f"/n/{A_DID}/flow/1/submit/")
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")
    ami = _Fake(_Ami)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    assert "blacklist" in _call(seat)
    assert "not a mobile or a landline" in _call(seat, number="12345")
    assert seat.post("/seat/call/", {"number": CUSTOMER, "did": "4006001001"}).status_code == 404
    assert not [b for b in ami.received if b.startswith(b"Action: Originate")]
    ami.shutdown()
