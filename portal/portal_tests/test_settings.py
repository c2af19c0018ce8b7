"""Settings as flow changes: each form makes a validated draft of the flow (and submits it when
asked); a value that does not fit is shown beside its field and saves nothing."""

from __future__ import annotations

import yaml

from portal_tests.common import A_DID, example
from routecore.store import FlowStore


def _store(stores):
    return FlowStore(stores["store"], validate=lambda c, s: None)


def _start(a_client):
    assert a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)}).status_code == 302


def _latest(stores):
    store = _store(stores)
    try:
        v = store.history(A_DID)[-1]
        return v, yaml.safe_load(v.content)
    finally:
        store.close()


def test_the_blacklist_form_makes_a_draft_and_can_submit_it(a_client, stores):
    _start(a_client)
    page = a_client.get(f"/n/{A_DID}/settings/")
    assert page.status_code == 200 and 'id="form-blacklist"' in page.content.decode()
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {
            "form": "blacklist",
            "blacklist-numbers": "13812345678\n13812345679",
            "blacklist-prefixes": "170, 171",
            "blacklist-submit_now": "on",
        },
    )
    assert response.status_code == 302
    v, flow = _latest(stores)
    assert v.version == 2 and v.state == "submitted"
    assert flow["blacklist"] == {
        "numbers": ["13812345678", "13812345679"],
        "prefixes": ["170", "171"],
    }


def test_a_bad_blacklist_entry_is_shown_beside_the_field_and_saves_nothing(a_client, stores):
    _start(a_client)
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {"form": "blacklist", "blacklist-numbers": "1381234x", "blacklist-prefixes": ""},
    )
    assert response.status_code == 400 and "1381234x" in response.content.decode()
    assert _latest(stores)[0].version == 1


def test_a_menu_key_changed(a_client, stores):
    _start(a_client)
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {
            "form": "menu-main",
            "menu-main-menu": "main",
            "menu-main-key_1": "sales",
            "menu-main-key_2": "operator",
            "menu-main-key_0": "operator",
            "menu-main-key_9": "main",
        },
    )
    assert response.status_code == 302
    assert _latest(stores)[1]["menus"]["main"]["keys"] == {
        "1": "sales",
        "2": "operator",
        "9": "main",
        "0": "operator",
    }


def test_a_menu_key_to_nowhere_is_a_validation_error(a_client, stores):
    _start(a_client)
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {"form": "menu-main", "menu-main-menu": "main", "menu-main-key_1": "nowhere"},
    )
    assert response.status_code == 400 and "nowhere" in response.content.decode()
    assert _latest(stores)[0].version == 1


def test_ring_mode_and_prompt(a_client, stores):
    _start(a_client)
    assert (
        a_client.post(
            f"/n/{A_DID}/settings/",
            {
                "form": "group",
                "group-group": "support",
                "group-mode": "simultaneous",
                "group-idle_first": "on",
                "group-ring_timeout": "30",
            },
        ).status_code
        == 302
    )
    assert _latest(stores)[1]["groups"]["support"] == {
        "members": ["support_1", "support_2"],
        "mode": "simultaneous",
        "idle_first": True,
        "ring_timeout": 30,
    }
    assert (
        a_client.post(
            f"/n/{A_DID}/settings/",
            {"form": "prompt", "prompt-where": "main", "prompt-prompt": "sales_menu"},
        ).status_code
        == 302
    )
    assert _latest(stores)[1]["menus"]["main"]["prompt"] == "sales_menu"
    bad = a_client.post(
        f"/n/{A_DID}/settings/",
        {
            "form": "group",
            "group-group": "support",
            "group-mode": "loud",
            "group-ring_timeout": "30",
        },
    )
    assert bad.status_code == 400


def _own(people, did, a_client):
    from routecore_portal.models import Number

    Number.objects.create(did=did, enterprise=people["a_enterprise"])
    assert a_client.post(f"/n/{did}/flow/edit/", {"content": example(did)}).status_code == 302


def test_a_conference_password(a_client, people, stores):
    _own(people, "8006001007", a_client)
    assert 'id="form-conference"' in a_client.get("/n/8006001007/settings/").content.decode()
    response = a_client.post(
        "/n/8006001007/settings/",
        {"form": "conference", "conference-room": "board", "conference-password": "4321"},
    )
    assert response.status_code == 302
    bad = a_client.post(
        "/n/8006001007/settings/",
        {"form": "conference", "conference-room": "board", "conference-password": "12ab"},
    )
    assert bad.status_code == 400


