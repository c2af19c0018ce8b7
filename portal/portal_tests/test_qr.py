"""The QR-code call page (V6): the enterprise writes its content and prints the code; the
public page (no login) shows it with a button that dials the 400 number, loads nothing from
elsewhere, counts its visits per day, says so when switched off or unpaid, is rate-limited,
and reaches nothing else of the enterprise."""

from __future__ import annotations

import re

import pytest
import segno
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from portal_tests.common import A_DID
from routecore_portal.models import AuditEntry, QrPage, QrVisit
from routecore_portal.views import qr

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


def _save(client, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "enabled": "on",
        "title": "远景科技客服",
        "text": "产品咨询、售后服务",
        "hours": "9:00-18:00",
    }
    data.update(fields)
    if "logo" in data and isinstance(data["logo"], bytes):
        data["logo"] = SimpleUploadedFile("logo.png", data["logo"])
    return client.post(f"/n/{A_DID}/qr/", data)


def _paid(op_client, people):
    month = timezone.now().strftime("%Y-%m")
    op_client.post(
        f"/ops/enterprises/{people['a_enterprise'].pk}/",
        {"form": "package", "did": A_DID, "package": "2000-1y", "start": month},
    )


def test_the_admin_writes_the_page_and_prints_its_code(a_client, people):
    assert _save(a_client, logo=PNG).status_code == 302
    page = QrPage.objects.get()
    assert page.title == "远景科技客服" and bytes(page.logo) == PNG and len(page.token) >= 16
    assert A_DID not in page.token  # the address names nothing of the enterprise
    shown = a_client.get(f"/n/{A_DID}/qr/").content.decode()
    url = f"http://testserver/q/{page.token}/"
    assert url in shown
    svg = a_client.get(f"/n/{A_DID}/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    expected = segno.make(url, error="m")
    assert f'width="{(expected.symbol_size(scale=4, border=4))[0]}"' in svg.content.decode()
    png = a_client.get(f"/n/{A_DID}/qr.png")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert AuditEntry.objects.filter(action="qr.save").exists()


def test_a_bad_logo_or_title_is_a_message_and_keeps_the_page(a_client):
    _save(a_client)
    response = _save(a_client, logo=b"GIF89a" + bytes(10), title="x")
    assert response.status_code == 400 and "PNG 或 JPEG" in response.content.decode()
    assert _save(a_client, title="").status_code == 400
    assert QrPage.objects.get().title == "远景科技客服"


def test_the_public_page_dials_the_number_and_counts_its_visits(a_client, op_client, people):
    _paid(op_client, people)
    _save(a_client, logo=PNG)
    page = QrPage.objects.get()
    public = Client()
    for _ in range(3):
        response = public.get(f"/q/{page.token}/")
    html = response.content.decode()
    assert response.status_code == 200 and f'href="tel:{A_DID}"' in html
    assert "远景科技客服" in html and "9:00-18:00" in html
    # nothing from elsewhere: every src and href is this site's or the phone's
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert ref.startswith(("/", "tel:")), ref
    assert public.get(f"/q/{page.token}/logo").content == PNG
    assert QrVisit.objects.get(page=page).count == 3
    assert 'id="qr-total">3<' in a_client.get(f"/n/{A_DID}/qr/").content.decode()


def test_a_switched_off_or_unpaid_page_says_so_and_counts_nothing(a_client, op_client, people):
    _save(a_client, enabled="")
    page = QrPage.objects.get()
    response = Client().get(f"/q/{page.token}/")
    assert response.status_code == 410 and 'id="notice"' in response.content.decode()
    assert "tel:" not in response.content.decode()
    _save(a_client)  # on again, but the number has no package this month
    response = Client().get(f"/q/{page.token}/")
    assert response.status_code == 402 and "tel:" not in response.content.decode()
    assert not QrVisit.objects.exists()
    _paid(op_client, people)
    assert Client().get(f"/q/{page.token}/").status_code == 200


def test_the_public_page_is_rate_limited_and_reaches_nothing_else(a_client, op_client, people):
    _paid(op_client, people)
    _save(a_client)
    page = QrPage.objects.get()
    public = Client()
    codes = [public.get(f"/q/{page.token}/").status_code for _ in range(qr.PER_MINUTE + 2)]
    assert codes[: qr.PER_MINUTE] == [200] * qr.PER_MINUTE and codes[-1] == 429
    cache.clear()
    assert public.get("/q/not-a-token/").status_code == 404
    for url in (f"/n/{A_DID}/", f"/n/{A_DID}/qr/", f"/n/{A_DID}/qr.svg", "/customers/"):
        response = public.get(url)
        assert response.status_code in (302, 404), url  # the login, or nothing
    # another enterprise's admin cannot edit or print this number's page
    from portal_tests.common import client_for

    other = client_for(people["b"])
    assert other.get(f"/n/{A_DID}/qr/").status_code == 404
    assert other.get(f"/n/{A_DID}/qr.png").status_code == 404


def test_the_printed_code_decodes_to_the_page_which_fits_a_phone(
    asgi, browser, people, stores, shots
):
    """In Debian's chromium on a phone-sized screen: the page's button is on screen, nothing
    scrolls sideways, nothing is loaded from another origin; the printed PNG, read back by a
    QR decoder, is the page's address."""
    import io

    import zxingcpp
    from PIL import Image

    from portal_tests.common import client_for
    from routecore.billing.months import Month
    from routecore.billing.packages import builtin_packages
    from routecore_portal import stores as portal_stores
    from routecore_portal.models import Number

    with portal_stores.accounts() as accounts:
        accounts.assign(
            A_DID, builtin_packages()["2000-1y"], Month.parse(timezone.now().strftime("%Y-%m"))
        )
    page = QrPage.objects.create(
        number=Number.objects.get(did=A_DID), token="tok-phone-1", title="远景科技客服",
        text="产品咨询、售后服务", hours="9:00-18:00",
    )  # fmt: skip
    png = client_for(people["a"]).get(f"/n/{A_DID}/qr.png", HTTP_HOST=asgi.split("//")[1])
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert found.text == f"{asgi}/q/{page.token}/"
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    phone = context.new_page()
    requested: list[str] = []
    phone.on("request", lambda r: requested.append(r.url))
    phone.goto(found.text)
    button = phone.locator("#dial")
    assert button.get_attribute("href") == f"tel:{A_DID}"
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 667 and box["width"] > 300
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert requested and all(u.startswith(asgi) for u in requested), requested
    phone.screenshot(path=str(shots / "11-qr-page-phone.png"))
    context.close()


def test_the_months_statement_bills_the_qr_page(a_client, op_client, people, stores):
    """V6 is the portal's: a page on in the month is that month's 50 yuan (whole months)."""
    from routecore.store import CallStore

    CallStore(stores["calls"]).close()
    _paid(op_client, people)
    month = timezone.now().strftime("%Y-%m")
    fields = a_client.get(f"/n/{A_DID}/statement/", {"month": month}).context["fields"]
    assert (fields["features"], fields["feature_fees"]) == ("", "0.00")
    _save(a_client)
    fields = a_client.get(f"/n/{A_DID}/statement/", {"month": month}).context["fields"]
    assert (fields["features"], fields["feature_fees"]) == ("V6", "50.00")
    _save(a_client, enabled="")  # switched off this month: still this month's
    fields = a_client.get(f"/n/{A_DID}/statement/", {"month": month}).context["fields"]
    assert fields["features"] == "V6"
