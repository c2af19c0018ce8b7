"""The portal's forms: every field checked where it is entered, errors shown beside it (B15)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from routecore.billing.packages import builtin_packages
from routecore.engine.record import OUTCOMES
from routecore_portal import labels
from routecore_portal.models import DID, Enterprise


class CallFilter(forms.Form):
    since = forms.DateField(
        label=_("from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("to"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    caller = forms.RegexField(
        label=_("caller"),
        required=False,
        regex=r"^[0-9]{1,20}$",
        max_length=20,
        error_messages={"invalid": _("Digits only, at most 20.")},
    )
    outcome = forms.ChoiceField(
        label=_("outcome"),
        required=False,
        choices=[("", "—"), *((o, labels.OUTCOMES.get(o, o)) for o in OUTCOMES)],
    )
    branch = forms.CharField(label=_("branch"), required=False, max_length=80)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("since", "until"):
            day = data.get(name)
            if day is not None and not 1970 <= day.year <= 2100:
                self.add_error(name, _("A day between 1970 and 2100."))
                data.pop(name, None)
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end is before the start."))
        return data


class FlowDraft(forms.Form):
    content = forms.CharField(
        label=_("flow (YAML)"),
        widget=forms.Textarea(attrs={"rows": 30, "spellcheck": "false"}),
        max_length=1_000_000,
    )


class ReviewNote(forms.Form):
    note = forms.CharField(label=_("note"), required=False, max_length=500)


class NewEnterprise(forms.Form):
    name = forms.CharField(label=_("enterprise name"), max_length=100)
    did = forms.CharField(label=_("400 number"), max_length=20, validators=[DID])
    admin = forms.RegexField(
        label=_("admin user name"),
        regex=r"^[A-Za-z0-9_.@+-]{3,150}$",
        max_length=150,
        error_messages={"invalid": _("3 to 150 letters, digits or _ . @ + -")},
    )

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if Enterprise.objects.filter(name=name).exists():
            raise forms.ValidationError(_("An enterprise of this name exists."))
        return name


class NewNumber(forms.Form):
    did = forms.CharField(label=_("400 number"), max_length=20, validators=[DID])
    tz = forms.CharField(label=_("time zone"), max_length=64, initial="Asia/Shanghai")

    def clean_tz(self) -> str:
        from zoneinfo import ZoneInfo

        tz = str(self.cleaned_data["tz"]).strip()
        try:
            ZoneInfo(tz)
        except Exception:
            raise forms.ValidationError(
                _("Not a time zone (an IANA name such as Asia/Shanghai).")
            ) from None
        return tz


def _package_choices() -> list[tuple[str, str]]:
    return [(p.id, f"{p.id} · {p.name}") for p in builtin_packages().values()]


class AssignPackage(forms.Form):
    package = forms.ChoiceField(label=_("package"), choices=_package_choices)
    start = forms.RegexField(
        label=_("from month"),
        regex=r"^[0-9]{4}-[0-9]{2}$",
        error_messages={"invalid": _("A month as YYYY-MM.")},
    )


class MonthForm(forms.Form):
    month = forms.RegexField(
        label=_("month"),
        regex=r"^[0-9]{4}-[0-9]{2}$",
        required=False,
        error_messages={"invalid": _("A month as YYYY-MM.")},
    )
