"""Branch statistics per menu key per day and survey results (B11, B12, B15)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from routecore.store.reports import csv_cell
from routecore_portal import charts, stores, times
from routecore_portal.access import member_required, number_or_404
from routecore_portal.forms import CallFilter

DAYS_MAX = 92


def _days(request: HttpRequest, tz: str) -> tuple[CallFilter, list[date]]:
    form = CallFilter(request.GET or {})
    if not form.is_valid():
        return form, []
    last = form.cleaned_data.get("until") or times.today(tz)
    first = form.cleaned_data.get("since") or last - timedelta(days=6)
    if (last - first).days >= DAYS_MAX:
        first = last - timedelta(days=DAYS_MAX - 1)
    return form, [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _table(did: str, tz: str, days: list[date]) -> tuple[list[str], dict[str, list[int]]]:
    """Per branch, the calls that took it on each day."""
    per_branch: dict[str, list[int]] = {}
    with stores.calls() as calls:
        for i, day in enumerate(days):
            since, until = times.day_range(day, day, tz)
            for row in calls.branch_stats(did, since, until):
                per_branch.setdefault(str(row["branch"]), [0] * len(days))[i] = int(row["calls"])
    return [d.isoformat() for d in days], dict(sorted(per_branch.items()))


@member_required
def branch_stats(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    form, days = _days(request, number.tz)
    if not days:
        return render(request, "portal/stats.html", {"number": number, "form": form}, status=400)
    labels, table = _table(did, number.tz, days)
    totals = {branch: sum(counts) for branch, counts in table.items()}
    chart = charts.bars(
        list(totals) or ["—"],
        [(_("calls"), list(totals.values()) or [0])],
        title=_("Calls per branch"),
    )
    since, until = times.day_range(days[0], days[-1], number.tz)
    with stores.calls() as calls:
        survey = list(calls.survey_results(did, since, until))
    return render(
        request,
        "portal/stats.html",
        {
            "number": number,
            "form": form,
            "labels": labels,
            "table": table,
            "chart": chart,
            "survey": survey,
            "query": request.GET.urlencode(),
        },
    )


@member_required
def branch_stats_csv(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    form, days = _days(request, number.tz)
    if not days:
        return HttpResponse(
            form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8"
        )
    labels, table = _table(did, number.tz, days)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["branch", *labels])
    for branch, counts in table.items():
        writer.writerow([csv_cell(branch), *counts])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="branches-{did}.csv"'
    return response
