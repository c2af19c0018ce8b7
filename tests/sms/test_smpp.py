"""The outbox leaves through SMPP (B2, B3): the sender and the SMPP provider against a real
SMPP server over loopback (``smpp_gateway``, on smpplib's own PDUs): UCS-2 for Chinese, long
messages in parts with a concatenation header, delivery receipts, throttling tried again,
a permanent refusal final, a lost answer never sent twice, a restart that finds a message in
doubt, a gateway that cannot be bound, the rate, enquire_link."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from routecore.engine.sms import Sms
from routecore.errors import RoutecoreError
from routecore.sms.sender import RETRY_FIRST, Sender
from routecore.sms.smpp import SmppProvider
from routecore.store import CallStore
from routecore.store.sms_delivery import Deliveries
from tests.sms.smpp_gateway import Behaviour, Gateway

TEXT = "【远景科技】您好，远景科技（4006001003）于2026-12-07 10:05致电您未接通，请回拨。"
LONG = "【远景科技】" + "感谢您致电远景科技，" * 12  # more than one UCS-2 SMS (70 characters)


class Clock:
    def __init__(self) -> None:
        self.now = 1_796_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gateway():
    g = Gateway()
    yield g
    g.close()


def queue(calls: Path | str, *texts: str, to: str = "13900139000") -> None:
    with CallStore(calls) as store:
        for i, text in enumerate(texts):
            store.send(Sms("missed_call", "4006001003", to, text, f"c{i}", 1.0))


def provider(gateway: Gateway, **kw) -> SmppProvider:
    url = f"smpp://routecore:secret@127.0.0.1:{gateway.port}?source=1065900001&rate=1000"
    p = SmppProvider.from_url(url)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def settle(sender: Sender, rounds: int = 20) -> None:
    """Run until the receipts have come (they follow the submits on the connection)."""
    for _ in range(rounds):
        sender.run_once()
        if sender.deliveries.counts()["sent"] == 0:
            return
        time.sleep(0.02)


def test_a_chinese_message_leaves_as_ucs2_and_is_delivered(located, gateway, tmp_path):
    calls = located("calls.db")
    queue(calls, TEXT)
    sender = Sender(str(calls), provider(gateway))
    assert sender.run_once()["sent"] == 1
    [sub] = gateway.submitted
    assert (sub.destination, sub.source, sub.data_coding) == ("13900139000", "1065900001", 8)
    assert sub.short_message.decode("utf-16-be") == TEXT
    settle(sender)
    status = sender.deliveries.status(1)
    assert status["state"] == "delivered" and status["message_ids"] == sub.message_id
    assert [a["outcome"] for a in status["attempts_made"]] == ["sent", "delivered"]
    with CallStore(calls) as store:
        assert store.pending_sms() == []  # the outbox knows it left


def test_a_long_message_goes_in_parts_with_a_concatenation_header(located, gateway, tmp_path):
    calls = located("calls.db")
    queue(calls, LONG)
    sender = Sender(str(calls), provider(gateway))
    sender.run_once()
    parts = gateway.submitted
    assert len(parts) == 2 and all(p.esm_class & 0x40 for p in parts)
    headers = [p.short_message[:6] for p in parts]
    assert headers[0][:3] == b"\x05\x00\x03" and headers[0][3] == headers[1][3]  # one reference
    assert [h[4:6] for h in headers] == [b"\x02\x01", b"\x02\x02"]
    text = b"".join(p.short_message[6:] for p in parts).decode("utf-16-be")
    assert text == LONG
    settle(sender)
    assert sender.deliveries.status(1)["state"] == "delivered"  # after both receipts


def test_throttling_is_tried_again_later_and_a_bad_number_never(located, gateway, tmp_path):
    gateway.behaviour.statuses = [0x58, 0x0B]  # throttled, then an invalid destination
    calls = located("calls.db")
    queue(calls, TEXT, TEXT)
    clock = Clock()
    sender = Sender(str(calls), provider(gateway), clock=clock)
    done = sender.run_once()
    assert (done["queued"], done["failed"]) == (1, 1)
    first, second = sender.deliveries.status(1), sender.deliveries.status(2)
    assert (first["state"], first["code"]) == ("queued", "ESME_RTHROTTLED")
    assert first["next_try"] == clock.now + RETRY_FIRST
    assert (second["state"], second["code"]) == ("failed", "0x0B")
    assert sender.run_once()["sent"] == 0  # not due yet
    clock.now += RETRY_FIRST
    assert sender.run_once()["sent"] == 1  # the throttled one; the bad number never again
    outcomes = [a["outcome"] for a in sender.deliveries.status(1)["attempts_made"]]
    assert outcomes == ["retry", "sent"] and len(gateway.submitted) == 1


def test_a_lost_answer_is_never_sent_twice(located, gateway, tmp_path):
    gateway.behaviour.drop_after = 1  # the gateway takes the first submit and dies
    calls = located("calls.db")
    queue(calls, TEXT, "【远景科技】第二条")
    sender = Sender(str(calls), provider(gateway, timeout=1.0))
    done = sender.run_once()
    assert done["failed"] == 1 and done["sent"] == 1  # the second, on a new bind
    assert sender.deliveries.status(1)["code"] == "in_doubt"
    assert gateway.binds == 2 and len(gateway.submitted) == 2
    assert len(gateway.submitted) == 2  # the first never again


def test_a_restart_after_a_crash_mid_send_does_not_send_again(located, gateway, tmp_path):
    calls = located("calls.db")
    queue(calls, TEXT)
    with CallStore(calls):
        pass
    with Deliveries(str(calls)) as d:
        d.begin(1, "smpp", 1.0)  # marked as being sent, then the process died
    sender = Sender(str(calls), provider(gateway))
    assert sender.deliveries.status(1)["code"] == "in_doubt"
    assert sender.run_once()["sent"] == 0 and gateway.submitted == []


def test_a_gateway_that_cannot_be_bound_is_tried_again_with_back_off(located, tmp_path):
    gateway = Gateway(Behaviour(password="other"))
    try:
        calls = located("calls.db")
        queue(calls, TEXT)
        clock = Clock()
        smpp = provider(gateway)
        sender = Sender(str(calls), smpp, clock=clock)
        assert sender.run_once()["queued"] == 1
        assert sender.deliveries.status(1)["code"] == "bind"
        gateway.behaviour.password = "secret"
        clock.now += RETRY_FIRST
        smpp._retry_at = 0.0  # the provider's own back-off has passed
        assert sender.run_once()["sent"] == 1
    finally:
        gateway.close()


def test_the_rate_spaces_the_messages(located, gateway, tmp_path):
    calls = located("calls.db")
    queue(calls, *[TEXT] * 5)
    waits: list[float] = []
    smpp = provider(gateway, rate=10.0)
    sender = Sender(str(calls), smpp, sleep=waits.append)
    assert sender.run_once()["sent"] == 5
    assert len(waits) == 4 and max(waits) == pytest.approx(0.4, abs=0.05)


def test_an_idle_connection_enquires(located, gateway, tmp_path):
    calls = located("calls.db")
    queue(calls, TEXT)
    smpp = provider(gateway)
    sender = Sender(str(calls), smpp)
    sender.run_once()
    smpp._last_io -= 60
    sender.run_once()
    for _ in range(50):
        if gateway.enquiries:
            break
        time.sleep(0.01)
    assert gateway.enquiries == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "smpp://127.0.0.1:2775",
        "smpp://u:p@h:1?rate=5",
        "smpp://u:p@h:1?source=1&rate=0",
    ],
)
def test_a_bad_provider_url_says_why(url):
    with pytest.raises(RoutecoreError):
        SmppProvider.from_url(url)


def test_a_reply_of_td_opts_the_phone_out_of_that_numbers_messages(located, gateway, tmp_path):
    """回T退订: the reply puts the phone on the opt-out list of the 400 number whose message it
    answers; that number's messages (service ones too) never reach it again, another
    number's still do."""
    calls = located("calls.db")
    queue(calls, TEXT)
    sender = Sender(str(calls), provider(gateway))
    sender.run_once()
    gateway.reply("13900139000", " td ")
    for _ in range(50):
        sender.run_once()
        if sender.deliveries.opted_out("4006001003", "13900139000"):
            break
        time.sleep(0.02)
    assert sender.deliveries.opted_out("4006001003", "13900139000")
    with CallStore(calls) as store:
        store.send(Sms("hangup", "4006001003", "13900139000", TEXT, "c9", 2.0))
        store.send(Sms("hangup", "4006001004", "13900139000", TEXT, "c10", 3.0))
    done = sender.run_once()
    assert (done["sent"], done["failed"]) == (1, 1)
    assert sender.deliveries.status(2)["code"] == "opted_out"
    assert [s.destination for s in gateway.submitted] == ["13900139000", "13900139000"]
    gateway.reply("13900139001", "T")  # a phone no message of ours went to: nothing happens
    sender.run_once()
    assert not sender.deliveries.opted_out("4006001003", "13900139001")


