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
    paths = stores.paths()
    with stores.flows() as store:
        version_or_404(store, did, version)
        try:
            if action == "approve":
                store.approve(did, version, who)
            elif action == "reject":
                if not note.strip():
                    raise ReviewError(_("A rejection needs a note saying why."))
                store.reject(did, version, who, note)
            else:
                step = store.publish if action == "publish" else store.rollback
                step(
                    did,
                    version,
                    who,
                    image_path=paths["image"],
                    compile=stores.compile_flows,
                    on_published=stores.after_publish,
                )
        except (ReviewError, FlowError, StoreError) as e:
            messages.error(request, str(e))
            return redirect("portal:flow_version", did=did, version=version)
    audit.record(request, f"flow.{action}", f"{did} v{version}", note, enterprise=number.enterprise)
    messages.success(
        request,
        _("Done: %(action)s %(did)s v%(v)d.") % {"action": action, "did": did, "v": version},
    )
    return redirect("portal:flow_version", did=did, version=version)
