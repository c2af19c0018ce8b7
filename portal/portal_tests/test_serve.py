"""``routecore-portal serve``: the portal over a real socket (uvicorn), its database made, a first
operator's one-time login printed, Chinese first, the stylesheet served by the app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(run: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ROUTECORE_RUN": str(run)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "routecore_portal.cli", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_prints_the_url_and_a_first_operator_then_serves(tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, "--port", str(port))
    try:
        url = proc.stdout.readline().strip()
        login = proc.stdout.readline().strip()
        assert url == f"routecore portal: http://127.0.0.1:{port}/"
        assert login.startswith("first operator: operator  one-time password: ")
        password = login.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.1)
        assert "登录" in page.read().decode()
        css = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/portal/portal.css", timeout=5)
        assert css.status == 200 and b"font-family" in css.read()
        assert (tmp_path / "portal.db").exists()
        assert oct((tmp_path / "portal-secret").stat().st_mode & 0o777) == "0o600"
    finally:
        proc.terminate()
        proc.wait(10)
    # A second start keeps the operator: no new one-time password is printed.
    again = _serve(tmp_path, "--port", str(_free_port()))
    try:
        assert again.stdout.readline().startswith("routecore portal: ")
        assert len(password) >= 12
    finally:
        again.terminate()
        out, _ = again.communicate(timeout=10)
    assert "first operator" not in out


def test_serve_refuses_a_public_address_without_public(tmp_path):
    proc = _serve(tmp_path, "--host", "0.0.0.0")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--public" in err
