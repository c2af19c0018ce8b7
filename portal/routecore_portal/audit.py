"""The audit log: every change made through the portal, with who, what, when and from where
(B15)."""

from __future__ import annotations

from django.http import HttpRequest

from routecore_portal.access import member
from routecore_portal.models import AuditEntry, Enterprise


def record(
    request: HttpRequest,
    action: str,
    target: str = "",
    detail: str = "",
    enterprise: Enterprise | None = None,
) -> None:
    m = member(request)
    AuditEntry.objects.create(
        who=request.user.get_username() if request.user.is_authenticated else "",
        role=m.role if m is not None else "",
        enterprise=enterprise if enterprise is not None else (m.enterprise if m else None),
        action=action,
        target=target[:200],
        detail=detail[:10_000],
        address=request.META.get("REMOTE_ADDR") or None,
    )