def test_marketing_waits_for_its_day_and_for_the_end_of_the_quiet_hours(located, gateway, tmp_path):
    """V2: a campaign's message is never sent before its not_before, nor from 21:00 to 08:00
    in the recipient's time: held (no attempt counted) until 08:00, then sent."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    sh = ZoneInfo("Asia/Shanghai")
    night = datetime(2026, 12, 7, 22, 30, tzinfo=sh).timestamp()
    morning = datetime(2026, 12, 8, 8, 0, tzinfo=sh).timestamp()
    calls = located("calls.db")
    with CallStore(calls) as store:
        store.send(Sms("marketing", "4006001003", "13900139000", TEXT, "campaign-1", night))
        store.send(Sms("marketing", "4006001003", "13900139001", TEXT, "campaign-1", night,
                       not_before=morning + 86400))  # fmt: skip
    clock = Clock()
    clock.now = night
    sender = Sender(str(calls), provider(gateway), clock=clock)
    assert sender.run_once()["later"] == 1 and gateway.submitted == []
    status = sender.deliveries.status(1)
    assert (status["next_try"], status["attempts"]) == (morning, 0)
    clock.now = morning
    assert sender.run_once()["sent"] == 1  # the first; the second's day has not come
    clock.now = morning + 86400
    assert sender.run_once()["sent"] == 1
    assert (
        sender.deliveries.campaign("campaign-1")["sent"]
        + sender.deliveries.campaign("campaign-1")["delivered"]
        == 2
    )


def test_the_long_running_sender_delivers_until_stopped(located, gateway, tmp_path):
    import threading

    calls = located("calls.db")
    queue(calls, TEXT, TEXT)
    sender = Sender(str(calls), provider(gateway))
    runner = threading.Thread(target=sender.run, kwargs={"idle": 0.05})
    runner.start()
    for _ in range(100):
        if len(gateway.submitted) == 2:
            break
        time.sleep(0.02)
    sender.stop.set()
    runner.join(5)
    assert not runner.is_alive() and len(gateway.submitted) == 2
