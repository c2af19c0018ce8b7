"""Mobile cloud seats: a seat logs in to its workspace, goes online or offline in one click
(the shared state's online flag: the engine skips an offline seat at its next call), sees the
calls that rang it and nobody answered, its screen pops and its notes (B15, V5)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.errors import StateError
from routecore_portal import audit, screenpop, stores, times
from routecore_portal.access import member
from routecore_portal.models import SEAT, CallNote, Customer, FollowUp, Seat
from routecore_portal.views import customers

MISSED_DAYS = 7
log = logging.getLogger(__name__)


def _seat(request: HttpRequest) -> Seat:
    m = member(request)
    if m is None or m.role != SEAT:
        raise Http404("no such page")
    try:
        seat: Seat = request.user.seat  # type: ignore[union-attr]
    except Seat.DoesNotExist:
        raise Http404("no such seat") from None
    if seat.removed is not None:
        raise Http404("no such seat")
    return seat


def online_now(phones: list[str]) -> dict[str, bool | None]:
    """Each phone's online flag in the host's shared state (None: the state does not know it)."""
    state = stores.open_state_or_none()
    if state is None:
        return dict.fromkeys(phones)
    with state:
        found = {p: state.destination(screenpop.digits(p)) for p in phones}
    return {p: (d.online if d is not None else None) for p, d in found.items()}


def set_online(phone: str, online: bool) -> None:
    """The shared state's online flag of ``phone`` (the destination added when it is new)."""
    state = stores.open_state_or_none()
    if state is None:
        raise StateError(_("No shared state is configured (ROUTECORE_STATE)."))
    number = screenpop.digits(phone)
    with state:
        if state.destination(number) is None:
            state.add_destination(number, capacity=1, online=online)
        else:
            state.set_online(number, online)


def seat_groups(seat: Seat, dids: list[str]) -> dict[str, dict[str, list[str]]]:
    """The groups of each number's live flow that ring ``seat``'s phone: did → group name →
    the phones of its members. A seat answers for a group by being one of its destinations:
    changing that is a change of the flow (reviewed and published, F1)."""
    phone = screenpop.digits(seat.phone)
    out: dict[str, dict[str, list[str]]] = {}
    for did in dids:
        flow = stores.live_flow(did)
        destinations = flow.get("destinations") or {}
        numbers = {
            name: str(d.get("number"))
            for name, d in (destinations.items() if isinstance(destinations, dict) else [])
            if isinstance(d, dict)
        }
        groups = flow.get("groups") or {}
        for name, group in groups.items() if isinstance(groups, dict) else []:
            members = group.get("members") if isinstance(group, dict) else None
            phones = [numbers.get(str(m), str(m)) for m in members or []]
            if phone in phones:
                out.setdefault(did, {})[str(name)] = phones
    return out


def missed_calls(seat: Seat, dids: list[str], groups: dict[str, dict[str, list[str]]]) -> list[Any]:
    """The calls that reached for the seat or for a member of its groups and that nobody
    answered (rung, busy, offline, voicemail) in the last :data:`MISSED_DAYS` days."""
    since = time.time() - MISSED_DAYS * 86400
    mine = screenpop.digits(seat.phone)
    found: list[Any] = []
    try:
        with stores.calls() as calls:
            for did in dids:
                phones = {mine, *(p for ps in groups.get(did, {}).values() for p in ps)}
                found += calls.rang([did], sorted(phones), since)
    except Exception:  # no call store yet: nothing missed
        return []
    return sorted(found, key=lambda r: r["start"], reverse=True)[:100]


def workspace(request: HttpRequest) -> HttpResponse:
    seat = _seat(request)
    dids = list(seat.enterprise.numbers.values_list("did", flat=True))
    tz = seat.enterprise.numbers.values_list("tz", flat=True).first() or "Asia/Shanghai"
    groups = seat_groups(seat, dids)
    missed = missed_calls(seat, dids, groups)
    online = online_now([seat.phone])[seat.phone]
    return render(
        request,
        "portal/workspace.html",
        {
            "seat": seat,
            "online": online,
            "notes": seat.notes.all()[:20],
            "due": FollowUp.objects.filter(
                Q(seat=seat) | Q(seat__isnull=True),
                enterprise=seat.enterprise,
                done=False,
                due__lte=timezone.now() + timedelta(hours=24),
            ).select_related("customer")[:50],
            "missed": [{**r, "when": times.local(r["start"], tz)} for r in missed],
            "groups": sorted({f"{did} · {name}" for did, g in groups.items() for name in g}),
            "colleagues": Seat.objects.filter(
                enterprise=seat.enterprise, removed__isnull=True
            ).exclude(pk=seat.pk),
            "dids": dids,
        },
    )


def toggle(request: HttpRequest) -> HttpResponse:
    seat = _seat(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    online = request.POST.get("online") == "1"
    try:
        set_online(seat.phone, online)
    except StateError as e:
        messages.error(request, str(e))
    else:
        audit.record(
            request,
            "seat.online" if online else "seat.offline",
            seat.name,
            enterprise=seat.enterprise,
        )
        messages.success(request, _("You are online.") if online else _("You are offline."))
    return redirect("portal:workspace")


class NoteForm(forms.Form):
    call_id = forms.CharField(max_length=128)
    did = forms.RegexField(regex=r"^[0-9]{3,20}$")
    caller = forms.CharField(max_length=64, required=False)
    text = forms.CharField(label=gettext_lazy("note"), max_length=2000)


def note(request: HttpRequest) -> HttpResponse:
    """A note on a call that rang this seat (its enterprise's number, in the call store)."""
    seat = _seat(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A note needs its text (at most 2,000 characters)."))
        return redirect("portal:workspace")
    data = form.cleaned_data
    if not seat.enterprise.numbers.filter(did=data["did"]).exists():
        raise Http404("no such number")
    customer = None
    if data["caller"]:
        customer, _made = Customer.objects.get_or_create(
            enterprise=seat.enterprise, number=data["caller"][:32]
        )
    CallNote.objects.create(
        seat=seat,
        customer=customer,
        did=data["did"],
        call_id=data["call_id"],
        caller=data["caller"],
        text=data["text"],
    )
    audit.record(
        request, "seat.note", f"{data['did']} {data['call_id']}", enterprise=seat.enterprise
    )
    messages.success(request, _("Note saved."))
    return redirect("portal:workspace")


async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The seat's screen pops as Server-Sent Events (the browser's own EventSource)."""
    seat = await sync_to_async(_seat_or_none)(request)
    if seat is None:
        raise Http404("no such page")
    phone = screenpop.digits(seat.phone)
    everything = await sync_to_async(lambda: seat.enterprise.seats_see_all_calls)()

    async def stream() -> AsyncIterator[str]:
        queue = screenpop.WATCHER.listen(phone)
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    pop = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                data = pop.data()
                data["history"] = screenpop.visible(pop.history, phone, everything)
                if pop.event == "ringing":
                    data["customer"] = await sync_to_async(customers.card)(
                        seat.enterprise_id, pop.caller, pop.area
                    )
                yield f"event: pop\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        finally:
            screenpop.WATCHER.leave(phone, queue)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


KEEPALIVE = 15.0


def _seat_or_none(request: HttpRequest) -> Seat | None:
    if not request.user.is_authenticated:
        return None
    try:
        return _seat(request)
    except Http404:
        return None
