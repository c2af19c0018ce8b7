"""Where a person lands after logging in, and the login page itself (B15)."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from routecore_portal.access import is_operator, member_required, numbers


@member_required
def home(request: HttpRequest) -> HttpResponse:
    if is_operator(request):
        return redirect("portal:ops")
    first = numbers(request).first()
    if first is None:
        raise Http404("no numbers")
    return redirect("portal:dashboard", did=first.did)


class Login(LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
