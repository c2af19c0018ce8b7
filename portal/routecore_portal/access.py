"""Who may see what: the role of the person logged in and the numbers in their scope (B15).

Every view that shows a number's data takes the number from the URL through
:func:`number_or_404`: a number outside the person's scope is a 404, the same as a number that
does not exist, so another enterprise's numbers cannot even be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from routecore_portal.models import ADMIN, OPERATOR, Member, Number

Response = HttpResponse | StreamingHttpResponse
View = TypeVar("View", bound=Callable[..., Response])


def member(request: HttpRequest) -> Member | None:
    user = request.user
    if not user.is_authenticated:
        return None
    try:
        return user.member
    except Member.DoesNotExist:
        return None


def is_operator(request: HttpRequest) -> bool:
    m = member(request)
    return m is not None and m.role == OPERATOR


def numbers(request: HttpRequest) -> Any:
    """The numbers this person may see: every number for an operator, the enterprise's for its
    admins, none for anyone else."""
    m = member(request)
    if m is None:
        return Number.objects.none()
    if m.role == OPERATOR:
        return Number.objects.all()
    if m.role == ADMIN and m.enterprise_id is not None:
        return Number.objects.filter(enterprise_id=m.enterprise_id)
    return Number.objects.none()


def number_or_404(request: HttpRequest, did: str) -> Number:
    found = numbers(request).filter(did=did).select_related("enterprise").first()
    if found is None:
        raise Http404("no such number")
    return found  # type: ignore[no-any-return]


def operator_required(view: View) -> View:
    """Operators only; anyone else gets a 404 (the page does not exist for them)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        if not is_operator(request):
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]


def member_required(view: View) -> View:
    """Anyone with a role (an operator or an enterprise admin); others get a 404."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        m = member(request)
        if m is None or m.role not in (OPERATOR, ADMIN):
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]


def role_context(request: HttpRequest) -> dict[str, Any]:
    m = member(request)
    return {
        "portal_role": m.role if m is not None else None,
        "portal_enterprise": m.enterprise if m is not None else None,
        "portal_numbers": list(numbers(request).values_list("did", flat=True)[:50])
        if m is not None
        else [],
    }
