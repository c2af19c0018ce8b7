"""Call records of one number: filtered pages, one call with its recording and voicemail,
the CSV export streamed (B8, B15)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from routecore.store import CallQuery
from routecore.store.reports import csv_cell
from routecore_portal import stores, times
from routecore_portal.access import member_required, number_or_404
from routecore_portal.forms import CallFilter
from routecore_portal.models import Number
from routecore_portal.streaming import streamed

PAGE = 50
EXPORT_COLUMNS = (
    "call_id",
    "start",
    "caller",
    "caller_area",
    "caller_kind",
    "outcome",
    "answered_by",
    "answer",
    "end",
    "talk_seconds",
    "branches",
    "tried",
    "survey",
    "recording",
    "voicemail",
)


def _query(form: CallFilter, number: Number) -> CallQuery:
    data = form.cleaned_data
    since = times.day_start(data["since"], number.tz) if data.get("since") else 0.0
    until = (
        times.day_range(data["until"], data["until"], number.tz)[1]
        if data.get("until")
        else 2.0**62
    )
    return CallQuery(
        number.did,
        since=since,
        until=until,
        caller=data.get("caller") or None,
        outcome=data.get("outcome") or None,
        branch=data.get("branch") or None,
    )


def _after(text: str | None) -> tuple[float, str] | None:
    """The next page's key from the query string (``start~call_id``); None when absent."""
    if not text:
        return None
    start, sep, call_id = text.partition("~")
    try:
        value = float(start)
    except ValueError:
        raise Http404("bad page key") from None
    if not sep or not call_id or value != value:
        raise Http404("bad page key")
    return value, call_id


@member_required
def call_list(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    form = CallFilter(request.GET or None)
    rows: list[dict[str, Any]] = []
    after = None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        status = 200
        if not form.is_bound:
            form = CallFilter({})
            form.is_valid()
        with stores.calls() as calls:
            rows, after = calls.page(
                _query(form, number), after=_after(request.GET.get("after")), limit=PAGE
            )
    query = request.GET.copy()
    query.pop("after", None)
    more = None
    if after is not None:
        query["after"] = f"{after[0]!r}~{after[1]}"
        more = query.urlencode()
    query.pop("after", None)
    return render(
        request,
        "portal/calls.html",
        {
            "number": number,
            "form": form,
            "rows": [{**r, "when": times.local(r["start"], number.tz)} for r in rows],
            "more": more,
            "export": query.urlencode(),
        },
        status=status,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


_TIMES = {"start", "answer", "end"}


def _csv_chunks(batches: Iterator[list[tuple[Any, ...]]], tz: str) -> Iterator[str]:
    """The export's text, a chunk per batch of rows (times in the number's zone, formula cells
    defused by ``csv_cell``; the lists are their stored JSON text, as ``csv_cell`` writes them)."""
    out = csv.writer(_Echo(), lineterminator="\n")
    clock = times.LocalClock(tz)
    kinds = [(c in _TIMES) for c in EXPORT_COLUMNS]
    yield "\ufeff" + out.writerow(EXPORT_COLUMNS)  # a BOM: spreadsheets read the Chinese right
    for rows in batches:
        yield "".join(
            out.writerow([clock(v) if t else csv_cell(v) for v, t in zip(row, kinds, strict=True)])
            for row in rows
        )


@member_required
def call_export(request: HttpRequest, did: str) -> HttpResponse | StreamingHttpResponse:
    number = number_or_404(request, did)
    form = CallFilter(request.GET or {})
    if not form.is_valid():
        return HttpResponse(
            form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8"
        )
    query = _query(form, number)

    def body() -> Iterator[str]:
        with stores.calls() as calls:
            yield from _csv_chunks(calls.stream_raw(query, EXPORT_COLUMNS), number.tz)

    response = streamed(request, body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls-{did}.csv"'
    return response


@member_required
def call_detail(request: HttpRequest, did: str, call_id: str) -> HttpResponse:
    number = number_or_404(request, did)
    with stores.calls() as calls:
        row = calls.call(did, call_id)
    if row is None:
        raise Http404("no such call")
    return render(
        request,
        "portal/call.html",
        {
            "number": number,
            "call": row,
            "when": times.local(row["start"], number.tz),
            "answered_at": times.local(row["answer"], number.tz),
            "ended_at": times.local(row["end"], number.tz),
        },
    )
