"""The API tokens of the person logged in: made (shown once), listed, revoked (B15)."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from routecore_portal import audit, tokens
from routecore_portal.access import member_required
from routecore_portal.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("what the token is for"), max_length=64)


@member_required
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    made = None
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "portal/tokens.html", {"form": form, "tokens": _mine(request)}, status=400
            )
        row, made = tokens.make(request.user, form.cleaned_data["name"])
        audit.record(request, "token.create", f"{row.prefix}…", row.name)
        form = TokenForm()
    return render(
        request, "portal/tokens.html", {"form": form, "made": made, "tokens": _mine(request)}
    )


def _mine(request: HttpRequest) -> object:
    return ApiToken.objects.filter(user=request.user)  # type: ignore[misc]


@member_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    row = ApiToken.objects.filter(pk=pk, user=request.user).first()  # type: ignore[misc]
    if row is None:
        raise Http404("no such token")
    if request.method != "POST":
        return HttpResponse(status=405)
    audit.record(request, "token.revoke", f"{row.prefix}…", row.name)
    row.delete()
    return redirect("portal:tokens")
