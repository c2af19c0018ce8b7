"""The knowledge base searched in Chinese (FTS5 trigram, a substring for short queries) and
contact plans shown on the seat's workspace when due (V5); each enterprise's own."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portal_tests.common import client_for
from routecore_portal import knowledge
from routecore_portal.models import Article, Customer, FollowUp, Member, Seat


def _seat(people, name="zhang"):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(name, password="x-long-password-1")
    Member.objects.create(user=user, role="seat", enterprise=people["a_enterprise"])
    return Seat.objects.create(
        enterprise=people["a_enterprise"], user=user, name=name, phone="13800138100"
    )


def test_articles_are_found_by_chinese_words_of_any_length(a_client, people, stores):
    for title, body in (
        ("退货流程", "客户在七天内可以无理由退货，请先核对订单号。"),
        ("报价单", "报价单由销售部出具，含税价格以合同为准。"),
        ("发票", "增值税专用发票在月底统一开具。"),
    ):
        assert a_client.post("/knowledge/", {"title": title, "body": body}).status_code == 302
    ent = people["a_enterprise"].pk
    assert [a.title for a in knowledge.search(ent, "无理由退货")] == ["退货流程"]
    assert [a.title for a in knowledge.search(ent, "报价")] == ["报价单"]  # two characters
    assert [a.title for a in knowledge.search(ent, "发")] == ["发票"]
    assert knowledge.search(ent, 'x" OR title:*') == []  # never FTS5 syntax from the user
    Article.objects.filter(title="发票").update(body="改为每周开具。")
    Article.objects.get(title="发票").save()
    assert [a.title for a in knowledge.search(ent, "每周开具")] == ["发票"]
    seat = client_for(_seat(people).user)
    page = seat.get("/knowledge/", {"q": "含税价格"}).content.decode()
    assert "报价单" in page and "退货流程" not in page
    assert seat.post("/knowledge/", {"title": "x", "body": "y"}).status_code == 404  # read only
    other = knowledge.search(people["b_enterprise"].pk, "报价")
    assert other == []


def test_a_follow_up_is_due_on_the_seats_workspace_until_done(people, stores):
    seat = _seat(people)
    client = client_for(seat.user)
    customer = Customer.objects.create(enterprise=people["a_enterprise"], number="13900000042")
    soon = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    later = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/customers/{customer.pk}/follow-up/", {"due": soon, "text": "回电确认报价"})
    client.post(f"/customers/{customer.pk}/follow-up/", {"due": later, "text": "回访"})
    page = client.get("/seat/").content.decode()
    assert 'id="due-count">1<' in page and "回电确认报价" in page and "回访" not in page
    step = FollowUp.objects.get(text="回电确认报价")
    client.post(f"/follow-ups/{step.pk}/done/", {"next": "workspace"})
    assert 'id="due-count">0<' in client.get("/seat/").content.decode()
    bad = client.post(f"/customers/{customer.pk}/follow-up/", {"due": "tomorrow", "text": "x"})
    assert bad.status_code == 302 and FollowUp.objects.count() == 2
