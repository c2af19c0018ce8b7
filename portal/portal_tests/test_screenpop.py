"""Screen pop (V5): the journal the adapters keep of every call in progress becomes, for the
seat whose phone it rings, ``ringing`` with the caller and their last calls, ``talking`` at the
answer, ``ended`` when the record lands; in a real browser over a real ASGI server (uvicorn),
within a second; and a note written at the end is kept."""

from __future__ import annotations

import os
import time

from portal_tests.common import A_DID, PASSWORD, T0, open_call
from routecore.engine import CallRecord
from routecore.store import CallStore
from routecore_portal import screenpop
from routecore_portal.models import CallNote, Member, Seat

PHONE = "13800138100"


_row = open_call


def test_the_journal_becomes_ringing_talking_ended_for_the_phone(stores):
    with CallStore(stores["calls"]) as calls:
        calls.add(CallRecord("old", A_DID, "13900000042", start=T0, outcome="no_answer"))
        watcher = screenpop.Watcher()
        watcher._queues[PHONE] = set()  # listened to (no queue needed for tick)
        assert watcher.tick() == []
        calls.journal(_row("c1", (PHONE, "13800138101")))
        ringing = watcher.tick()
        assert [(p.event, p.phone, p.caller, p.area) for p in ringing] == [
            ("ringing", PHONE, "13900000042", "010")
        ]
        assert [h["outcome"] for h in ringing[0].history] == ["no_answer"]
        assert watcher.tick() == []  # nothing new
        calls.journal(_row("c1", (PHONE,), answered_by=PHONE))
        assert [p.event for p in watcher.tick()] == ["talking"]
        calls.add(CallRecord("c1", A_DID, "13900000042", start=time.time(), outcome="answered"))
        assert [p.event for p in watcher.tick()] == ["ended"]
        # Another phone answers: this one's ring ends.
        calls.journal(_row("c2", (PHONE, "13800138101")))
        watcher.tick()
        calls.journal(_row("c2", ("13800138101",), answered_by="13800138101"))
        assert [(p.event, p.call_id) for p in watcher.tick()] == [("ended", "c2")]


