"""Where a person lands after logging in, and the login page itself (B15)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from routecore_portal.access import is_operator, member, numbers
from routecore_portal.models import SEAT


@login_required
def home(request: HttpRequest) -> HttpResponse:
    m = member(request)
    if m is None:
        raise Http404("no role")
    if m.role == SEAT:
        return redirect("portal:workspace")
    if is_operator(request):
        return redirect("portal:ops")
    first = numbers(request).first()
    if first is None:
        raise Http404("no numbers")
    return redirect("portal:dashboard", did=first.did)


class Login(LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
