"""The carrier's back office: enterprises and their 400 numbers, packages, the audit log
(B15, P1)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from routecore.billing.months import Month
from routecore.billing.packages import builtin_packages
from routecore.errors import BillingError
from routecore_portal import audit, stores
from routecore_portal.access import operator_required
from routecore_portal.forms import AssignPackage, NewEnterprise, NewNumber
from routecore_portal.models import ADMIN, AuditEntry, Enterprise, Member, Number
from routecore_portal.views.review import pending_versions


def one_time_password() -> str:
    """A password for a first login, shown once (the person changes it)."""
    return secrets.token_urlsafe(12)


@operator_required
def ops_home(request: HttpRequest) -> HttpResponse:
    enterprises = Enterprise.objects.prefetch_related("numbers")
    return render(
        request, "portal/ops.html", {"enterprises": enterprises, "pending": pending_versions()}
    )


@operator_required
def enterprise_new(request: HttpRequest) -> HttpResponse:
    form = NewEnterprise(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if Number.objects.filter(did=data["did"]).exists():
            form.add_error("did", _("This number belongs to an enterprise already."))
        elif get_user_model().objects.filter(username=data["admin"]).exists():
            form.add_error("admin", _("This user name is taken."))
        else:
            password = one_time_password()
            with transaction.atomic():
                enterprise = Enterprise.objects.create(name=data["name"])
                Number.objects.create(did=data["did"], enterprise=enterprise)
                user = get_user_model().objects.create_user(data["admin"], password=password)
                Member.objects.create(user=user, role=ADMIN, enterprise=enterprise, primary=True)
            audit.record(
                request,
                "enterprise.create",
                enterprise.name,
                f"number {data['did']}, admin {data['admin']}",
                enterprise=enterprise,
            )
            return render(
                request,
                "portal/enterprise_created.html",
                {"enterprise": enterprise, "admin": data["admin"], "password": password},
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/enterprise_new.html", {"form": form}, status=status)


@operator_required
def enterprise(request: HttpRequest, pk: int) -> HttpResponse:
    ent = get_object_or_404(Enterprise, pk=pk)
    number_form = NewNumber(request.POST if request.POST.get("form") == "number" else None)
    package_form = AssignPackage(request.POST if request.POST.get("form") == "package" else None)
    if request.method == "POST":
        if number_form.is_bound and number_form.is_valid():
            did = number_form.cleaned_data["did"]
            if Number.objects.filter(did=did).exists():
                number_form.add_error("did", _("This number belongs to an enterprise already."))
            else:
                Number.objects.create(did=did, enterprise=ent, tz=number_form.cleaned_data["tz"])
                audit.record(request, "number.add", did, enterprise=ent)
                messages.success(request, _("Number %(did)s added.") % {"did": did})
                return redirect("portal:enterprise", pk=ent.pk)
        if package_form.is_bound and package_form.is_valid():
            did = request.POST.get("did", "")
            number = get_object_or_404(Number, did=did, enterprise=ent)
            package = builtin_packages()[package_form.cleaned_data["package"]]
            try:
                start = Month.parse(package_form.cleaned_data["start"])
                with stores.accounts() as accounts:
                    account = accounts.assign(number.did, package, start)
            except BillingError as e:
                package_form.add_error("start", str(e))
            else:
                audit.record(
                    request,
                    "package.assign",
                    number.did,
                    f"{package.id} from {account.start} to {account.last}",
                    enterprise=ent,
                )
                messages.success(
                    request,
                    _("Package %(p)s assigned to %(did)s.")
                    % {"p": package.name, "did": number.did},
                )
                return redirect("portal:enterprise", pk=ent.pk)
    terms = {}
    with stores.accounts() as accounts:
        for n in ent.numbers.all():
            terms[n.did] = accounts.terms(n.did)
    rows = [(n, terms.get(n.did, [])) for n in ent.numbers.all()]
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "portal/enterprise.html",
        {
            "enterprise": ent,
            "rows": rows,
            "number_form": number_form,
            "package_form": package_form,
            "members": ent.members.select_related("user"),
        },
        status=status,
    )


@operator_required
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("enterprise")[:500]
    return render(request, "portal/audit.html", {"entries": entries})
