"""A flow change from the portal: a validated draft, submitted, reviewed by an operator (never by
its author or an enterprise), published into the routing image, rolled back; the audit log."""

from __future__ import annotations

import os

from portal_tests.common import A_DID, example
from routecore.backend import get_backend
from routecore.store import FlowStore
from routecore_portal.models import AuditEntry


def _draft(client, content):
    return client.post(f"/n/{A_DID}/flow/edit/", {"content": content})


def test_an_invalid_flow_is_refused_with_the_errors_shown(a_client, stores):
    bad = example(A_DID).replace("start: main", "start: nowhere")
    response = _draft(a_client, bad)
    assert response.status_code == 400
    assert "nowhere" in response.content.decode()
    other = _draft(a_client, example("4006001001"))  # another number's flow
    assert other.status_code == 400
    assert not FlowStore(stores["store"], validate=lambda c, s: None).history(A_DID)


def test_draft_submit_approve_publish_and_roll_back(a_client, op_client, stores):
    saved = _draft(a_client, example(A_DID))
    assert saved.status_code == 302 and saved["Location"] == f"/n/{A_DID}/flow/1/"
    assert a_client.post(f"/n/{A_DID}/flow/1/submit/").status_code == 302
    # The enterprise cannot review its own change; the page does not exist for it.
    assert a_client.post(f"/n/{A_DID}/flow/1/approve/").status_code == 404
    assert op_client.post(f"/n/{A_DID}/flow/1/reject/", {"note": ""}).status_code == 302
    assert (
        "submitted" in op_client.get(f"/n/{A_DID}/flow/1/").content.decode()
    )  # no note, no reject
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")
    image = get_backend().Image.open(stores["image"])
    assert any(A_DID in name for name in image.names())
    # A second version, published, then rolled back to the first.
    _draft(a_client, example(A_DID).replace("name: Two-level menu", "name: Two-level menu v2"))
    a_client.post(f"/n/{A_DID}/flow/2/submit/")
    op_client.post(f"/n/{A_DID}/flow/2/approve/")
    op_client.post(f"/n/{A_DID}/flow/2/publish/")
    op_client.post(f"/n/{A_DID}/flow/1/rollback/")
    store = FlowStore(stores["store"], validate=lambda c, s: None)
    assert store.live() == {A_DID: 1}
    store.close()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "flow.draft",
        "flow.submit",
        "flow.approve",
        "flow.publish",
        "flow.draft",
        "flow.submit",
        "flow.approve",
        "flow.publish",
        "flow.rollback",
    ]
    history = a_client.get(f"/n/{A_DID}/flow/").content.decode()
    assert "op" in history and "rollback" in history
    assert os.path.exists(stores["image"])


def test_an_operator_cannot_approve_a_version_they_wrote(op_client, stores):
    assert _draft(op_client, example(A_DID)).status_code == 302
    op_client.post(f"/n/{A_DID}/flow/1/submit/")
    response = op_client.post(f"/n/{A_DID}/flow/1/approve/", follow=True)
    assert "may not approve" in response.content.decode()
    assert not AuditEntry.objects.filter(action="flow.approve").exists()


def test_the_diff_against_the_live_version_is_shown(a_client, op_client, stores):
    _draft(a_client, example(A_DID))
    a_client.post(f"/n/{A_DID}/flow/1/submit/")
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")
    _draft(a_client, example(A_DID).replace("name: Two-level menu", "name: Changed"))
    page = a_client.get(f"/n/{A_DID}/flow/2/").content.decode()
    assert "-name: Two-level menu" in page and "+name: Changed" in page
