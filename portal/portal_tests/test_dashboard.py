"""The dashboard: today's calls per hour and the answered share in the number's zone, the live
flow's destinations busy now in the shared state, the last calls."""

from __future__ import annotations

import time
from pathlib import Path

from portal_tests.common import A_DID, add_calls, example
from routecore.backend import get_backend
from routecore_portal import times


def _publish(a_client, op_client):
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    a_client.post(f"/n/{A_DID}/flow/1/submit/")
    op_client.post(f"/n/{A_DID}/flow/1/approve/")
    op_client.post(f"/n/{A_DID}/flow/1/publish/")


def test_todays_calls_per_hour_and_the_busy_destinations(a_client, op_client, stores, settings):
    state_path = str(Path(stores["store"]).with_name("state"))
    state = get_backend().State.create(state_path, destinations=64, memory=64, numbers=8)
    settings.ROUTECORE = {**stores, "state": state_path}
    _publish(a_client, op_client)
    midnight = times.day_start(times.today("Asia/Shanghai"), "Asia/Shanghai")
    add_calls(stores["calls"], A_DID, 6, start=midnight + 3600 * 9)  # 09:00-09:05 today
    claim = state.claim(["075523456781"], "c-now")
    assert claim is not None
    page = a_client.get(f"/n/{A_DID}/")
    body = page.content.decode()
    assert (
        page.context["total"] == 6 and page.context["answered"] == 3 and page.context["share"] == 50
    )
    assert [d.number for d in page.context["busy"]] == ["075523456781"]
    assert body.count("<rect") >= 2 and "075523456781: 1/1" in body
    state.release(claim)
    assert a_client.get(f"/n/{A_DID}/").context["busy"] == []
    state.close()


def test_a_dashboard_without_a_state_or_calls_today(a_client, stores):
    add_calls(stores["calls"], A_DID, 2, start=time.time() - 10 * 86400)
    page = a_client.get(f"/n/{A_DID}/")
    assert page.status_code == 200 and page.context["total"] == 0 and page.context["share"] is None