def test_a_seat_sees_the_caller_within_a_second_and_keeps_a_note(
    asgi, browser, people, stores, shots
):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("zhang", password=PASSWORD)
    Member.objects.create(user=user, role="seat", enterprise=people["a_enterprise"])
    Seat.objects.create(enterprise=people["a_enterprise"], user=user, name="张三", phone=PHONE)
    with CallStore(stores["calls"]) as calls:  # a call that rang this seat before
        old = CallRecord("old", A_DID, "13900000042", start=T0, outcome="no_answer")
        old.tried = [PHONE]
        calls.add(old)
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{asgi}/login/")
    page.fill("input[name=username]", "zhang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    assert page.url.endswith("/seat/")
    page.wait_for_timeout(500)  # the EventSource connects
    with CallStore(stores["calls"]) as calls:
        rang = time.monotonic()
        calls.journal(_row("c9", (PHONE,)))
        page.wait_for_selector("#pop[data-state=ringing]", timeout=3000)
        shown = time.monotonic() - rang
        assert shown < 1.0, f"the pop took {shown:.2f} s"
        assert page.inner_text("#pop-caller") == "13900000042"
        assert "no_answer" in page.inner_text("#pop-history")
        assert page.get_attribute("#pop-customer a", "href").startswith("/customers/")
        calls.journal(_row("c9", (PHONE,), answered_by=PHONE))
        page.wait_for_selector("#pop[data-state=talking]", timeout=3000)
        assert page.is_visible("#pop-transfer")  # a transfer is offered while talking
        page.screenshot(path=str(shots / "09-seat-talking.png"), full_page=True)
        # the admin's seat table shows the seat talking, live
        admin = browser.new_page(locale="zh-CN")
        admin.goto(f"{asgi}/login/")
        admin.fill("input[name=username]", "admin-a")
        admin.fill("input[name=password]", PASSWORD)
        admin.click("button:has-text('登录')")
        admin.goto(f"{asgi}/seats/")
        admin.wait_for_selector("tr[data-state=talking]", timeout=5000)
        assert "13900000042" in admin.inner_text("tr[data-state=talking] .call")
        admin.screenshot(path=str(shots / "10-seats-live.png"), full_page=True)
        admin.close()
        calls.add(CallRecord("c9", A_DID, "13900000042", start=time.time(), outcome="answered"))
        page.wait_for_selector("#pop[data-state=ended]", timeout=3000)
    assert not page.is_visible("#pop-transfer")
    page.fill("#pop-note textarea", "客户要报价单")
    page.click("#pop-note button")
    assert "客户要报价单" in page.inner_text("#notes")
    assert CallNote.objects.get().call_id == "c9"
    assert CallNote.objects.get().customer.number == "13900000042"


def test_a_seats_day_in_the_browser(asgi, browser, people, stores, settings):
    """Online by a click (the engine can claim the seat), a missed call with its badge and a
    call back that reaches the PBX, offline by a click (the engine skips the seat)."""
    from pathlib import Path

    from django.contrib.auth import get_user_model

    from portal_tests.fakepbx import Ami, Fake
    from routecore.backend import get_backend

    state_path = str(Path(stores["store"]).with_name("state"))
    get_backend().State.create(state_path, destinations=64, memory=64, numbers=8).close()
    ami = Fake(Ami)
    settings.ROUTECORE = {
        **stores,
        "state": state_path,
        "seat_dial": "",
        "callback_context": "",
        "pbx": f"ami://portal:s3cret@127.0.0.1:{ami.port}",
    }
    user = get_user_model().objects.create_user("zhang", password=PASSWORD)
    Member.objects.create(user=user, role="seat", enterprise=people["a_enterprise"])
    Seat.objects.create(enterprise=people["a_enterprise"], user=user, name="张三", phone=PHONE)
    with CallStore(stores["calls"]) as calls:
        calls.add(
            CallRecord(
                "missed-1",
                A_DID,
                "13900000042",
                start=time.time() - 60,
                tried=[PHONE],
                outcome="no_answer",
            )
        )
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{asgi}/login/")
    page.fill("input[name=username]", "zhang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.click("#presence button")  # go online
    assert page.inner_text("#state") == "在线"
    state = get_backend().State.open(state_path)
    claim = state.claim([PHONE], "engine-1")
    assert claim is not None  # online: the engine takes the seat
    state.release(claim)
    assert page.inner_text("#missed-count") == "1"
    page.click("form.call-back button")
    assert any(
        b.startswith(b"Action: Originate") and b"Exten: 13900000042" in b for b in ami.received
    )
    assert "13900000042" in page.inner_text(".messages")
    page.click("#presence button")  # go offline
    assert page.inner_text("#state") == "离线"
    assert state.claim([PHONE], "engine-2") is None  # offline: skipped
    state.close()
    ami.shutdown()


def test_a_call_on_another_host_pops_through_the_redis_stream(redis_state, stores):
    """The state on Redis: the adapters of every host publish their journal to the calls'
    stream; the portal's watcher reads it, so a seat rung by another host's call pops too."""
    import redis

    from routecore.state import open_state
    from routecore.store.call_events import CallEvents

    with open_state(redis_state) as state:  # an adapter on another host, same Redis
        client = redis.Redis.from_url(redis_state.split("?")[0])
        events = CallEvents(lambda: client, state.prefix)
        watcher = screenpop.Watcher()
        watcher._queues[PHONE] = set()
        assert watcher.tick() == []
        events.publish([_row("far-1", (PHONE,))], [])
        assert [(p.event, p.call_id) for p in watcher.tick()] == [("ringing", "far-1")]
        events.publish([_row("far-1", (PHONE,), answered_by=PHONE)], [])
        assert [p.event for p in watcher.tick()] == ["talking"]
        events.publish([], ["far-1"])
        assert [p.event for p in watcher.tick()] == ["ended"]
        assert not os.path.exists(stores["calls"])  # no local journal was read


def test_a_seat_sees_the_history_that_involved_it_unless_allowed_more():
    history = (
        {"start": 1.0, "outcome": "answered", "answered_by": PHONE, "phones": [PHONE]},
        {"start": 2.0, "outcome": "answered", "answered_by": "13800138101",
         "phones": ["13800138101"]},
        {"start": 3.0, "outcome": "no_answer", "answered_by": None,
         "phones": ["13800138101", PHONE]},
    )  # fmt: skip
    own = screenpop.visible(history, PHONE, False)
    assert [h["start"] for h in own] == [1.0, 3.0] and all("phones" not in h for h in own)
    assert len(screenpop.visible(history, PHONE, True)) == 3
    record = {"kind": "outbound", "caller": PHONE, "tried": ["13900000042"], "answered_by": None}
    assert PHONE in screenpop.phones_of(record)  # the seat placed it
