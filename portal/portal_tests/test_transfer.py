"""Internal transfer and internal calls from the seat's page (V5), over loopback peers that
answer as Asterisk's manager interface and FreeSWITCH's event socket: the caller's channel
gets the transfer variable and the agent's leg is hung up (the adapter and the engine do the
rest: adapters' and engine's tests); only the seat talking in the call may transfer it, and
only to where the enterprise already sends calls."""

from __future__ import annotations

import pytest

from portal_tests.common import A_DID, client_for, example, open_call
from portal_tests.fakepbx import AGENT_LEG, AGENT_UUID, SEAT_PHONE
from portal_tests.fakepbx import Ami as _Ami
from portal_tests.fakepbx import Esl as _Esl
from portal_tests.fakepbx import Fake as _Fake
from routecore.store import CallStore
from routecore_portal.models import AuditEntry, Member, Seat

COLLEAGUE = "13800138105"
CHANNEL = "1765000000.42"


@pytest.fixture
def seat(people, stores):
    from django.contrib.auth import get_user_model

    make = get_user_model().objects.create_user
    enterprise = people["a_enterprise"]
    for name, phone, agent in (("zhang", SEAT_PHONE, 801), ("li", COLLEAGUE, 805)):
        user = make(name, password="x-long-password-1")
        Member.objects.create(user=user, role="seat", enterprise=enterprise)
        Seat.objects.create(
            enterprise=enterprise, user=user, name=name, phone=phone, agent_id=agent
        )
    client = client_for(get_user_model().objects.get(username="zhang"))
    client.cookies["django_language"] = "en"
    return client


def _pbx(settings, stores, url: str) -> None:
    settings.ROUTECORE = {**stores, "pbx": url, "seat_dial": "", "callback_context": ""}


def _talking(stores, answered_by: str = SEAT_PHONE, did: str = A_DID) -> None:
    with CallStore(stores["calls"]) as calls:
        calls.journal(open_call("c1", (answered_by,), answered_by, channel=CHANNEL, did=did))


def _transfer(seat, to: str, call_id: str = "c1") -> str:
    page = seat.post("/seat/transfer/", {"call_id": call_id, "to": to}, follow=True)
    return page.content.decode()


def _fields(block: bytes) -> dict[str, str]:
    lines = block.decode().strip().split("\r\n")
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def test_asterisk_sets_the_transfer_on_the_callers_channel_and_ends_the_agents_leg(
    seat, settings, stores
):
    ami = _Fake(_Ami)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    _talking(stores)
    page = _transfer(seat, "805")  # a colleague's agent id
    sent = [_fields(b) for b in ami.received]
    sent = [f for f in sent if f["Action"] not in ("Login", "Filter", "Logoff")]
    assert [f["Action"] for f in sent] == ["Getvar", "Setvar", "Hangup"]
    getvar, setvar, hangup = sent
    assert (getvar["Channel"], getvar["Variable"]) == (CHANNEL, "BRIDGEPEER")
    assert (setvar["Channel"], setvar["Variable"], setvar["Value"]) == (
        CHANNEL,
        "ROUTECORE_TRANSFER",
        COLLEAGUE,
    )
    assert hangup["Channel"] == AGENT_LEG
    assert "on the way to 805" in page
    assert AuditEntry.objects.filter(action="seat.transfer", target="c1").exists()
    ami.shutdown()


def test_freeswitch_sets_the_transfer_and_kills_the_agents_leg(
    seat, a_client, op_client, settings, stores
):
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    a_client.post(f"/n/{A_DID}/flow/1/submit/")
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")
    esl = _Fake(_Esl)
    _pbx(settings, stores, f"esl://:ClueCon@127.0.0.1:{esl.port}")
    _talking(stores)
    _transfer(seat, "13800138001")  # a destination of the live flow
    apis = [c.decode().strip() for c in esl.received if c.startswith(b"api ")]
    assert apis == [
        f"api uuid_getvar {CHANNEL} bridge_uuid",
        f"api uuid_setvar {CHANNEL} routecore_transfer 13800138001",
        f"api uuid_kill {AGENT_UUID}",
    ]
    esl.shutdown()


