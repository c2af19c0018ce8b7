"""The month's statement of a number from routecore.billing, and as CSV (B15, P1, P2, P3, P4).

Its value-added features are the flow's (V1, V3, V4 of the versions live that month) and the
portal's: the QR call page (V6) when the number had one switched on by the month's end and
last changed before it (a page switched off in the month is still that month's: whole months).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from routecore.billing import load_packages, statement, usage
from routecore.billing.months import BILLING_TZ, Month
from routecore.billing.statement import to_csv, to_dict
from routecore.errors import BillingError
from routecore_portal import stores, times
from routecore_portal.access import member_required, number_or_404
from routecore_portal.forms import MonthForm
from routecore_portal.models import Number, QrPage


def seats_billed(did: str, since: float, until: float) -> int:
    """P4: the seats an enterprise had in ``[since, until)`` (made before its end, not removed
    before its start: a seat removed in the month is billed for it), billed on its first
    number's statement (its lowest 400 number; its other numbers' statements carry none, so no
    seat is billed twice)."""
    number = Number.objects.filter(did=did).select_related("enterprise").first()
    if number is None or number.enterprise.numbers.order_by("did").first() != number:
        return 0
    start, end = (datetime.fromtimestamp(t, tz=UTC) for t in (since, until))
    seats = number.enterprise.seats.filter(created__lt=end)
    return seats.exclude(removed__lt=start).count()


def _statement(did: str, month: Month) -> object:
    with stores.accounts() as accounts:
        account = accounts.account(did, month)
    package = load_packages(None).get_package(account.package)
    since, until = month.bounds(BILLING_TZ)
    with stores.calls() as calls:
        rows = calls.calls(did, since, until)
    seats = seats_billed(did, since, until)
    return statement(
        did, package, account.start, month, usage(rows), seats, features_of(did, since, until)
    )


def features_of(did: str, since: float, until: float) -> list[str]:
    """The value-added features ``did`` had in ``[since, until)``: the flow's and the portal's."""
    from routecore.billing.features import month_features

    with stores.flows() as flows:
        found = month_features(flows, did, since, until)
    start, end = (datetime.fromtimestamp(t, tz=UTC) for t in (since, until))
    qr = QrPage.objects.filter(number__did=did, updated__lt=end).first()
    if qr is not None and (qr.enabled or qr.updated >= start):
        found.add("V6")
    return sorted(found)


def statement_of(did: str, month: Month) -> dict[str, object]:
    """The statement of ``did`` for ``month`` as a dict (BillingError when it has none)."""
    return to_dict(_statement(did, month))  # type: ignore[arg-type]


@member_required
def month_statement(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    form = MonthForm(request.GET or None)
    text = (form.cleaned_data.get("month") if form.is_valid() else None) or times.today(
        number.tz
    ).strftime("%Y-%m")
    error, item = None, None
    try:
        month = Month.parse(text)
        item = _statement(did, month)
    except BillingError as e:
        error = str(e)
    if request.GET.get("format") == "csv" and item is not None:
        response = HttpResponse(to_csv(item), content_type="text/csv; charset=utf-8")  # type: ignore[arg-type]
        response["Content-Disposition"] = f'attachment; filename="statement-{did}-{text}.csv"'
        return response
    fields = to_dict(item) if item is not None else {}  # type: ignore[arg-type]
    return render(
        request,
        "portal/statement.html",
        {"number": number, "form": form, "month": text, "error": error, "fields": fields},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )
