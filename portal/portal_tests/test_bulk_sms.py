"""Bulk SMS (V2): a template and its signature approved by an operator before anything can be
sent; a campaign to 1,000 customers that skips opted-out numbers and non-mobiles, sends no
number twice, keeps its daily cap, ends every message with 回T退订, waits for the window and
shows its progress, delivered through a real SMPP server on loopback."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal_tests.common import A_DID
from routecore.engine import CallRecord
from routecore.sms.sender import Sender
from routecore.sms.smpp import SmppProvider
from routecore.store import CallStore
from routecore.store.sms_delivery import Deliveries
from routecore_portal.models import AuditEntry, Campaign, Customer, SmsTemplate

SH = ZoneInfo("Asia/Shanghai")


def _template(client, **fields) -> object:
    data = {
        "form": "template",
        "name": "双十二",
        "signature": "远景科技",
        "text": "年终特惠，来电有礼",
    }
    data.update(fields)
    return client.post("/sms/", data)


def _approved(a_client, op_client) -> SmsTemplate:
    _template(a_client)
    template = SmsTemplate.objects.get()
    op_client.post("/ops/sms/", {"pk": template.pk, "action": "approve", "note": "ok"})
    template.refresh_from_db()
    return template


def test_a_template_needs_an_operators_approval_before_any_campaign(a_client, op_client, stores):
    CallStore(stores["calls"]).close()
    bad = _template(a_client, text="【别的签名】特惠")
    assert bad.status_code == 400 and "【】" in bad.content.decode()
    assert _template(a_client, signature="x").status_code == 400
    _template(a_client)
    template = SmsTemplate.objects.get()
    assert template.state == "pending"
    Customer.objects.create(enterprise=template.enterprise, number="13900000001")
    a_client.post("/sms/campaigns/", {"template": template.pk, "did": A_DID, "per_day": 100})
    assert not Campaign.objects.exists()  # not approved: nothing queued
    assert a_client.get("/ops/sms/").status_code == 404  # an admin reviews nothing
    op_client.post("/ops/sms/", {"pk": template.pk, "action": "approve", "note": "ok"})
    template.refresh_from_db()
    assert (template.state, template.reviewer) == ("approved", "op")
    assert AuditEntry.objects.filter(action="sms.template.approved").exists()


def test_a_campaign_to_a_thousand_customers(a_client, op_client, b_client, people, stores):
    template = _approved(a_client, op_client)
    enterprise = people["a_enterprise"]
    Customer.objects.bulk_create(
        [Customer(enterprise=enterprise, number=f"139{i:08d}", tags="vip") for i in range(1000)]
        + [Customer(enterprise=enterprise, number=f"01065{i:06d}") for i in range(3)]
    )
    with CallStore(stores["calls"]) as calls:  # a caller who is a customer too: once only
        calls.add(
            CallRecord("c1", A_DID, "13900000007", start=time.time() - 3600,
                       caller_number="13900000007")
        )  # fmt: skip
    with Deliveries(stores["calls"]) as deliveries:
        for i in range(5):
            deliveries.opt_out(A_DID, f"139{i:08d}", 1.0, "reply 'TD'")
    response = a_client.post(
        "/sms/campaigns/", {"template": template.pk, "did": A_DID, "per_day": 400, "days": 30}
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and (campaign.recipients, campaign.skipped) == (995, 8)
    with CallStore(stores["calls"]) as calls:
        queued = [m for m in calls.pending_sms(2000) if m["call_id"] == campaign.outbox_name]
    assert len(queued) == 995 and len({m["to_number"] for m in queued}) == 995
    assert all(m["text"] == "【远景科技】年终特惠，来电有礼回T退订" for m in queued)
    assert not {m["to_number"] for m in queued} & {f"139{i:08d}" for i in range(5)}
    days = [m["not_before"] for m in queued]
    assert days[:400] == [None] * 400 and len(set(days[400:800])) == 1 and days[800] > days[400]
    page = a_client.get(f"/sms/campaigns/{campaign.pk}/").content.decode()
    assert 'id="recipients">995<' in page and 'data-state="queued"><th>queued</th><td>995<' in page
    assert page.count('<tr data-state="queued"><td>139') == 100  # a page of its messages
    assert "marketing" not in page  # never a message's raw row shown as a flash message
    assert b_client.get(f"/sms/campaigns/{campaign.pk}/").status_code == 404


def test_the_campaign_waits_for_the_window_then_its_days_share_leaves(
    a_client, op_client, people, stores
):
    from tests.sms.smpp_gateway import Gateway

    template = _approved(a_client, op_client)
    Customer.objects.bulk_create(
        [Customer(enterprise=people["a_enterprise"], number=f"139{i:08d}") for i in range(30)]
    )
    CallStore(stores["calls"]).close()
    a_client.post("/sms/campaigns/", {"template": template.pk, "did": A_DID, "per_day": 20})
    campaign = Campaign.objects.get()
    gateway = Gateway()
    try:
        url = f"smpp://routecore:secret@127.0.0.1:{gateway.port}?source=1065900001&rate=10000"
        now = [datetime(2026, 12, 7, 22, 0, tzinfo=SH).timestamp()]
        sender = Sender(stores["calls"], SmppProvider.from_url(url), clock=lambda: now[0])
        assert sender.run_once()["later"] == 20 and gateway.submitted == []  # quiet hours
        now[0] = datetime(2026, 12, 8, 9, 0, tzinfo=SH).timestamp()
        assert sender.run_once()["sent"] == 20  # today's share; the rest waits for its day
        assert gateway.submitted[0].short_message.decode("utf-16-be").endswith("回T退订")
        page = a_client.get(f"/sms/campaigns/{campaign.pk}/").content.decode()
        assert 'id="percent">67%<' in page
    finally:
        gateway.close()


@pytest.mark.parametrize("per_day", ["0", "x", ""])
def test_a_bad_campaign_is_a_message(a_client, op_client, stores, per_day):
    template = _approved(a_client, op_client)
    CallStore(stores["calls"]).close()
    response = a_client.post(
        "/sms/campaigns/", {"template": template.pk, "did": A_DID, "per_day": per_day}, follow=True
    )
    assert "daily cap" in response.content.decode() or "每日" in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_campaign_in_the_browser(asgi, browser, people, stores, shots):
    """In Debian's chromium: the operator approves the template; the admin sends it to 1,000
    customers (10 of them opted out); the campaign's page shows it held at night, then its
    progress as the sender delivers through a real SMPP server."""
    from portal_tests.common import PASSWORD
    from tests.sms.smpp_gateway import Gateway

    enterprise = people["a_enterprise"]
    SmsTemplate.objects.create(
        enterprise=enterprise,
        name="双十二",
        signature="远景科技",
        text="年终特惠",
        author="admin-a",
    )
    Customer.objects.bulk_create(
        [Customer(enterprise=enterprise, number=f"139{i:08d}") for i in range(1000)]
    )
    CallStore(stores["calls"]).close()
    with Deliveries(stores["calls"]) as deliveries:
        for i in range(10):
            deliveries.opt_out(A_DID, f"139{i:08d}", 1.0, "reply 'T'")

    def login(name: str):
        page = browser.new_page(locale="zh-CN")
        page.goto(f"{asgi}/login/")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('登录')")
        return page

    op = login("op")
    op.goto(f"{asgi}/ops/sms/")
    assert "【远景科技】年终特惠回T退订" in op.inner_text("#pending")
    op.click("#pending button[value=approve]")
    assert "没有待审核的内容" in op.inner_text("#pending")
    admin = login("admin-a")
    admin.goto(f"{asgi}/sms/")
    form = admin.locator("form.campaign-form")
    form.locator("input[name=per_day]").fill("2000")
    form.locator("button[type=submit]").click()
    assert admin.inner_text("#recipients") == "990" and admin.inner_text("#skipped") == "10"
    gateway = Gateway()
    try:
        url = f"smpp://routecore:secret@127.0.0.1:{gateway.port}?source=1065900001&rate=10000"
        now = [datetime(2026, 12, 7, 23, 0, tzinfo=SH).timestamp()]
        sender = Sender(stores["calls"], SmppProvider.from_url(url), clock=lambda: now[0])
        sender.run_once()  # 23:00: held until 08:00
        admin.reload()
        assert admin.inner_text("#percent") == "0%" and gateway.submitted == []
        now[0] = datetime(2026, 12, 8, 8, 30, tzinfo=SH).timestamp()
        while sender.run_once()["sent"]:
            pass
        admin.reload()
        assert admin.inner_text("#percent") == "100%"
        admin.screenshot(path=str(shots / "12-campaign.png"))
        assert len(gateway.submitted) == 990
    finally:
        gateway.close()


def test_a_numbers_sms_page_shows_each_messages_state(a_client, b_client, stores):
    from routecore.engine.sms import Sms

    with CallStore(stores["calls"]) as calls:
        calls.send(Sms("hangup", A_DID, "13900139000", "【远景科技】谢谢来电", "c1", 1.79e9))
    with Deliveries(stores["calls"]) as deliveries:
        deliveries.begin(1, "smpp", 1.79e9 + 1)
        deliveries.failed(1, "0x0B", "submit_sm refused", 1.79e9 + 2)
    page = a_client.get(f"/n/{A_DID}/sms/").content.decode()
    assert "13900139000" in page and 'data-state="failed"' in page and "0x0B" in page
    assert b_client.get(f"/n/{A_DID}/sms/").status_code == 404


def test_alibabas_reply_push_opts_a_phone_out(client, stores, settings):
    """Alibaba pushes the phones' replies (SmsUp): TD opts the phone out of the number whose
    message it answers; a wrong token is no such page; garbage is a 400 with the reason."""
    import json

    from routecore.engine.sms import Sms

    settings.ROUTECORE = {**stores, "sms_hook_token": "s3cret-hook"}
    with CallStore(stores["calls"]) as calls:
        calls.send(Sms("hangup", A_DID, "13900139000", "【远景科技】谢谢来电", "c1", 1.79e9))
    with Deliveries(stores["calls"]) as deliveries:
        deliveries.begin(1, "aliyun", 1.79e9)
        deliveries.sent(1, ["biz-1"], 1.79e9 + 1)
    body = [
        {
            "phone_number": "13900139000",
            "content": "TD",
            "sign_name": "远景科技",
            "send_time": "2026-12-07 10:00:00",
            "dest_code": "1234",
            "sequence_id": 1,
        }
    ]
    assert (
        client.post("/hooks/sms-up/wrong", json.dumps(body), "application/json").status_code == 404
    )
    answer = client.post("/hooks/sms-up/s3cret-hook", json.dumps(body), "application/json")
    assert answer.json() == {"code": 0, "msg": "成功"}
    with Deliveries(stores["calls"]) as deliveries:
        assert deliveries.opted_out(A_DID, "13900139000")
    bad = client.post("/hooks/sms-up/s3cret-hook", "not json", "application/json")
    assert bad.status_code == 400 and bad.json()["code"] == 1
    settings.ROUTECORE = {**stores, "sms_hook_token": ""}
    assert client.post("/hooks/sms-up/", "[]", "application/json").status_code == 404
