"""Tokens of the JSON API: made and revoked by the person they act for; only their SHA-256 is
stored (B15)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from routecore_portal.models import ApiToken

PREFIX = "rc_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def make(user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token of ``user``: the row and the token itself (shown once)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name, prefix=token[:10], digest=digest(token))
    return row, token


def user_of(token: str) -> Any:
    """The active user a token acts for (None: no such token, or the user is inactive)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used=timezone.now())
    return row.user