def test_extensions_one_a_line_checked_line_by_line(a_client, people, stores):
    _own(people, "4006001004", a_client)
    page = a_client.get("/n/4006001004/settings/").content.decode()
    assert 'id="form-extensions"' in page
    flow = yaml.safe_load(example("4006001004"))
    fixed = flow["extensions"].get("fixed_length") or 3
    first = next(iter(flow["destinations"]))
    good = f"{'8' * fixed}: {first}, 13800000000"
    response = a_client.post(
        "/n/4006001004/settings/", {"form": "extensions", "extensions-extensions": good}
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    store = _store(stores)
    latest = yaml.safe_load(store.history("4006001004")[-1].content)
    store.close()
    assert latest["extensions"]["numbers"] == {"8" * fixed: [first, "13800000000"]}
    wrong = "1" * (fixed + 1)
    response = a_client.post(
        "/n/4006001004/settings/",
        {"form": "extensions", "extensions-extensions": f"{wrong}: {first}"},
    )
    assert response.status_code == 400 and "line 1" in response.content.decode()
    six = ", ".join(["13800000000"] * 6)
    response = a_client.post(
        "/n/4006001004/settings/",
        {"form": "extensions", "extensions-extensions": f"{'8' * fixed}: {six}"},
    )
    assert response.status_code == 400 and "1 to 5" in response.content.decode()


def test_a_form_for_a_part_the_flow_lacks_is_a_400(a_client, stores):
    _start(a_client)
    assert a_client.post(f"/n/{A_DID}/settings/", {"form": "menu-nope"}).status_code == 400
    assert a_client.post(f"/n/{A_DID}/settings/", {"form": "extensions"}).status_code == 400


def test_destinations_one_a_line_with_their_options(b_client, stores):
    from portal_tests.common import B_DID

    assert b_client.post(f"/n/{B_DID}/flow/edit/", {"content": example(B_DID)}).status_code == 302
    page = b_client.get(f"/n/{B_DID}/settings/").content.decode()
    assert "bj_li: 13800138000; agent=801" in page
    text = "\n".join(
        [
            "bj_li: 13800138009; agent=801; capacity=2",
            "bj_desk: 010-6552-8888; agent=802",
            "sh_wang: 13916001234",
            "sz_chen: 0755-8888-6666",
            "hq_zhao: 02087654321; weight=3",
        ]
    )
    response = b_client.post(
        f"/n/{B_DID}/settings/", {"form": "destinations", "destinations-destinations": text}
    )
    assert response.status_code == 302
    store = _store(stores)
    flow = yaml.safe_load(store.history(B_DID)[-1].content)
    store.close()
    assert flow["destinations"]["bj_li"] == {
        "number": "13800138009",
        "agent_id": 801,
        "capacity": 2,
    }
    assert flow["destinations"]["hq_zhao"] == {"number": "02087654321", "weight": 3}
    missing = b_client.post(
        f"/n/{B_DID}/settings/",
        {"form": "destinations", "destinations-destinations": "bj_li: 13800138000"},
    )
    assert missing.status_code == 400  # the groups name destinations that are gone
    bad = b_client.post(
        f"/n/{B_DID}/settings/",
        {"form": "destinations", "destinations-destinations": "bj_li: 13800138000; colour=red"},
    )
    assert bad.status_code == 400 and "colour" in bad.content.decode()


def test_an_area_route(b_client, stores):
    from portal_tests.common import B_DID

    b_client.post(f"/n/{B_DID}/flow/edit/", {"content": example(B_DID)})
    response = b_client.post(
        f"/n/{B_DID}/settings/",
        {
            "form": "route-branches",
            "route-branches-route": "branches",
            "route-branches-areas": "010: beijing\n0755: shenzhen\n广东: shenzhen",
            "route-branches-default": "head_office",
        },
    )
    assert response.status_code == 302
    store = _store(stores)
    flow = yaml.safe_load(store.history(B_DID)[-1].content)
    store.close()
    assert flow["routes"]["branches"]["areas"] == {
        "010": "beijing",
        "0755": "shenzhen",
        "广东": "shenzhen",
    }
    bad = b_client.post(
        f"/n/{B_DID}/settings/",
        {
            "form": "route-branches",
            "route-branches-route": "branches",
            "route-branches-areas": "010 beijing",
            "route-branches-default": "head_office",
        },
    )
    assert bad.status_code == 400 and "line 1" in bad.content.decode()


def test_a_time_route(a_client, people, stores):
    _own(people, "4006001002", a_client)
    response = a_client.post(
        "/n/4006001002/settings/",
        {
            "form": "route-hours",
            "route-hours-route": "hours",
            "route-hours-slots": "office: mon-fri 08:30-18:00; sat 09:00-12:00 -> office",
            "route-hours-otherwise": "salesperson",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    store = _store(stores)
    flow = yaml.safe_load(store.history("4006001002")[-1].content)
    store.close()
    assert flow["routes"]["hours"]["slots"] == {
        "office": {"when": ["mon-fri 08:30-18:00", "sat 09:00-12:00"], "to": "office"}
    }
    assert flow["routes"]["hours"]["dates"]  # what the form does not show is kept
    bad = a_client.post(
        "/n/4006001002/settings/",
        {
            "form": "route-hours",
            "route-hours-route": "hours",
            "route-hours-slots": "office: someday 25:00-26:00 -> office",
            "route-hours-otherwise": "salesperson",
        },
    )
    assert bad.status_code == 400
