"""Logging in with a 400 number or a user name; lockout after five wrong passwords; cookies
and headers a portal must send."""

from __future__ import annotations

from django.test import Client

from portal_tests.common import A_DID, PASSWORD


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_an_enterprise_logs_in_with_its_400_number(people):
    c = Client()
    response = _login(c, A_DID, PASSWORD)
    assert response.status_code == 302
    assert c.get("/", follow=True).request["PATH_INFO"] == f"/n/{A_DID}/"


def test_or_with_its_user_name(people):
    c = Client()
    assert _login(c, "admin-a", PASSWORD).status_code == 302


def test_a_wrong_password_is_a_message_not_a_login(people):
    response = _login(Client(), A_DID, "wrong")
    assert response.status_code == 200 and "_auth_user_id" not in Client().session


def test_five_wrong_passwords_lock_the_login_for_number_and_name_alike(people):
    c = Client()
    for attempt in range(5):
        _login(c, A_DID if attempt % 2 else "admin-a", "wrong")
    locked = _login(c, "admin-a", PASSWORD)  # the right password, too late
    assert locked.status_code == 429
    assert _login(Client(), A_DID, PASSWORD).status_code == 429
    # Another enterprise's login is not affected.
    assert _login(Client(), "admin-b", PASSWORD).status_code == 302


def test_passwords_are_stored_with_argon2(people):
    assert people["a"].password.startswith("argon2")


def test_session_cookie_is_httponly_and_samesite_and_pages_send_a_strict_csp(people):
    c = Client()
    response = _login(c, "admin-a", PASSWORD)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    page = c.get(f"/n/{A_DID}/calls/")
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.content.decode()
    assert page["X-Frame-Options"] == "DENY"


def test_forms_need_the_csrf_token(people):
    c = Client(enforce_csrf_checks=True)
    assert _login(c, "admin-a", PASSWORD).status_code == 403


def test_pages_need_a_login(people):
    response = Client().get(f"/n/{A_DID}/calls/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_chinese_is_the_default_and_english_the_other(people):
    page = Client().get("/login/")
    assert 'lang="zh-hans"' in page.content.decode() and "登录" in page.content.decode()
    english = Client(headers={"accept-language": "en"}).get("/login/")
    assert 'lang="en"' in english.content.decode() and "Log in" in english.content.decode()
