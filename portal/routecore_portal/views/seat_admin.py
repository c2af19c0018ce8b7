"""The enterprise admin's side of the seats: makes them (a name, the phone that rings, an
agent id) with a one-time password, removes them, decides whether seats see every call of
their customers, and watches every seat live: online or offline, ringing or talking, and with
whom (B15, V5, P4).

A removed seat can no longer log in and goes offline in the shared state; it stays in the
database with its notes and is still billed for the months it had (P4).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.errors import StateError
from routecore_portal import audit, screenpop
from routecore_portal.access import member
from routecore_portal.models import ADMIN, SEAT, Member, Seat
from routecore_portal.views.ops import one_time_password
from routecore_portal.views.seats import online_now, set_online


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


def active(enterprise: Any) -> Any:
    """The enterprise's seats that were not removed."""
    return Seat.objects.filter(enterprise=enterprise, removed__isnull=True)


def _made(request: HttpRequest, m: Any, form: SeatForm) -> tuple[str, str] | None:
    """A new seat from a valid form: (user name, one-time password); None with the form's
    errors when the user name, phone or agent id is taken."""
    data = form.cleaned_data
    seats = active(m.enterprise)
    if get_user_model().objects.filter(username=data["username"]).exists():
        form.add_error("username", _("This user name is taken."))
    elif seats.filter(phone=data["phone"]).exists():
        form.add_error("phone", _("A seat with this phone exists."))
    elif data["agent_id"] and seats.filter(agent_id=data["agent_id"]).exists():
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
        return data["username"], password
    return None


def seat_list(request: HttpRequest) -> HttpResponse:
    m = _admin(request)
    form = SeatForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        made = _made(request, m, form)
        if made is not None:
            form = SeatForm()
    seats = list(active(m.enterprise).select_related("user"))
    online = online_now([s.phone for s in seats])
    status = 400 if request.method == "POST" and made is None else 200
    return render(
        request,
        "portal/seats.html",
        {
            "form": form,
            "made": made,
            "seats": [(s, online[s.phone]) for s in seats],
            "enterprise": m.enterprise,
        },
        status=status,
    )


def remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a seat: it cannot log in any more and goes offline at once."""
    m = _admin(request)
    seat = get_object_or_404(active(m.enterprise), pk=pk)  # another's seat: a 404 first
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with transaction.atomic():
        seat.removed = timezone.now()
        seat.save(update_fields=["removed"])
        seat.user.is_active = False
        seat.user.save(update_fields=["is_active"])
    try:
        set_online(seat.phone, False)
    except StateError:
        pass  # no shared state: nothing routes to it from here
    audit.record(request, "seat.remove", seat.name, seat.phone, enterprise=m.enterprise)
    messages.success(request, _("%(name)s was removed.") % {"name": seat.name})
    return redirect("portal:seats")


def visibility(request: HttpRequest) -> HttpResponse:
    """Whether seats see every call of their customers, or only the calls that rang them."""
    m = _admin(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    enterprise = m.enterprise
    enterprise.seats_see_all_calls = request.POST.get("all") == "1"
    enterprise.save(update_fields=["seats_see_all_calls"])
    audit.record(
        request,
        "seat.visibility",
        "all calls" if enterprise.seats_see_all_calls else "own calls",
        enterprise=enterprise,
    )
    return redirect("portal:seats")


def states(request: HttpRequest) -> JsonResponse:
    """Every seat now, for the admin's live table: online, and ringing or talking (with whom)
    from the calls in progress (every host's when the state is on Redis)."""
    m = _admin(request)
    seats = list(active(m.enterprise))
    online = online_now([s.phone for s in seats])
    try:
        rows = screenpop.WATCHER.open_calls() or []
    except Exception:  # the journal cannot be read now: states without calls
        rows = []
    now = screenpop.states(rows)
    by_phone: dict[str, tuple[str, Any]] = {}
    for (phone, _call), (state, row) in now.items():
        if by_phone.get(phone, ("",))[0] != "talking":
            by_phone[phone] = (state, row)
    out = []
    for s in seats:
        state, row = by_phone.get(screenpop.digits(s.phone), ("idle", None))
        out.append(
            {
                "id": s.pk,
                "online": online[s.phone],
                "state": state,
                "caller": row.record.caller if row is not None else None,
                "did": row.record.did if row is not None else None,
            }
        )
    return JsonResponse({"seats": out})
