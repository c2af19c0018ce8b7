"""A number's settings as small forms, each saved as a new draft of its flow and, when asked,
submitted for review at once (B1, B4, B6, B7, B9, B13, B14, B15, V1, V4)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore.errors import FlowError, ReviewError
from routecore_portal import audit, flowedit, stores
from routecore_portal.access import member_required, number_or_404
from routecore_portal.models import APPROVED, Prompt
from routecore_portal.views.flows import validation_errors

KEYS = [*"1234567890", "*", "#"]


class Change(forms.Form):
    submit_now = forms.BooleanField(label=gettext_lazy("submit for review now"), required=False)


class BlacklistForm(Change):
    numbers = forms.CharField(
        label=gettext_lazy("numbers refused"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    prefixes = forms.CharField(
        label=gettext_lazy("prefixes refused"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MenuForm(Change):
    menu = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key in KEYS:
            self.fields[f"key_{key}"] = forms.CharField(label=key, required=False, max_length=64)


class PromptForm(Change):
    where = forms.ChoiceField(label=gettext_lazy("where"))
    prompt = forms.ChoiceField(label=gettext_lazy("prompt"))


class PromptFileForm(Change):
    name = forms.RegexField(
        label=gettext_lazy("name in the flow"), regex=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
    )
    file = forms.ChoiceField(label=gettext_lazy("approved prompt"))


class ConferenceForm(Change):
    room = forms.ChoiceField(label=gettext_lazy("conference"))
    password = forms.RegexField(
        label=gettext_lazy("password"), regex=r"^[0-9]{0,16}$", required=False
    )


class GroupForm(Change):
    group = forms.ChoiceField(label=gettext_lazy("group"))
    mode = forms.ChoiceField(
        label=gettext_lazy("ring mode"), choices=[(m, m) for m in flowedit.MODES]
    )
    idle_first = forms.BooleanField(label=gettext_lazy("idle first"), required=False)
    ring_timeout = forms.IntegerField(
        label=gettext_lazy("ring timeout (s)"), min_value=5, max_value=120
    )


class DestinationsForm(Change):
    destinations = forms.CharField(
        label=gettext_lazy("destinations, one a line: name: number; agent=805; capacity=2"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )


class AreaForm(Change):
    route = forms.CharField(widget=forms.HiddenInput)
    areas = forms.CharField(
        label=gettext_lazy("areas, one a line: 010: target"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    default = forms.CharField(label=gettext_lazy("other areas go to"), max_length=64)


class TimeForm(Change):
    route = forms.CharField(widget=forms.HiddenInput)
    slots = forms.CharField(
        label=gettext_lazy("slots, one a line: office: mon-fri 09:00-18:00 -> target"),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    otherwise = forms.CharField(
        label=gettext_lazy("other times go to"), required=False, max_length=64
    )


class ExtensionsForm(Change):
    extensions = forms.CharField(
        label=gettext_lazy("extensions, one a line: 801: name, number"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
    )


def _latest(did: str) -> tuple[str, dict[str, Any]]:
    with stores.flows() as store:
        versions = store.history(did)
    content = versions[-1].content if versions else f'number: "{did}"\n'
    return content, flowedit.load(content)


def _forms(
    data: dict[str, Any], bound: str | None, post: Any, approved: list[tuple[str, str]]
) -> dict[str, Any]:
    """Every form of the page, prefilled from ``data``; the one named ``bound`` bound to
    ``post``; ``approved``: the enterprise's approved prompt files as choices."""

    def make(kind: str, cls: Any, initial: dict[str, Any], **extra: Any) -> Any:
        form = cls(post if bound == kind else None, initial=initial, prefix=kind)
        for name, choices in extra.items():
            form.fields[name].choices = choices
        return form

    blacklist = data.get("blacklist") or {}
    prompts = [(p, p) for p in (data.get("prompts") or {})]
    menus = data.get("menus") or {}
    groups = data.get("groups") or {}
    rooms = data.get("conferences") or {}
    out: dict[str, Any] = {
        "blacklist": make(
            "blacklist",
            BlacklistForm,
            {
                "numbers": "\n".join(blacklist.get("numbers") or []),
                "prefixes": "\n".join(blacklist.get("prefixes") or []),
            },
        ),
        "prompt": make(
            "prompt",
            PromptForm,
            {"where": "greeting", "prompt": data.get("greeting")},
            where=[("greeting", _("greeting")), *((m, m) for m in menus)],
            prompt=prompts,
        ),
        "menus": [],
        "prompt_file": make("prompt_file", PromptFileForm, {}, file=approved),
    }
    for name, menu in menus.items():
        keys = {f"key_{k}": v for k, v in ((menu or {}).get("keys") or {}).items()}
        form = MenuForm(
            post if bound == f"menu-{name}" else None,
            initial={"menu": name, **keys},
            prefix=f"menu-{name}",
        )
        out["menus"].append((name, form))
    if groups:
        first = next(iter(groups.values())) or {}
        out["group"] = make(
            "group",
            GroupForm,
            {
                "mode": first.get("mode", "sequential"),
                "idle_first": first.get("idle_first", False),
                "ring_timeout": first.get("ring_timeout", 20),
            },
            group=[(g, g) for g in groups],
        )
    if rooms:
        out["conference"] = make("conference", ConferenceForm, {}, room=[(r, r) for r in rooms])
    out["destinations"] = make(
        "destinations", DestinationsForm, {"destinations": flowedit.destinations_text(data)}
    )
    out["routes"] = []
    for name, route in (data.get("routes") or {}).items():
        if not isinstance(route, dict):
            continue
        kind = f"route-{name}"
        if route.get("by") == "area":
            initial = {
                "route": name,
                "areas": flowedit.area_text(route),
                "default": route.get("default", "hangup"),
            }
            route_form: Change = AreaForm(
                post if bound == kind else None, initial=initial, prefix=kind
            )
        elif route.get("by") == "time":
            initial = {
                "route": name,
                "slots": flowedit.time_text(route),
                "otherwise": route.get("otherwise", ""),
            }
            route_form = TimeForm(post if bound == kind else None, initial=initial, prefix=kind)
        else:
            continue
        out["routes"].append((name, route.get("by"), route_form))
    if isinstance(data.get("extensions"), dict):
        out["extensions"] = make(
            "extensions", ExtensionsForm, {"extensions": flowedit.extensions_text(data)}
        )
    return out