def test_only_the_talking_seat_transfers_and_only_to_the_enterprises_phones(seat, settings, stores):
    ami = _Fake(_Ami)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    _talking(stores, answered_by=COLLEAGUE)  # the colleague talks, not this seat
    assert "not talking in this call" in _transfer(seat, "805")
    assert "not talking in this call" in _transfer(seat, "805", call_id="nope")
    _talking(stores)
    assert "not a colleague or an extension" in _transfer(seat, "13912345678")  # toll fraud
    assert "not a colleague or an extension" in _transfer(seat, "801")  # itself
    assert "needs the call" in _transfer(seat, "80a")
    assert not any(b"Setvar" in b for b in ami.received)
    ami.shutdown()


def test_a_call_not_bridged_now_is_a_message(seat, settings, stores):
    ami = _Fake(_Ami, idle=True)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    _talking(stores)
    assert "not talking with an agent now" in _transfer(seat, "805")
    assert not any(b"Setvar" in b for b in ami.received)
    assert AuditEntry.objects.filter(action="seat.transfer.failed").exists()
    ami.shutdown()


def test_a_colleague_is_called_by_agent_id(seat, settings, stores):
    ami = _Fake(_Ami)
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{ami.port}")
    seat.post("/seat/call/", {"number": "805", "did": A_DID})
    originate = _fields(next(b for b in ami.received if b.startswith(b"Action: Originate")))
    assert (originate["Exten"], originate["CallerID"]) == (COLLEAGUE, SEAT_PHONE)
    ami.shutdown()


def test_the_workspace_offers_colleagues(seat):
    page = seat.get("/seat/").content.decode()
    assert 'id="pop-transfer"' in page and '<option value="805">li</option>' in page
    assert 'id="call-colleague"' in page


def test_a_pbx_that_cannot_be_reached_or_refuses_is_a_message(seat, settings, stores):
    import socket

    _talking(stores)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    _pbx(settings, stores, f"ami://portal:s3cret@127.0.0.1:{closed}")
    assert "cannot connect" in _transfer(seat, "805")
    esl = _Fake(_Esl)
    _pbx(settings, stores, f"esl://:ClueCon@127.0.0.1:{esl.port}")
    _talking(stores)
    esl.shutdown()
    esl.server_close()  # the event socket is gone between two clicks
    assert "The transfer did not happen" in _transfer(seat, "805")
    _pbx(settings, stores, "")
    assert "ROUTECORE_PBX" in _transfer(seat, "805")
    assert AuditEntry.objects.filter(action="seat.transfer.failed").count() == 3


@pytest.mark.parametrize("kind", ["ami", "esl"])
def test_an_agent_leg_gone_meanwhile_takes_the_transfer_back(seat, settings, stores, kind):
    """The agent hung up between the look and the hang-up: the variable is cleared again (a
    later Dial must not transfer) and the page says the caller was not moved."""
    fake = _Fake(_Ami if kind == "ami" else _Esl, gone=True)
    url = (f"ami://portal:s3cret@127.0.0.1:{fake.port}" if kind == "ami"
           else f"esl://:ClueCon@127.0.0.1:{fake.port}")  # fmt: skip
    _pbx(settings, stores, url)
    _talking(stores)
    assert "the caller was not moved" in _transfer(seat, "805")
    sent = b"".join(fake.received)
    if kind == "ami":
        assert sent.count(b"Variable: ROUTECORE_TRANSFER") == 2 and b"Value: \r\n" in sent
    else:
        assert f"api uuid_setvar {CHANNEL} routecore_transfer\n".encode() in sent
    fake.shutdown()
