"""Logging in with a 400 number or a user name: a number logs in as its enterprise's primary
admin; anything else is a user name (B15)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from routecore_portal.models import Number


def login_name(username: str) -> str:
    """The user name a login name stands for: a 400 number's primary admin, or itself."""
    text = username.strip()
    if text.isascii() and text.isdigit():
        number = Number.objects.filter(did=text).select_related("enterprise").first()
        if number is not None:
            primary = number.enterprise.members.filter(primary=True).select_related("user").first()
            if primary is not None:
                return str(primary.user.get_username())
    return text


class NumberOrNameBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None or password is None:
            return None
        return super().authenticate(request, login_name(username), password, **kwargs)


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The name lockouts count failures against: a number and its admin's name are one login."""
    given = (credentials or {}).get("username") or request.POST.get("username", "")
    return login_name(str(given))[:150]
