"""``routecore sms send`` and ``routecore sms status`` over a real SMPP server (loopback)."""

from __future__ import annotations

import json

from routecore.cli import main
from tests.sms.smpp_gateway import Gateway
from tests.sms.test_smpp import TEXT, queue


def test_send_once_then_status(tmp_path, capsys):
    gateway = Gateway()
    try:
        calls = tmp_path / "calls.db"
        queue(calls, TEXT, TEXT)
        url = f"smpp://routecore:secret@127.0.0.1:{gateway.port}?source=1065900001"
        assert (
            main(["sms", "send", "--once", "--calls", str(calls), "--provider", url, "--json"]) == 0
        )
        assert json.loads(capsys.readouterr().out)["sent"] == 2
        assert len(gateway.submitted) == 2
        assert main(["sms", "status", "--calls", str(calls), "--json"]) == 0
        counts = json.loads(capsys.readouterr().out)
        assert counts["queued"] == 0 and counts["sent"] + counts["delivered"] == 2
    finally:
        gateway.close()


def test_a_missing_or_unknown_provider_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ROUTECORE_SMS_PROVIDER", raising=False)
    calls = str(tmp_path / "calls.db")
    assert main(["sms", "send", "--once", "--calls", calls]) == 2
    assert "--provider" in capsys.readouterr().err
    assert main(["sms", "send", "--once", "--calls", calls, "--provider", "mqtt://x"]) == 2
    assert main(["sms", "send", "--once", "--calls", calls, "--provider", "smpp://h:1"]) == 4
    err = capsys.readouterr().err
    assert "unknown SMS provider" in err and "not an SMPP provider URL" in err
    assert "Traceback" not in err


def test_the_quiet_hours_are_configurable_and_checked(tmp_path, capsys):
    calls = str(tmp_path / "calls.db")
    url = "smpp://u:p@127.0.0.1:1?source=1"
    for bad in ("8-21", "21", "25-8", "x-y"):
        assert main(["sms", "send", "--once", "--calls", calls, "--provider", url,
                     "--quiet-hours", bad]) == 2  # fmt: skip
        assert "--quiet-hours" in capsys.readouterr().err
