"""The dashboard of one number: today's calls per hour, the answered share, busy destinations
now, the last calls (B15)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from routecore.store import CallQuery
from routecore_portal import charts, stores, times
from routecore_portal.access import member_required, number_or_404


def _live_destinations(did: str) -> list[str]:
    """The phone numbers the number's live flow rings (none live: none)."""
    found = []
    for d in (stores.live_flow(did).get("destinations") or {}).values():
        number = d.get("number") if isinstance(d, dict) else d
        if number is not None:
            found.append(str(number).replace("-", ""))
    return sorted(set(found))


@member_required
def dashboard(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    start = times.day_start(times.today(number.tz), number.tz)
    with stores.calls() as calls:
        per_hour, answered = calls.per_hour(did, start)
        last, _next = calls.page(CallQuery(did), limit=10)
    total, picked = sum(per_hour), sum(answered)
    destinations = _live_destinations(did)
    chart = charts.bars(
        [f"{h:02d}" for h in range(24)],
        [(_("calls"), per_hour), (_("answered"), answered)],
        title=_("Today's calls per hour"),
    )
    return render(
        request,
        "portal/dashboard.html",
        {
            "number": number,
            "chart": chart,
            "total": total,
            "answered": picked,
            "share": round(100 * picked / total) if total else None,
            "busy": stores.busy_now(destinations),
            "last": [{**r, "when": times.local(r["start"], number.tz)} for r in last],
        },
    )
