"""The operators' review: approve or reject a submitted version with a note, publish an
approved one, roll back to an earlier published one (B15, F1)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from routecore.errors import FlowError, ReviewError, StoreError
from routecore_portal import audit, stores
from routecore_portal.access import number_or_404, operator_required
from routecore_portal.forms import ReviewNote
from routecore_portal.models import Number
from routecore_portal.views.flows import version_or_404

ACTIONS = ("approve", "reject", "publish", "rollback")


def pending_versions() -> list[Any]:
    """Submitted and approved versions of every number the portal knows, oldest first."""
    out = []
    with stores.flows() as store:
        for did in Number.objects.values_list("did", flat=True):
            out += [v for v in store.history(did) if v.state in ("submitted", "approved")]
    return sorted(out, key=lambda v: v.changed)


def take_step(store: Any, did: str, version: int, action: str, who: str, note: str = "") -> Any:
    """One step of the review of ``did`` v``version`` on the flow store: ``submit``,
    ``approve``, ``reject`` (a note is required), ``publish`` or ``rollback`` (the image written,
    the host's state told); the new FlowVersion, or the store's ReviewError/FlowError."""
    if action == "submit":
        return store.submit(did, version, who)
    if action == "approve":
        return store.approve(did, version, who)
    if action == "reject":
        if not note.strip():
            raise ReviewError(_("A rejection needs a note saying why."))
        return store.reject(did, version, who, note)
    step = store.publish if action == "publish" else store.rollback
    return step(
        did,
        version,
        who,
        image_path=stores.paths()["image"],
        compile=stores.compile_flows,
        on_published=lambda: stores.after_publish([did]),
    )


@operator_required
def act(request: HttpRequest, did: str, version: int, action: str) -> HttpResponse:
    number = number_or_404(request, did)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if action not in ACTIONS:
        raise Http404("no such action")
    form = ReviewNote(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    who = request.user.get_username()
    with stores.flows() as store:
        version_or_404(store, did, version)
        try:
            take_step(store, did, version, action, who, note)
        except (ReviewError, FlowError, StoreError) as e:
            messages.error(request, str(e))
            return redirect("portal:flow_version", did=did, version=version)
    audit.record(request, f"flow.{action}", f"{did} v{version}", note, enterprise=number.enterprise)
    messages.success(
        request,
        _("Done: %(action)s %(did)s v%(v)d.") % {"action": action, "did": did, "v": version},
    )
    return redirect("portal:flow_version", did=did, version=version)
