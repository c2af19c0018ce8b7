"""A number's flow: its versions and who did what, a diff, a new draft and its submission;
nothing goes live without an operator's approval, ``routecore_portal.views.review`` (B15, F1)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from routecore.errors import FlowError, ReviewError
from routecore.store.flows import FlowVersion
from routecore_portal import audit, diagram, stores, times
from routecore_portal.access import member_required, number_or_404
from routecore_portal.forms import FlowDraft
from routecore_portal.models import APPROVED, Prompt


def version_or_404(store: Any, did: str, version: int) -> FlowVersion:
    try:
        return store.get(did, version)  # type: ignore[no-any-return]
    except ReviewError:
        raise Http404("no such version") from None


@member_required
def history(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    with stores.flows() as store:
        versions = list(reversed(store.history(did)))
        events = list(reversed(store.events(did)))
    for e in events:
        e["when"] = times.local(e.get("at"), number.tz)
    return render(
        request,
        "portal/flow_history.html",
        {"number": number, "versions": versions, "events": events[:100]},
    )


@member_required
def version(request: HttpRequest, did: str, version: int) -> HttpResponse:
    number = number_or_404(request, did)
    with stores.flows() as store:
        v = version_or_404(store, did, version)
        live = store.live().get(did)
        diff = store.diff(did, live, version) if live and live != version else ""
    picture = diagram.svg(v.content, title=f"{did} v{version}")
    return render(
        request,
        "portal/flow_version.html",
        {"number": number, "v": v, "live": live, "diff": diff, "diagram": picture},
    )


def validation_errors(content: str, did: str) -> list[str]:
    try:
        flow = stores._validate(content, f"{did}")
    except FlowError as e:
        return [str(issue) for issue in e.errors]
    found = getattr(flow, "number", None)
    if found is not None and str(found) != did:
        return [
            _("The flow names the number %(found)s, not %(did)s.") % {"found": found, "did": did}
        ]
    files = [str(f) for f in (getattr(flow, "prompts", None) or {}).values()]
    unapproved = Prompt.objects.filter(file__in=files).exclude(state=APPROVED)
    return [
        _("The prompt %(file)s is not approved (%(state)s): a flow may use it once it is.")
        % {"file": p.file, "state": p.get_state_display()}
        for p in unapproved
    ]


@member_required
def edit(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    with stores.flows() as store:
        versions = store.history(did)
    current = versions[-1].content if versions else f'number: "{did}"\n'
    form = FlowDraft(request.POST or None, initial={"content": current})
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        content = form.cleaned_data["content"].replace("\r\n", "\n")
        errors = validation_errors(content, did)
        if not errors:
            with stores.flows() as store:
                v = store.draft(did, content, request.user.get_username())
            audit.record(request, "flow.draft", f"{did} v{v.version}", enterprise=number.enterprise)
            messages.success(request, _("Saved as draft version %(v)d.") % {"v": v.version})
            return redirect("portal:flow_version", did=did, version=v.version)
    status = 400 if errors or (request.method == "POST" and not form.is_valid()) else 200
    return render(
        request,
        "portal/flow_edit.html",
        {"number": number, "form": form, "errors": errors},
        status=status,
    )


@member_required
def submit(request: HttpRequest, did: str, version: int) -> HttpResponse:
    number = number_or_404(request, did)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with stores.flows() as store:
        version_or_404(store, did, version)
        try:
            store.submit(did, version, request.user.get_username())
        except (ReviewError, FlowError) as e:
            messages.error(request, str(e))
        else:
            audit.record(request, "flow.submit", f"{did} v{version}", enterprise=number.enterprise)
            messages.success(request, _("Submitted for review."))
    return redirect("portal:flow_version", did=did, version=version)
