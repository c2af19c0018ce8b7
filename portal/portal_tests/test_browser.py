"""Journeys through the portal in a real browser (Debian's chromium driven by Playwright): an
operator sets up an enterprise, its admin changes the flow and uploads a prompt, the operator
approves and publishes, a call through the engine follows the new flow, the admin hears its
recording and exports branch statistics; a wrong password five times locks the login; another
enterprise reaches none of it. Screenshots go to ``$ROUTECORE_PORTAL_SCREENSHOTS`` (docs/portal.md
shows them) or the test's folder."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from portal_tests.common import PASSWORD, example
from routecore.backend import get_backend
from routecore.engine import CallSession
from routecore.engine.actions import Answered, CallStarted, DialResult, Digits
from routecore.store import CallStore

DID = "4006001003"
OPERATOR_PHONE = "075523456780"


@pytest.fixture
def portal(live_server: Any, stores: dict[str, str]) -> Any:
    from django.contrib.auth import get_user_model

    from routecore_portal.models import OPERATOR, Member

    user = get_user_model().objects.create_user("ops-wang", password=PASSWORD)
    Member.objects.create(user=user, role=OPERATOR)
    return live_server


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")


def _wav() -> bytes:
    t = np.arange(16000) / 16000
    out = io.BytesIO()
    soundfile.write(out, 0.2 * np.sin(2 * np.pi * 330 * t), 16000, format="WAV")
    return out.getvalue()


def _call(stores: dict[str, str], key: str) -> list[str]:
    """A call through the engine on the published image: the caller presses ``key``, the phone
    the flow rings answers and talks 30 s; the record (with its recording) lands in the call
    store. Returns the numbers the Dial rang."""
    image = get_backend().Image.open(stores["image"])
    state = get_backend().State.create(str(Path(stores["store"]).with_name("state")))
    session = CallSession(image, state, seed=1)
    at = 1_790_000_000.0
    session.handle(CallStarted(DID, "13900000000", at, "journey-1"))
    dial = next(a for a in session.handle(Digits(key, at + 3)) if type(a).__name__ == "Dial")
    who = dial.targets[0]
    session.handle(Answered(who, at + 8))
    session.handle(DialResult("answered", who, 30, "rec-journey-1", at + 38))
    with CallStore(stores["calls"]) as calls:
        calls.add(session.record)
    t = np.arange(8000 * 3) / 8000
    soundfile.write(Path(stores["recordings"], "rec-journey-1.wav"), 0.1 * np.sin(t * 2000), 8000)
    return list(dial.targets)


def test_an_enterprise_from_setup_to_its_first_call(portal, browser, stores, shots):
    base = portal.url
    ops = browser.new_page(locale="zh-CN")
    _login(ops, base, "ops-wang", PASSWORD)
    ops.click("text=新建企业")
    ops.fill("input[name=name]", "甲公司")
    ops.fill("input[name=did]", DID)
    ops.fill("input[name=admin]", "jia-admin")
    ops.click("button:has-text('创建')")
    password = ops.inner_text("#one-time-password")
    ops.screenshot(path=str(shots / "01-enterprise-created.png"), full_page=True)
    ops.click("text=继续")
    ops.select_option("select[name=package]", "2000-1y")
    ops.fill("input[name=start]", "2026-09")
    ops.click("button:has-text('分配')")
    assert "2000-1y" in ops.inner_text("main")

    admin = browser.new_context(locale="zh-CN").new_page()
    _login(admin, base, DID, password)
    assert admin.url.endswith(f"/n/{DID}/")
    admin.screenshot(path=str(shots / "02-dashboard.png"), full_page=True)
    # The first version of the flow, written in the editor (recording on).
    admin.goto(f"{base}/n/{DID}/flow/edit/")
    admin.fill("textarea", example(DID).replace("start: main", "start: main\nrecording: true"))
    admin.click("button:has-text('保存草稿')")
    # A prompt uploaded; key 2 sent to the operator instead of support; a blacklist.
    admin.goto(f"{base}/n/{DID}/prompts/")
    admin.fill("input[name=name]", "greeting2")
    admin.set_input_files(
        "input[name=file]",
        files=[{"name": "hello.mp3", "mimeType": "audio/mpeg", "buffer": _wav()}],
    )
    admin.click("button:has-text('上传')")
    assert "待审核" in admin.inner_text("main")
    admin.goto(f"{base}/n/{DID}/settings/")
    menu = admin.locator("#form-menu-main")
    menu.locator("input[name='menu-main-key_2']").fill("operator")
    menu.locator("button").click()
    admin.goto(f"{base}/n/{DID}/settings/")
    blacklist = admin.locator("#form-blacklist")
    blacklist.locator("textarea[name='blacklist-numbers']").fill("13812345678")
    blacklist.locator("textarea[name='blacklist-prefixes']").fill("170")
    blacklist.locator("input[name='blacklist-submit_now']").check()
    admin.screenshot(path=str(shots / "03-settings.png"), full_page=True)
    blacklist.locator("button").click()
    assert re.search(r"v3 \(submitted", admin.inner_text("h1"))

    ops.goto(f"{base}/ops/prompts/")
    ops.click("button:has-text('通过')")
    ops.goto(f"{base}/ops/")
    ops.screenshot(path=str(shots / "04-review-queue.png"), full_page=True)
    ops.click("text=v3")
    ops.click("button:has-text('通过')")
    ops.click("button:has-text('发布')")
    assert "published" in ops.inner_text("h1")

    assert _call(stores, "2") == [OPERATOR_PHONE]  # the new key 2

    statuses: list[int] = []
    admin.on("response", lambda r: statuses.append(r.status) if "/recording" in r.url else None)
    admin.goto(f"{base}/n/{DID}/calls/")
    admin.screenshot(path=str(shots / "05-call-records.png"), full_page=True)
    # The audio element asks for the recording by ranges (preload="metadata"): a 206.
    with admin.expect_response(lambda r: "/recording" in r.url and r.status == 206, timeout=15000):
        admin.click("text=详情")
    assert 206 in statuses, statuses
    admin.screenshot(path=str(shots / "06-call.png"), full_page=True)
    admin.goto(f"{base}/n/{DID}/stats/?since=2026-09-21&until=2026-09-22")
    with admin.expect_download() as download:
        admin.click("text=导出 CSV")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "branch,2026-09-21,2026-09-22" and "main.2,1,0" in text
    admin.screenshot(path=str(shots / "07-branch-statistics.png"), full_page=True)


def test_five_wrong_passwords_lock_the_login_and_another_enterprise_sees_nothing(
    portal, browser, people, shots
):
    base = portal.url
    page = browser.new_page(locale="zh-CN")
    for _ in range(5):
        _login(page, base, "4006001003", "wrong-password")
    _login(page, base, "4006001003", PASSWORD)
    assert "登录已锁定" in page.inner_text("main")
    page.screenshot(path=str(shots / "08-locked.png"), full_page=True)
    other = browser.new_context(locale="zh-CN").new_page()
    _login(other, base, "admin-b", PASSWORD)
    for path in ("", "calls/", "stats/", "flow/", "settings/", "prompts/", "statement/"):
        response = other.goto(f"{base}/n/4006001003/{path}")
        assert response.status == 404, path
