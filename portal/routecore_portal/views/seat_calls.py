"""A seat's own calls from its workspace: call back a customer (click to call), call a
colleague by extension (an internal call: the engine claims the other seat as any
destination), and transfer the caller it talks with to a colleague or an extension of the
flow (B3, B15, V1, V5).

A transfer goes only where the enterprise already sends calls (its seats, its live flow's
extensions and destinations): a seat's page can never make the PBX dial an outside number
at the enterprise's cost. Only the seat that is talking in the call may transfer it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from routecore_portal import audit, pbx, screenpop, stores
from routecore_portal.models import Seat
from routecore_portal.views.seats import _seat

log = logging.getLogger(__name__)


class CallBackForm(forms.Form):
    number = forms.CharField(max_length=32)
    did = forms.RegexField(regex=r"^[0-9]{3,20}$")


class TransferForm(forms.Form):
    call_id = forms.CharField(max_length=128)
    to = forms.RegexField(regex=r"^[0-9]{3,20}$")


def _blacklisted(did: str, number: str) -> bool:
    """Whether the live flow of ``did`` refuses ``number`` (its blacklist, B13)."""
    blacklist = stores.live_flow(did).get("blacklist") or {}
    if not isinstance(blacklist, dict):
        return False
    digits = re.sub(r"[^0-9]", "", number)
    return digits in (blacklist.get("numbers") or []) or any(
        digits.startswith(str(p)) for p in blacklist.get("prefixes") or []
    )


def colleague(seat: Seat, extension: str) -> Seat | None:
    """The other seat of ``seat``'s enterprise whose agent id is ``extension``."""
    if not re.fullmatch(r"[0-9]{3}", extension):
        return None
    return (
        Seat.objects.filter(
            enterprise=seat.enterprise, agent_id=int(extension), removed__isnull=True
        )
        .exclude(pk=seat.pk)
        .first()
    )


def _flow_targets(did: str) -> tuple[set[str], set[str]]:
    """The live flow's extensions and destination numbers."""
    flow = stores.live_flow(did)
    extensions = flow.get("extensions") or {}
    numbers = extensions.get("numbers") if isinstance(extensions, dict) else None
    destinations = flow.get("destinations") or {}
    phones = {
        str(d.get("number"))
        for d in (destinations.values() if isinstance(destinations, dict) else [])
        if isinstance(d, dict)
    }
    return {str(k) for k in (numbers or {})}, phones


def transfer_target(seat: Seat, did: str, to: str) -> str | None:
    """Where a transfer to ``to`` goes: a colleague's phone (by agent id or phone), an
    extension or destination of the live flow of ``did``; None when ``to`` is none of those."""
    found = colleague(seat, to)
    if found is not None:
        return screenpop.digits(found.phone)
    others = Seat.objects.filter(enterprise=seat.enterprise, removed__isnull=True)
    for other in others.exclude(pk=seat.pk):
        if screenpop.digits(other.phone) == to:
            return to
    extensions, phones = _flow_targets(did)
    return to if to in extensions or to in phones else None


def _talking(seat: Seat, call_id: str) -> Any:
    """The journal row of the call ``seat`` talks in now (None: no such call, not its own)."""
    try:
        with stores.calls() as calls:
            rows = calls.open_calls()
    except Exception:  # no call store: no call in progress
        return None
    mine = screenpop.digits(seat.phone)
    dids = set(seat.enterprise.numbers.values_list("did", flat=True))
    for row in rows:
        if row.call_id == call_id and row.answered_by == mine and row.record.did in dids:
            return row
    return None


def transfer(request: HttpRequest) -> HttpResponse:
    """Send the caller this seat talks with on to a colleague or an extension (V5)."""
    seat = _seat(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = TransferForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A transfer needs the call and an extension or a number."))
        return redirect("portal:workspace")
    call_id, to = form.cleaned_data["call_id"], form.cleaned_data["to"]
    row = _talking(seat, call_id)
    if row is None:
        messages.error(request, _("You are not talking in this call (it may have ended)."))
        return redirect("portal:workspace")
    number = transfer_target(seat, row.record.did, to)
    if number is None or number == screenpop.digits(seat.phone):
        messages.error(
            request, _("%(to)s is not a colleague or an extension of this number.") % {"to": to}
        )
        return redirect("portal:workspace")
    try:
        pbx.transfer(row.channel, number)
    except pbx.CallBackError as e:
        log.warning("transfer by seat %s of %s failed: %s", seat.pk, call_id, e)
        audit.record(request, "seat.transfer.failed", call_id, str(e), enterprise=seat.enterprise)
        messages.error(request, _("The transfer did not happen: %(why)s") % {"why": e})
    else:
        audit.record(request, "seat.transfer", call_id, f"to {to}", enterprise=seat.enterprise)
        messages.success(request, _("The caller is on the way to %(to)s.") % {"to": to})
    return redirect("portal:workspace")


def call_back(request: HttpRequest) -> HttpResponse:
    """Click to call: the seat's phone rings, then the customer, as the 400 number (B3); a
    colleague's agent id calls that seat's phone (an internal call)."""
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
    other = colleague(seat, number.strip())
    if other is not None:
        number = screenpop.digits(other.phone)
    elif _blacklisted(did, number):
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
