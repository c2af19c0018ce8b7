"""A number's SMS as they left: the hang-up and missed-call messages the engine queued and its
campaigns' messages, each with its delivery state, attempts and the provider's code (B2, B3,
B15, V2)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from routecore.store.sms_delivery import Deliveries
from routecore_portal import stores, times
from routecore_portal.access import member_required, number_or_404

PAGE = 100


@member_required
def sms_log(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    asked = request.GET.get("page", "1")
    page = max(int(asked), 1) if asked.isdigit() and len(asked) < 7 else 1
    rows: list[dict[str, object]] = []
    counts: dict[str, int] = {}
    path = stores.paths()["calls"]
    if stores.exists(path):
        with Deliveries(path) as deliveries:
            rows = deliveries.messages(did=did, limit=PAGE, offset=(page - 1) * PAGE)
            counts = deliveries.counts()
    for row in rows:
        row["when"] = times.local(float(row["at"]), number.tz)  # type: ignore[arg-type]
    return render(
        request,
        "portal/sms_log.html",
        {
            "number": number,
            "rows": rows,
            "page": page,
            "more": len(rows) == PAGE,
            "counts": counts,
        },
    )
