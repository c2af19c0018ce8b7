"""Tenant isolation: every URL of the portal, asked by another enterprise's admin with the first
enterprise's number, call, version or id, is a 404 — never its data, never a 500."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from portal_tests.common import A_DID, add_calls, example
from routecore_portal import tokens
from routecore_portal.models import (
    Article,
    Campaign,
    Customer,
    FollowUp,
    Number,
    Prompt,
    QrPage,
    Seat,
    SmsTemplate,
)


def _patterns(resolver=None, prefix="", params=()):
    """(namespaced name, the URL's parameters) of every named URL."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        names = (*params, *p.pattern.regex.groupindex)
        if isinstance(p, URLResolver):
            ns = p.namespace or ""
            yield from _patterns(p, f"{prefix}{ns}:" if ns else prefix, names)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{prefix}{p.name}", names


def _fill(name, names, people, prompt, token, customer, extra):
    values = {
        "did": A_DID,
        "call_id": f"{A_DID}-c0000",
        "kind": "recording",
        "version": 1,
        "action": "approve",
        "fmt": "svg",
        "token": "not-a-number-page",
        "pk": prompt.pk
        if "prompt" in name
        else token.pk
        if "token" in name
        else people["a_enterprise"].pk,
    }
    return {n: values[n] for n in names}


def test_every_url_of_another_enterprise_is_a_404(a_client, b_client, people, stores):
    add_calls(stores["calls"], A_DID, 4, recording=True)
    Path(stores["recordings"], f"rec-{A_DID}-0.wav").write_bytes(b"RIFF" + bytes(100))
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    prompt = Prompt.objects.create(
        enterprise=people["a_enterprise"],
        name="hello",
        file=f"e{people['a_enterprise'].pk}-hello.wav",
        seconds=1,
        size=44,
        sha256="0" * 64,
        source_format="WAV",
        uploaded_by="admin-a",
    )
    Path(stores["uploads"]).mkdir(exist_ok=True)
    Path(stores["uploads"], prompt.file).write_bytes(b"RIFF" + bytes(40))
    token, _ = tokens.make(people["a"], "crm")
    customer = Customer.objects.create(enterprise=people["a_enterprise"], number="13900000042")
    QrPage.objects.create(number=Number.objects.get(did=A_DID), token="t0", title="t")
    template = SmsTemplate.objects.create(
        enterprise=people["a_enterprise"], name="t", signature="远景", text="x", author="a"
    )
    Campaign.objects.create(enterprise=people["a_enterprise"], template=template, did=A_DID)
    extra = {
        "portal:follow_up": customer,
        "portal:follow_up_done": FollowUp.objects.create(
            enterprise=people["a_enterprise"], customer=customer, due=timezone.now(), text="x"
        ),
        "portal:article": Article.objects.create(
            enterprise=people["a_enterprise"], title="t", body="b"
        ),
        "portal:seat_remove": Seat.objects.create(
            enterprise=people["a_enterprise"],
            user=get_user_model().objects.create_user("seat-a"),
            name="s",
            phone="13800138100",
        ),
    }
    checked = []
    for name, params in _patterns():
        kwargs = _fill(name, params, people, prompt, token, customer, extra)
        if not name.startswith("portal:") or not ({"did", "pk"} & set(kwargs)):
            continue
        url = reverse(name, kwargs=kwargs)
        # A's own admin reaches the data (a page, a redirect after a POST, or a 405)...
        own = a_client.get(url)
        operators_only = ("portal:enterprise", "portal:flow_act", "portal:prompt_act")
        assert own.status_code != 404 or name in operators_only, (name, url)
        # ...the other enterprise never does.
        for method in (b_client.get, b_client.post):
            response = method(url)
            assert response.status_code == 404, (name, url, method.__name__, response.status_code)
        checked.append(name)
    assert len(checked) >= 14, checked


def test_an_admin_sees_only_their_numbers_in_the_navigation(b_client, people, stores):
    page = b_client.get("/", follow=True).content.decode()
    assert A_DID not in page
