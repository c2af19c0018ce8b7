"""Alibaba Cloud SMS through its own SDK, pointed at a local HTTP endpoint that answers as the
documented SendSms API does: success (BizId), throttling (isv.BUSINESS_LIMIT_CONTROL), an
illegal signature or template, a number the API refuses, no answer, no server."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from routecore.engine.sms import Sms
from routecore.errors import RoutecoreError
from routecore.sms.aliyun import AliyunProvider
from routecore.sms.sender import RETRY_FIRST, Sender
from routecore.store import CallStore

TEXT = "【远景科技】您好，远景科技（4006001003）于2026-12-07 10:05致电您未接通，请回拨。"


class SendSms(BaseHTTPRequestHandler):
    """Answers each request with the next of ``server.answers`` (code, message)."""

    def do_POST(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        query["action"] = self.headers.get("x-acs-action", "")
        query["authorization"] = self.headers.get("Authorization", "")
        self.server.requests.append(query)  # type: ignore[attr-defined]
        code, message = self.server.answers.pop(0) if self.server.answers else ("OK", "OK")  # type: ignore[attr-defined]
        if code == "hang":
            threading.Event().wait(3)
            return
        if code == "garbage":
            junk = b"<html>502 Bad Gateway</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            self.wfile.write(junk)
            return
        body = {"Code": code, "Message": message, "RequestId": "req-1"}
        if code == "OK":
            body["BizId"] = f"biz-{len(self.server.requests)}"  # type: ignore[attr-defined]
        out = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SendSms)
    server.requests, server.answers = [], []  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def provider(port: int, timeout: float = 2.0) -> AliyunProvider:
    url = f"aliyun://AKID:secret@127.0.0.1:{port}?hangup=SMS_100&missed_call=SMS_200&http=1"
    p = AliyunProvider.from_url(url)
    p.timeout = timeout
    return p


def queue(calls, *kinds: str) -> None:
    with CallStore(calls) as store:
        for i, kind in enumerate(kinds):
            store.send(Sms(kind, "4006001003", "13900139000", TEXT, f"c{i}", 1.0))  # type: ignore[arg-type]


def test_a_message_goes_under_its_signature_and_its_kinds_template(api, tmp_path):
    calls = tmp_path / "calls.db"
    queue(calls, "missed_call")
    sender = Sender(str(calls), provider(api.server_port))
    assert sender.run_once()["sent"] == 1
    [request] = api.requests
    assert request["action"] == "SendSms" and request["PhoneNumbers"] == "13900139000"
    assert request["SignName"] == "远景科技" and request["TemplateCode"] == "SMS_200"
    assert json.loads(request["TemplateParam"])["content"].startswith("您好，远景科技")
    assert request["OutId"] == "1" and "Credential=AKID" in request["authorization"]
    status = sender.deliveries.status(1)
    assert (status["state"], status["message_ids"]) == ("sent", "biz-1")


def test_throttling_waits_and_a_bad_signature_or_number_is_final(api, tmp_path):
    api.answers += [
        ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
        ("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法"),
        ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
    ]
    calls = tmp_path / "calls.db"
    queue(calls, "hangup", "hangup", "hangup")
    now = [1_796_000_000.0]
    sender = Sender(str(calls), provider(api.server_port), clock=lambda: now[0])
    assert sender.run_once() == {"sent": 0, "queued": 1, "failed": 2, "later": 0, "receipts": 0}
    codes = [sender.deliveries.status(i)["code"] for i in (1, 2, 3)]
    assert codes == [
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.MOBILE_NUMBER_ILLEGAL",
    ]
    now[0] += RETRY_FIRST
    assert sender.run_once()["sent"] == 1 and len(api.requests) == 4  # only the throttled again


def test_no_answer_is_in_doubt_and_no_server_is_tried_again(api, tmp_path):
    api.answers.append(("hang", ""))
    calls = tmp_path / "calls.db"
    queue(calls, "hangup")
    sender = Sender(str(calls), provider(api.server_port, timeout=0.5))
    assert sender.run_once()["failed"] == 1
    assert sender.deliveries.status(1)["code"] == "in_doubt"  # never sent twice
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    calls2 = tmp_path / "calls2.db"
    queue(calls2, "hangup")
    sender2 = Sender(str(calls2), provider(closed, timeout=0.5))
    assert sender2.run_once()["queued"] == 1
    assert sender2.deliveries.status(1)["code"] == "connection"


def test_an_unsigned_message_or_a_kind_without_template_is_refused_before_the_api(api, tmp_path):
    p = AliyunProvider.from_url(f"aliyun://a:b@127.0.0.1:{api.server_port}?hangup=SMS_1&http=1")
    calls = tmp_path / "calls.db"
    with CallStore(calls) as store:
        store.send(Sms("hangup", "4006001003", "13900139000", "没有签名", "c0", 1.0))
        store.send(Sms("missed_call", "4006001003", "13900139000", TEXT, "c1", 1.0))
    sender = Sender(str(calls), p)
    assert sender.run_once()["failed"] == 2 and api.requests == []
    assert [sender.deliveries.status(i)["code"] for i in (1, 2)] == ["unsigned", "no_template"]


@pytest.mark.parametrize("url", ["aliyun://h", "aliyun://a:b@h", "aliyun://a:b@h?hangup=X&rate=x"])
def test_a_bad_url_says_why(url):
    with pytest.raises(RoutecoreError):
        AliyunProvider.from_url(url)


def test_an_endpoint_answering_garbage_is_a_stored_status_never_a_crash_or_a_resend(api, tmp_path):
    api.answers.append(("garbage", ""))
    calls = tmp_path / "calls.db"
    queue(calls, "hangup")
    sender = Sender(str(calls), provider(api.server_port))
    assert sender.run_once()["failed"] == 1
    status = sender.deliveries.status(1)
    assert status["state"] == "failed" and status["code"] == "in_doubt"  # reached it, unknown
    assert sender.run_once()["sent"] == 0 and len(api.requests) == 1
