"""Mobile cloud seats, first part: the enterprise admin makes seats (a name, the phone that
rings, an agent id) with a one-time password; a seat logs in to its workspace, goes online or
offline in one click (the shared state's online flag: the engine skips an offline seat at its
next call) and sees the calls that rang it and nobody answered (B15, V5)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
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
from routecore_portal import audit, pbx, screenpop, stores, times
from routecore_portal.access import member
from routecore_portal.models import ADMIN, SEAT, CallNote, Customer, FollowUp, Member, Seat
from routecore_portal.views import customers
from routecore_portal.views.ops import one_time_password

MISSED_DAYS = 7
log = logging.getLogger(__name__)


class SeatForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=64)
    username = forms.RegexField(
        label=gettext_lazy("user name"), regex=r"^[A-Za-z0-9_.@+-]{3,150}$", max_length=150
    )
    phone = forms.RegexField(
        label=gettext_lazy("phone that rings (mobile or landline)"), regex=r"^[0-9-]{5,24}$"
    )
    agent_id = forms.IntegerField(
        label=gettext_lazy("agent id"), min_value=801, max_value=899, required=False
    )


def _admin(request: HttpRequest) -> Any:
    m = member(request)
    if m is None or m.role != ADMIN or m.enterprise is None:
        raise Http404("no such page")
    return m


def _seat(request: HttpRequest) -> Seat:
    m = member(request)
    if m is None or m.role != SEAT:
        raise Http404("no such page")
    try:
        return request.user.seat  # type: ignore[union-attr]
    except Seat.DoesNotExist:
        raise Http404("no such seat") from None


def _digits(phone: str) -> str:
    return re.sub(r"[^0-9]", "", phone)


def online_now(phones: list[str]) -> dict[str, bool | None]:
    """Each phone's online flag in the host's shared state (None: the state does not know it)."""
    state = stores.open_state_or_none()
    if state is None:
        return dict.fromkeys(phones)
    with state:
        found = {p: state.destination(_digits(p)) for p in phones}
    return {p: (d.online if d is not None else None) for p, d in found.items()}


def set_online(phone: str, online: bool) -> None:
    """The shared state's online flag of ``phone`` (the destination added when it is new)."""
    state = stores.open_state_or_none()
    if state is None:
        raise StateError(_("No shared state is configured (ROUTECORE_STATE)."))
    number = _digits(phone)
    with state:
        if state.destination(number) is None:
            state.add_destination(number, capacity=1, online=online)
        else:
            state.set_online(number, online)


def seat_list(request: HttpRequest) -> HttpResponse:
    m = _admin(request)
    form = SeatForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if get_user_model().objects.filter(username=data["username"]).exists():
            form.add_error("username", _("This user name is taken."))
        elif Seat.objects.filter(enterprise=m.enterprise, phone=data["phone"]).exists():
            form.add_error("phone", _("A seat with this phone exists."))
        elif (
            data["agent_id"]
            and Seat.objects.filter(enterprise=m.enterprise, agent_id=data["agent_id"]).exists()
        ):
            form.add_error("agent_id", _("A seat with this agent id exists."))
        else:
            password = one_time_password()
            with transaction.atomic():
                user = get_user_model().objects.create_user(data["username"], password=password)
                Member.objects.create(user=user, role=SEAT, enterprise=m.enterprise)
                seat = Seat.objects.create(
                    enterprise=m.enterprise,
                    user=user,
                    name=data["name"],
                    phone=data["phone"],
                    agent_id=data["agent_id"],
                )
            audit.record(request, "seat.create", seat.name, seat.phone, enterprise=m.enterprise)
            made = (data["username"], password)
            form = SeatForm()
    seats = list(Seat.objects.filter(enterprise=m.enterprise))
    online = online_now([s.phone for s in seats])
    status = 400 if request.method == "POST" and made is None else 200
    return render(
        request,
        "portal/seats.html",
        {"form": form, "made": made, "seats": [(s, online[s.phone]) for s in seats]},
        status=status,
    )


def workspace(request: HttpRequest) -> HttpResponse:
    seat = _seat(request)
    dids = list(seat.enterprise.numbers.values_list("did", flat=True))
    tz = seat.enterprise.numbers.values_list("tz", flat=True).first() or "Asia/Shanghai"
    try:
        with stores.calls() as calls:
            missed = calls.rang(dids, _digits(seat.phone), time.time() - MISSED_DAYS * 86400)
    except Exception:  # no call store yet: nothing missed
        missed = []
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
    phone = _digits(seat.phone)

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


class CallBackForm(forms.Form):
    number = forms.CharField(max_length=32)
    did = forms.RegexField(regex=r"^[0-9]{3,20}$")


def _blacklisted(did: str, number: str) -> bool:
    """Whether the live flow of ``did`` refuses ``number`` (its blacklist, B13)."""
    blacklist = stores.live_flow(did).get("blacklist") or {}
    if not isinstance(blacklist, dict):
        return False
    digits = re.sub(r"[^0-9]", "", number)
    return digits in (blacklist.get("numbers") or []) or any(
        digits.startswith(str(p)) for p in blacklist.get("prefixes") or []
    )


def call_back(request: HttpRequest) -> HttpResponse:
    """Click to call: the seat's phone rings, then the customer, as the 400 number (B3)."""
    seat = _seat(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = CallBackForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A call back needs the number and the 400 number."))
        return redirect("portal:workspace")
    number, did = form.cleaned_data["number"], form.cleaned_data["did"]
    if not seat.enterprise.numbers.filter(did=did).exists():
        raise Http404("no such number")
    if _blacklisted(did, number):
        messages.error(
            request, _("%(n)s is on the blacklist of %(did)s.") % {"n": number, "did": did}
        )
        return redirect("portal:workspace")
    try:
        _call, channel = pbx.call_back(seat.phone, number, did)
    except pbx.CallBackError as e:
        log.warning("call back by seat %s to %s failed: %s", seat.pk, number, e)
        audit.record(request, "seat.callback.failed", number, str(e), enterprise=seat.enterprise)
        messages.error(request, _("The call back did not start: %(why)s") % {"why": e})
    else:
        audit.record(request, "seat.callback", number, channel, enterprise=seat.enterprise)
        messages.success(
            request, _("Your phone answered; the PBX is calling %(n)s.") % {"n": number}
        )
    return redirect("portal:workspace")
