"""The QR-code call page: the enterprise writes what its public page says and prints the code;
anyone who scans it reaches that page and dials the 400 number with one tap (V6).

The content is the service, its hours and a logo; the code is SVG or PNG (segno); the button
is a ``tel:`` link; there is no login.

The public page is plain HTML with its style inline and nothing loaded from elsewhere (WeChat's
in-app browser renders it), names nothing of the enterprise but what it was given, is reached
by a random token (not the number), counts its visits per day (shown to the enterprise), says
so when it is switched off or the number has no package this month (unpaid), and answers at
most :data:`PER_MINUTE` requests a minute from one address.
"""

from __future__ import annotations

import io
import secrets
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.billing.months import BILLING_TZ, Month
from routecore.errors import RoutecoreError
from routecore_portal import audit, charts, stores, times
from routecore_portal.access import member_required, number_or_404
from routecore_portal.models import Number, QrPage, QrVisit

PER_MINUTE = 60
"""Requests a minute one address may make to the public pages."""
LOGO_MAX = 200_000
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
DAYS_SHOWN = 30


class QrForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("page on"), required=False)
    title = forms.CharField(label=gettext_lazy("service title"), max_length=60)
    text = forms.CharField(
        label=gettext_lazy("service content"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    hours = forms.CharField(label=gettext_lazy("service hours"), max_length=100, required=False)
    logo = forms.FileField(label=gettext_lazy("logo (PNG or JPEG)"), required=False)

    def clean_logo(self) -> tuple[bytes, str] | None:
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > LOGO_MAX:
            raise forms.ValidationError(_("A logo is at most 200 KB."))
        data = upload.read()
        for magic, kind in LOGO_TYPES.items():
            if data.startswith(magic):
                return data, kind
        raise forms.ValidationError(_("A logo is a PNG or JPEG picture."))


def page_of(number: Number) -> QrPage | None:
    try:
        page: QrPage = number.qr_page
    except QrPage.DoesNotExist:
        return None
    return page


def public_url(request: HttpRequest, page: QrPage) -> str:
    return request.build_absolute_uri(f"/q/{page.token}/")


@member_required
def qr_settings(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    page = page_of(number)
    initial = {"enabled": True} if page is None else {
        "enabled": page.enabled, "title": page.title, "text": page.text, "hours": page.hours,
    }  # fmt: skip
    form = QrForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            if page is None:
                page = QrPage(number=number, token=secrets.token_urlsafe(12))
            page.enabled, page.title = data["enabled"], data["title"]
            page.text, page.hours = data["text"], data["hours"]
            if data["logo"] is not None:
                page.logo, page.logo_type = data["logo"]
            page.save()
        audit.record(request, "qr.save", did, "on" if page.enabled else "off",
                     enterprise=number.enterprise)  # fmt: skip
        messages.success(request, _("Saved."))
        return redirect("portal:qr", did=did)
    visits = _visits(page, number.tz)
    return render(
        request,
        "portal/qr.html",
        {
            "number": number,
            "form": form,
            "page": page,
            "url": public_url(request, page) if page is not None else "",
            "chart": charts.bars(
                [d.strftime("%m-%d") for d, _ in visits],
                [(_("visits"), [n for _, n in visits])],
                title=_("Visits per day"),
            ),
            "total": sum(n for _, n in visits),
        },
        status=400 if request.method == "POST" else 200,
    )


def _visits(page: QrPage | None, tz: str) -> list[tuple[Any, int]]:
    """Visits of the last DAYS_SHOWN days, oldest first (0 on days without)."""
    today = times.today(tz)
    days = [today - timedelta(days=i) for i in range(DAYS_SHOWN - 1, -1, -1)]
    counts: dict[Any, int] = {}
    if page is not None:
        rows = page.visits.filter(day__gte=days[0]).values_list("day", "count")
        counts = {day: count for day, count in rows}
    return [(d, counts.get(d, 0)) for d in days]


@member_required
def qr_code(request: HttpRequest, did: str, fmt: str) -> HttpResponse:
    """The code of the page's address, to print: SVG, or PNG (10 px a module)."""
    import segno

    number = number_or_404(request, did)
    page = page_of(number)
    if page is None or fmt not in ("svg", "png"):
        raise Http404("no such code")
    code = segno.make(public_url(request, page), error="m")
    out = io.BytesIO()
    if fmt == "svg":
        code.save(out, kind="svg", scale=4, border=4, xmldecl=False)
        response = HttpResponse(out.getvalue(), content_type="image/svg+xml")
    else:
        code.save(out, kind="png", scale=10, border=4)
        response = HttpResponse(out.getvalue(), content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="qr-{did}.{fmt}"'
    return response


def _limited(request: HttpRequest) -> bool:
    """Whether the address asked more than PER_MINUTE times this minute."""
    key = f"qr:{request.META.get('REMOTE_ADDR', '?')}"
    if cache.add(key, 1, 60):
        return False
    try:
        return int(cache.incr(key)) > PER_MINUTE
    except ValueError:  # expired between add and incr
        cache.add(key, 1, 60)
        return False


def _paid(did: str) -> bool:
    """Whether the number has a package this month (its statements run in BILLING_TZ)."""
    month = Month.parse(times.today(BILLING_TZ).strftime("%Y-%m"))
    try:
        with stores.accounts() as accounts:
            accounts.account(did, month)
    except RoutecoreError:
        return False
    return True


def public(request: HttpRequest, token: str) -> HttpResponse:
    """The page a scanned code opens (no login)."""
    if _limited(request):
        return HttpResponse(_("Too many requests: try again in a minute."), status=429)
    page = QrPage.objects.select_related("number").filter(token=token).first()
    if page is None:
        raise Http404("no such page")
    number = page.number
    state = "on"
    if not page.enabled:
        state = "off"
    elif not _paid(number.did):
        state = "unpaid"
    else:
        day = times.today(number.tz)
        with transaction.atomic():
            visit, _made = QrVisit.objects.get_or_create(page=page, day=day)
            QrVisit.objects.filter(pk=visit.pk).update(count=F("count") + 1)
    response = render(
        request,
        "portal/qr_public.html",
        {"page": page, "did": number.did, "state": state},
        status=200 if state == "on" else 410 if state == "off" else 402,
    )
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def public_logo(request: HttpRequest, token: str) -> HttpResponse:
    if _limited(request):
        return HttpResponse(status=429)
    page = QrPage.objects.filter(token=token, enabled=True).first()
    if page is None or not page.logo:
        raise Http404("no logo")
    response = HttpResponse(bytes(page.logo), content_type=page.logo_type or "image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response
