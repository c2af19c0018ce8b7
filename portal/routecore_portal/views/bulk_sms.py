"""Bulk SMS: the enterprise writes a template and its signature, an operator approves both,
then a campaign sends it to the customers and callers the filters choose (V2).

The rules a Chinese operator must follow: every marketing message ends with the opt-out text
(回T退订); a phone on the opt-out list of any of the enterprise's numbers is never chosen (and
the sender checks again before each message); no number twice in one campaign; at most
``per_day`` messages a day (each day's share waits for that day's 08:00); nothing sent from
21:00 to 08:00 in the recipient's time (the sender holds it). Messages go to the call store's
outbox, named ``campaign-<id>``; ``routecore sms send`` delivers them and the campaign's page
shows their progress.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.engine.sms import Sms
from routecore.rules import DEFAULT_TZ
from routecore.store.sms_delivery import Deliveries
from routecore_portal import audit, stores
from routecore_portal.access import member, operator_required
from routecore_portal.models import (
    ADMIN,
    APPROVED,
    PENDING,
    REJECTED,
    Campaign,
    Customer,
    SmsTemplate,
)

OPT_OUT = "回T退订"
"""The opt-out text every marketing message ends with."""
MAX_RECIPIENTS = 100_000
PAGE = 100
"""Messages shown a page on a campaign's page."""
MOBILE = re.compile(r"1[3-9][0-9]{9}")
_FORBIDDEN = re.compile(r"[【】\x00-\x1f\x7f]")


class TemplateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=64)
    signature = forms.RegexField(
        label=gettext_lazy("signature"),
        regex=r"^[\u4e00-\u9fffA-Za-z0-9]{2,12}$",
        error_messages={"invalid": gettext_lazy("2 to 12 Chinese characters, letters or digits.")},
    )
    text = forms.CharField(
        label=gettext_lazy("text"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_text(self) -> str:
        text = str(self.cleaned_data["text"]).strip()
        if _FORBIDDEN.search(text):
            raise forms.ValidationError(
                _("The text may not hold 【】 (the signature is apart) nor control characters.")
            )
        return text


class CampaignForm(forms.Form):
    template = forms.IntegerField(widget=forms.HiddenInput)
    did = forms.RegexField(regex=r"^[0-9]{3,20}$")
    days = forms.IntegerField(
        label=gettext_lazy("callers of the last N days (empty: customers only)"),
        min_value=1,
        max_value=365,
        required=False,
    )
    area = forms.RegexField(label=gettext_lazy("area code"), regex=r"^0[0-9]{1,3}$", required=False)
    tag = forms.CharField(label=gettext_lazy("tag"), max_length=40, required=False)
    per_day = forms.IntegerField(
        label=gettext_lazy("at most a day"), min_value=1, max_value=MAX_RECIPIENTS, initial=10_000
    )


def signed(template: SmsTemplate) -> str:
    """The message a template sends: its signature, its text, the opt-out text."""
    text = template.text.rstrip()
    if not text.endswith(OPT_OUT):
        text += OPT_OUT
    return f"【{template.signature}】{text}"


def _admin(request: HttpRequest) -> Any:
    m = member(request)
    if m is None or m.role != ADMIN or m.enterprise is None:
        raise Http404("no such page")
    return m


def _opted_out(dids: list[str]) -> set[str]:
    """The phones on the opt-out list of any of ``dids``."""
    path = stores.paths()["calls"]
    if not stores.exists(path):  # no call store yet: nobody opted out
        return set()
    with Deliveries(path) as deliveries:
        found: set[str] = set()
        for did in dids:
            found |= deliveries.opted_out_numbers(did)
        return found


def recipients(enterprise: Any, data: dict[str, Any]) -> tuple[list[str], int]:
    """The mobiles a campaign goes to, in a stable order (customers, then callers), each once;
    and how many were skipped (opted out, not a mobile, outside the filters)."""
    customers = Customer.objects.filter(enterprise=enterprise)
    if data.get("tag"):
        customers = customers.filter(tags__icontains=data["tag"])
    chosen: dict[str, None] = {}
    skipped = 0
    for number, area in customers.values_list("number", "area"):
        if data.get("area") and not (area or number).startswith(data["area"]):
            continue
        if MOBILE.fullmatch(number):
            chosen.setdefault(number, None)
        else:
            skipped += 1
    if data.get("days") and not data.get("tag"):
        since = time.time() - int(data["days"]) * 86400
        try:
            with stores.calls() as calls:
                for row in calls.calls(data["did"], since, None):
                    caller = str(row.get("caller_number") or "")
                    if data.get("area") and not str(row.get("caller_area") or "").startswith(
                        data["area"]
                    ):
                        continue
                    if MOBILE.fullmatch(caller):
                        chosen.setdefault(caller, None)
        except Exception:  # no call store yet: no callers
            pass
    dids = list(enterprise.numbers.values_list("did", flat=True))
    out = _opted_out(dids)
    numbers = [n for n in chosen if n not in out]
    skipped += len(chosen) - len(numbers)
    return numbers[:MAX_RECIPIENTS], skipped


def _not_before(index: int, per_day: int, now: float) -> float | None:
    """When message ``index`` may go: today's share at once, each later day's at its 08:00."""
    day = index // per_day
    if day == 0:
        return None
    local = datetime.fromtimestamp(now, ZoneInfo(DEFAULT_TZ))
    opens = (local + timedelta(days=day)).replace(hour=8, minute=0, second=0, microsecond=0)
    return opens.timestamp()


def bulk_sms(request: HttpRequest) -> HttpResponse:
    """The enterprise's templates and campaigns; a new template goes to review."""
    m = _admin(request)
    form = TemplateForm(request.POST if request.POST.get("form") == "template" else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        template = SmsTemplate.objects.create(
            enterprise=m.enterprise,
            name=data["name"],
            signature=data["signature"],
            text=data["text"],
            author=request.user.get_username(),
        )
        audit.record(request, "sms.template", template.name, enterprise=m.enterprise)
        messages.success(request, _("The template waits for an operator's review."))
        return redirect("portal:bulk_sms")
    templates = list(SmsTemplate.objects.filter(enterprise=m.enterprise))
    return render(
        request,
        "portal/bulk_sms.html",
        {
            "form": form,
            "templates": [(t, signed(t)) for t in templates],
            "campaign_form": CampaignForm(),
            "dids": list(m.enterprise.numbers.values_list("did", flat=True)),
            "campaigns": Campaign.objects.filter(enterprise=m.enterprise).select_related(
                "template"
            )[:50],
        },
        status=400 if form.is_bound else 200,
    )


def campaign_new(request: HttpRequest) -> HttpResponse:
    """Queue a campaign: its recipients chosen now, their messages in the outbox."""
    m = _admin(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = CampaignForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("A campaign needs an approved template, a number and a daily cap.")
        )
        return redirect("portal:bulk_sms")
    data = form.cleaned_data
    template = get_object_or_404(SmsTemplate, pk=data["template"], enterprise=m.enterprise)
    if template.state != APPROVED:
        messages.error(request, _("Only an approved template can be sent."))
        return redirect("portal:bulk_sms")
    if not m.enterprise.numbers.filter(did=data["did"]).exists():
        raise Http404("no such number")
    numbers, skipped = recipients(m.enterprise, data)
    if not numbers:
        messages.error(request, _("No recipient matches these filters."))
        return redirect("portal:bulk_sms")
    filters = ", ".join(f"{k}={data[k]}" for k in ("days", "area", "tag") if data.get(k))
    campaign = Campaign.objects.create(
        enterprise=m.enterprise,
        template=template,
        did=data["did"],
        author=request.user.get_username(),
        recipients=len(numbers),
        skipped=skipped,
        per_day=data["per_day"],
        filters=filters,
    )
    text, now = signed(template), time.time()
    queued = [
        Sms("marketing", data["did"], n, text, campaign.outbox_name, now,
            not_before=_not_before(i, data["per_day"], now))
        for i, n in enumerate(numbers)
    ]  # fmt: skip
    with stores.calls() as calls:
        calls.write(sms=queued)
    audit.record(request, "sms.campaign", campaign.outbox_name, f"{len(numbers)} recipients",
                 enterprise=m.enterprise)  # fmt: skip
    messages.success(request, _("%(n)d messages queued.") % {"n": len(numbers)})
    return redirect("portal:campaign", pk=campaign.pk)


def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    """A campaign's progress: its messages by state."""
    m = _admin(request)
    found = get_object_or_404(Campaign, pk=pk, enterprise=m.enterprise)
    asked = request.GET.get("page", "1")
    page = max(int(asked), 1) if asked.isdigit() and len(asked) < 7 else 1
    with Deliveries(stores.paths()["calls"]) as deliveries:
        counts = deliveries.campaign(found.outbox_name)
        shown = deliveries.messages(name=found.outbox_name, limit=PAGE, offset=(page - 1) * PAGE)
    done = counts["sent"] + counts["delivered"] + counts["failed"]
    return render(
        request,
        "portal/campaign.html",
        {
            "campaign": found,
            "counts": counts,
            "done": done,
            "percent": round(100 * done / max(found.recipients, 1)),
            "rows": shown,  # not "messages": that is the page's flash messages
            "page": page,
            "more": len(shown) == PAGE,
        },
    )


@operator_required
def template_review(request: HttpRequest) -> HttpResponse:
    """The operator's queue of templates: approve (signature and text both) or reject."""
    if request.method == "POST":
        template = get_object_or_404(SmsTemplate, pk=request.POST.get("pk"), state=PENDING)
        approve = request.POST.get("action") == "approve"
        template.state = APPROVED if approve else REJECTED
        template.reviewer = request.user.get_username()
        template.note = str(request.POST.get("note", ""))[:500]
        template.save(update_fields=["state", "reviewer", "note"])
        audit.record(request, f"sms.template.{template.state}", template.name,
                     enterprise=template.enterprise)  # fmt: skip
        return redirect("portal:template_review")
    pending = SmsTemplate.objects.filter(state=PENDING).select_related("enterprise")
    return render(
        request, "portal/template_review.html", {"pending": [(t, signed(t)) for t in pending]}
    )
