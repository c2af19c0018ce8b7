"""The back office: enterprises with their first number and admin (a one-time password),
more numbers, packages (P1) through routecore.billing, statements, the audit log."""

from __future__ import annotations

from django.test import Client

from portal_tests.common import A_DID, add_calls
from routecore.billing import AccountStore
from routecore_portal.models import AuditEntry, Enterprise


def test_an_operator_creates_an_enterprise_whose_admin_logs_in_with_the_number(op_client, stores):
    response = op_client.post(
        "/ops/enterprises/new/", {"name": "丙公司", "did": "4006001004", "admin": "bing-admin"}
    )
    assert response.status_code == 200
    password = response.context["password"]
    assert len(password) >= 12
    c = Client()
    assert c.post("/login/", {"username": "4006001004", "password": password}).status_code == 302
    assert c.get("/", follow=True).request["PATH_INFO"] == "/n/4006001004/"
    entry = AuditEntry.objects.get(action="enterprise.create")
    assert entry.who == "op" and entry.address == "127.0.0.1"


def test_a_number_belongs_to_one_enterprise(op_client, people):
    response = op_client.post(
        "/ops/enterprises/new/", {"name": "丁公司", "did": A_DID, "admin": "ding-admin"}
    )
    assert response.status_code == 400 and not Enterprise.objects.filter(name="丁公司").exists()
    ent = people["b_enterprise"]
    again = op_client.post(
        f"/ops/enterprises/{ent.pk}/", {"form": "number", "did": A_DID, "tz": "Asia/Shanghai"}
    )
    assert again.status_code == 400


def test_a_package_assigned_is_in_routecores_account_store_and_the_statement(
    op_client, a_client, people, stores
):
    ent = people["a_enterprise"]
    response = op_client.post(
        f"/ops/enterprises/{ent.pk}/",
        {"form": "package", "did": A_DID, "package": "2000-1y", "start": "2026-09"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with AccountStore(stores["store"]) as accounts:
        assert [t.package for t in accounts.terms(A_DID)] == ["2000-1y"]
    add_calls(stores["calls"], A_DID, 10)
    page = a_client.get(f"/n/{A_DID}/statement/", {"month": "2026-09"})
    assert page.status_code == 200 and page.context["fields"]["inbound_calls"] == 5  # answered only
    csv = a_client.get(f"/n/{A_DID}/statement/", {"month": "2026-09", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv") and b"2000-1y" in csv.content
    outside = a_client.get(f"/n/{A_DID}/statement/", {"month": "2020-01"})
    assert outside.status_code == 200 and outside.context["error"]


def test_the_audit_log_is_for_operators(op_client, a_client, people):
    assert op_client.get("/ops/audit/").status_code == 200
    assert a_client.get("/ops/audit/").status_code == 404


def test_the_enterprises_seats_are_billed_once_on_its_first_number(
    op_client, a_client, people, stores
):
    import time

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from routecore_portal.models import Member, Number, Seat
    from routecore_portal.views.statement import seats_billed

    ent = people["a_enterprise"]
    Number.objects.create(did="4006001004", enterprise=ent)
    month = timezone.now().strftime("%Y-%m")
    for did in (A_DID, "4006001004"):
        op_client.post(
            f"/ops/enterprises/{ent.pk}/",
            {"form": "package", "did": did, "package": "2000-1y", "start": month},
        )
    add_calls(stores["calls"], A_DID, 1)
    for i in range(6):  # the 2000-1y package has 4 free seats
        user = get_user_model().objects.create_user(f"seat{i}")
        Member.objects.create(user=user, role="seat", enterprise=ent)
        Seat.objects.create(enterprise=ent, user=user, name=f"s{i}", phone=f"1380013810{i}")
    first = a_client.get(f"/n/{A_DID}/statement/", {"month": month}).context["fields"]
    other = a_client.get("/n/4006001004/statement/", {"month": month}).context["fields"]
    assert first["seats"] == 6 and other["seats"] == 0
    assert first["free_seats"] == 4 and first["credit_seats"] + first["paid_seats"] == 2
    now = time.time()
    assert seats_billed(A_DID, now - 40 * 86400, now - 86400) == 0  # a month before them
    # a seat removed this month is billed for it, not for the next month
    gone = Seat.objects.get(name="s0")
    gone.removed = timezone.now()
    gone.save()
    assert seats_billed(A_DID, now - 86400, now + 86400) == 6
    assert seats_billed(A_DID, now + 86400, now + 40 * 86400) == 5