def _apply(kind: str, form: Any, data: dict[str, Any]) -> None:
    c = form.cleaned_data
    if kind == "blacklist":
        flowedit.set_blacklist(data, c["numbers"], c["prefixes"])
    elif kind == "prompt":
        flowedit.set_prompt(data, c["where"], c["prompt"])
    elif kind == "prompt_file":
        flowedit.add_prompt_file(data, c["name"], c["file"])
    elif kind.startswith("menu-"):
        keys = {k: c.get(f"key_{k}") or "" for k in KEYS}
        flowedit.set_menu_keys(data, c["menu"], keys)
    elif kind == "group":
        flowedit.set_ring_mode(data, c["group"], c["mode"], c["idle_first"], c["ring_timeout"])
    elif kind == "conference":
        flowedit.set_conference_password(data, c["room"], c["password"])
    elif kind == "extensions":
        flowedit.set_extensions(data, c["extensions"])
    elif kind == "destinations":
        flowedit.set_destinations(data, c["destinations"])
    elif kind.startswith("route-") and "areas" in c:
        flowedit.set_areas(data, c["route"], c["areas"], c["default"])
    elif kind.startswith("route-"):
        flowedit.set_slots(data, c["route"], c["slots"], c["otherwise"])


def _bound(forms_: dict[str, Any], kind: str) -> Any:
    if kind.startswith("menu-"):
        return next((f for name, f in forms_["menus"] if f"menu-{name}" == kind), None)
    if kind.startswith("route-"):
        return next((f for name, _by, f in forms_["routes"] if f"route-{name}" == kind), None)
    return forms_.get(kind)


@member_required
def number_settings(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    _content, data = _latest(did)
    kind = request.POST.get("form", "") if request.method == "POST" else None
    approved = [
        (p.file, f"{p.name} ({p.file})")
        for p in Prompt.objects.filter(enterprise=number.enterprise, state=APPROVED)
    ]
    page = _forms(data, kind, request.POST if kind else None, approved)
    errors: list[str] = []
    form = _bound(page, kind) if kind else None
    if kind and form is None:
        errors.append(_("This setting does not exist in the flow."))
    elif form is not None and form.is_valid():
        try:
            _apply(kind or "", form, data)
        except flowedit.EditError as e:
            field = e.field if e.field in form.fields else None
            form.add_error(field, str(e))
        else:
            changed = flowedit.dump(data)
            problems = validation_errors(changed, did)
            if not problems:
                return _save(request, number, changed, form.cleaned_data.get("submit_now", False))
            for problem in problems:  # shown in the form whose change they refuse
                form.add_error(None, problem)
    status = 400 if kind else 200
    return render(
        request,
        "portal/settings.html",
        {"number": number, "page": page, "errors": errors},
        status=status,
    )


def _save(request: HttpRequest, number: Any, content: str, submit_now: bool) -> HttpResponse:
    who = request.user.get_username()
    with stores.flows() as store:
        v = store.draft(number.did, content, who)
        audit.record(
            request,
            "flow.draft",
            f"{number.did} v{v.version}",
            "settings",
            enterprise=number.enterprise,
        )
        if submit_now:
            try:
                store.submit(number.did, v.version, who)
            except (ReviewError, FlowError) as e:
                messages.error(request, str(e))
            else:
                audit.record(
                    request,
                    "flow.submit",
                    f"{number.did} v{v.version}",
                    enterprise=number.enterprise,
                )
    messages.success(request, _("Saved as draft version %(v)d.") % {"v": v.version})
    return redirect("portal:flow_version", did=number.did, version=v.version)
