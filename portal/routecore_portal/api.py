"""The JSON API over the portal's operations for other services (django-ninja, its OpenAPI
schema at ``/api/openapi.json``): a bearer token acts as its user and sees exactly what that
user's pages show; another tenant's number is a 404 (B15, F1)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, NinjaAPI, Schema, Status
from ninja.security import HttpBearer

from routecore.billing.months import Month
from routecore.errors import BillingError, FlowError, ReviewError, StoreError
from routecore.store import CallQuery
from routecore.store.browse import PAGE_MAX
from routecore_portal import audit, stores, tokens
from routecore_portal.access import is_operator, member, number_or_404, numbers
from routecore_portal.models import ADMIN, OPERATOR
from routecore_portal.views.flows import validation_errors, version_or_404
from routecore_portal.views.review import take_step
from routecore_portal.views.statement import statement_of


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = tokens.user_of(token)
        if user is None:
            return None
        request.user = user
        m = member(request)
        return user if m is not None and m.role in (OPERATOR, ADMIN) else None


api = NinjaAPI(
    title="routecore portal API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url=None,  # the interactive docs load scripts from a CDN; the schema is served
)


class NumberOut(Schema):
    did: str
    tz: str
    enterprise: str


class CallPage(Schema):
    calls: list[dict[str, Any]]
    next: str | None


class VersionOut(Schema):
    version: int
    state: str
    author: str
    reviewer: str | None
    note: str | None
    live: bool


class DraftIn(Schema):
    content: str
    submit: bool = False


class Problem(Schema):
    detail: str
    errors: list[str] = Field(default_factory=list)


def _version(v: Any) -> VersionOut:
    return VersionOut(
        version=v.version,
        state=v.state,
        author=v.author,
        reviewer=v.reviewer,
        note=v.note,
        live=v.live,
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> Any:
    return api.create_response(request, {"detail": "not found"}, status=404)


@api.exception_handler(StoreError)
def _store_error(request: HttpRequest, exc: Exception) -> Any:
    return api.create_response(request, {"detail": str(exc)}, status=503)


@api.get("/numbers", response=list[NumberOut])
def list_numbers(request: HttpRequest) -> Any:
    return [
        NumberOut(did=n.did, tz=n.tz, enterprise=n.enterprise.name)
        for n in numbers(request).select_related("enterprise")
    ]


@api.get("/numbers/{did}/calls", response={200: CallPage, 400: Problem})
def calls(
    request: HttpRequest,
    did: str,
    since: float = 0.0,
    until: float = 2.0**62,
    caller: str | None = None,
    outcome: str | None = None,
    branch: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    number_or_404(request, did)
    key = None
    if after:
        start, sep, call_id = after.partition("~")
        try:
            key = (float(start), call_id)
        except ValueError:
            return Status(400, Problem(detail="after: start~call_id from the last page's next"))
        if not sep or not call_id:
            return Status(400, Problem(detail="after: start~call_id from the last page's next"))
    if not 1 <= limit <= PAGE_MAX:
        return Status(400, Problem(detail=f"limit: 1 to {PAGE_MAX} calls a page"))
    try:
        query = CallQuery(
            did,
            since=since,
            until=until,
            caller=caller or None,
            outcome=outcome or None,
            branch=branch or None,
        )
    except StoreError as e:  # a filter the query refuses
        return Status(400, Problem(detail=str(e)))
    with stores.calls() as store:  # a store that cannot be used: the 503 handler
        rows, nxt = store.page(query, after=key, limit=limit)
    return Status(200, CallPage(calls=rows, next=f"{nxt[0]!r}~{nxt[1]}" if nxt else None))


@api.get("/numbers/{did}/calls/{call_id}", response=dict[str, Any])
def call(request: HttpRequest, did: str, call_id: str) -> Any:
    number_or_404(request, did)
    with stores.calls() as store:
        row = store.call(did, call_id)
    if row is None:
        raise Http404("no such call")
    return row


@api.get("/numbers/{did}/branches", response=list[dict[str, Any]])
def branches(request: HttpRequest, did: str, since: float = 0.0, until: float = 2.0**62) -> Any:
    number_or_404(request, did)
    with stores.calls() as store:
        return [dict(r) for r in store.branch_stats(did, since, until)]


@api.get("/numbers/{did}/flow", response=list[VersionOut])
def flow_versions(request: HttpRequest, did: str) -> Any:
    number_or_404(request, did)
    with stores.flows() as store:
        return [_version(v) for v in store.history(did)]


@api.post("/numbers/{did}/flow", response={201: VersionOut, 400: Problem})
def flow_draft(request: HttpRequest, did: str, body: DraftIn) -> Any:
    number = number_or_404(request, did)
    errors = validation_errors(body.content, did)
    if errors:
        return Status(400, Problem(detail="the flow is not valid", errors=errors))
    who = request.user.get_username()
    with stores.flows() as store:
        v = store.draft(did, body.content, who)
        audit.record(
            request, "flow.draft", f"{did} v{v.version}", "api", enterprise=number.enterprise
        )
        if body.submit:
            v = store.submit(did, v.version, who)
            audit.record(
                request, "flow.submit", f"{did} v{v.version}", "api", enterprise=number.enterprise
            )
    return Status(201, _version(v))


@api.post("/numbers/{did}/flow/{version}/{action}", response={200: VersionOut, 400: Problem})
def flow_step(request: HttpRequest, did: str, version: int, action: str) -> Any:
    number = number_or_404(request, did)
    operator_actions = ("approve", "publish", "rollback")
    if action not in ("submit", *operator_actions):
        raise Http404("no such action")
    if action in operator_actions and not is_operator(request):
        raise Http404("no such action")
    who = request.user.get_username()
    with stores.flows() as store:
        version_or_404(store, did, version)
        try:
            v = take_step(store, did, version, action, who)
        except (ReviewError, FlowError) as e:
            return Status(400, Problem(detail=str(e)))
    audit.record(
        request, f"flow.{action}", f"{did} v{version}", "api", enterprise=number.enterprise
    )
    return Status(200, _version(v))


@api.get("/numbers/{did}/statement", response={200: dict[str, Any], 400: Problem})
def statement(request: HttpRequest, did: str, month: str) -> Any:
    number_or_404(request, did)
    try:
        return Status(200, statement_of(did, Month.parse(month)))
    except BillingError as e:
        return Status(400, Problem(detail=str(e)))
