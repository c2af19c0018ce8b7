"""Customers: made from callers the first time a seat's phone rings for them, named and tagged
by the enterprise's seats and admins, with their calls to the enterprise's numbers and the
notes written about them (B15, V5)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.store import CallQuery
from routecore_portal import audit, screenpop, stores, times
from routecore_portal.access import member
from routecore_portal.models import ADMIN, SEAT, Customer, Enterprise, FollowUp

HISTORY = 50
OWN_SCAN = 500
"""Calls of a customer read to find a seat's own among them (per 400 number)."""


class CustomerForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Customer
        fields = ("name", "company", "tags")


class SearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("number or name"), required=False, max_length=64)


def enterprise_of(request: HttpRequest) -> Enterprise:
    """The enterprise of an admin or a seat; anyone else gets a 404."""
    m = member(request)
    if m is None or m.role not in (ADMIN, SEAT) or m.enterprise is None:
        raise Http404("no such page")
    return m.enterprise


def card(enterprise_id: int, number: str, area: str | None) -> dict[str, Any]:
    """The customer card of a caller, the customer made when the caller is new."""
    customer, _made = Customer.objects.get_or_create(
        enterprise_id=enterprise_id, number=number[:32], defaults={"area": (area or "")[:32]}
    )
    return {
        "id": customer.pk,
        "name": customer.name,
        "company": customer.company,
        "tags": customer.tags,
        "notes": [n.text for n in customer.notes.all()[:3]],
    }


def customer_list(request: HttpRequest) -> HttpResponse:
    enterprise = enterprise_of(request)
    form = SearchForm(request.GET or None)
    found = Customer.objects.filter(enterprise=enterprise)
    if form.is_valid() and form.cleaned_data["q"]:
        q = form.cleaned_data["q"].strip()
        found = found.filter(
            Q(number__startswith=q)
            | Q(name__icontains=q)
            | Q(company__icontains=q)
            | Q(tags__icontains=q)
        )
    return render(request, "portal/customers.html", {"form": form, "customers": found[:200]})


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = enterprise_of(request)
    customer = get_object_or_404(Customer, pk=pk, enterprise=enterprise)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            audit.record(request, "customer.edit", customer.number, enterprise=enterprise)
            messages.success(request, _("Saved."))
            return redirect("portal:customer", pk=customer.pk)
    calls: list[dict[str, Any]] = []
    seat = getattr(request.user, "seat", None)
    # a seat sees the calls that involved it, unless the admin lets seats see every call (V5)
    mine = screenpop.digits(seat.phone) if seat and not enterprise.seats_see_all_calls else None
    if customer.number.isdigit():
        try:
            with stores.calls() as store:
                for number in enterprise.numbers.all():
                    rows, _next = store.page(
                        CallQuery(number.did, caller=customer.number[:20]),
                        limit=HISTORY if mine is None else OWN_SCAN,
                    )
                    calls += [
                        {**r, "when": times.local(r["start"], number.tz)}
                        for r in rows
                        if mine is None or mine in screenpop.phones_of(r)
                    ]
        except Exception:  # no call store yet: no history
            calls = []
    calls.sort(key=lambda r: r["start"], reverse=True)
    return render(
        request,
        "portal/customer.html",
        {
            "customer": customer,
            "form": form,
            "calls": calls[:HISTORY],
            "notes": customer.notes.select_related("seat")[:50],
        },
        status=400 if request.method == "POST" else 200,
    )


class FollowUpForm(forms.Form):
    due = forms.DateTimeField(
        label=gettext_lazy("due"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    text = forms.CharField(label=gettext_lazy("what to do"), max_length=500)


def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    """A step of the customer's contact plan, for the seat that makes it (or for all seats)."""
    enterprise = enterprise_of(request)
    customer = get_object_or_404(Customer, pk=pk, enterprise=enterprise)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A follow-up needs a time and what to do."))
        return redirect("portal:customer", pk=customer.pk)
    seat = getattr(request.user, "seat", None)
    FollowUp.objects.create(
        enterprise=enterprise,
        customer=customer,
        seat=seat,
        due=form.cleaned_data["due"],
        text=form.cleaned_data["text"],
    )
    audit.record(request, "follow_up.create", customer.number, enterprise=enterprise)
    return redirect("portal:customer", pk=customer.pk)


def follow_up_done(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = enterprise_of(request)
    step = get_object_or_404(FollowUp, pk=pk, enterprise=enterprise)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    step.done = True
    step.save(update_fields=["done"])
    if request.POST.get("next") == "workspace":
        return redirect("portal:workspace")
    return redirect("portal:customer", pk=step.customer_id)
