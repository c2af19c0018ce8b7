"""Alibaba Cloud SMS through its SDK (``alibabacloud-dysmsapi20170525``, SendSms) (B2, B3).

``aliyun://<AccessKeyId>:<AccessKeySecret>@<endpoint>?hangup=<TemplateCode>&missed_call=
<TemplateCode>[&rate=<per s>][&http=1]``: Alibaba's model is a registered signature (SignName)
and an approved template (TemplateCode) with parameters — the brief's "signature and content
registered and approved". The signature is the one the message carries (its leading
``【…】``, the flow's approved signature); the template is the one registered for the
message's kind, with one parameter ``content``: the approved text without its signature. The
outbox row's id goes as ``OutId``.

Answers: ``Code: OK`` is sent (its ``BizId`` the message id); throttling
(``isv.BUSINESS_LIMIT_CONTROL``, ``Throttling…``, ``isp.SYSTEM_ERROR``) and a connection refused
are temporary; a request that left without an answer (a read timeout, a reset) is in doubt;
any other code (``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.SMS_SIGNATURE_ILLEGAL``,
``isv.SMS_TEMPLATE_ILLEGAL``, …) is permanent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from routecore.errors import RoutecoreError
from routecore.sms.providers import InDoubt, Permanent, Receipt, Temporary

__all__ = ["TEMPORARY_CODES", "AliyunProvider"]

TEMPORARY_CODES = (
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling",
    "isp.SYSTEM_ERROR",
    "ServiceUnavailable",
)
_SIGNED = re.compile(r"^【([^】]{2,12})】(.+)$", re.S)


class AliyunProvider:
    """SendSms through the SDK's client (see the module)."""

    name = "aliyun"

    def __init__(
        self,
        access_key: str,
        secret: str,
        endpoint: str,
        templates: dict[str, str],
        *,
        rate: float = 100.0,
        http: bool = False,
        timeout: float = 10.0,
    ) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi

        config = openapi.Config(
            access_key_id=access_key,
            access_key_secret=secret,
            endpoint=endpoint,
            protocol="http" if http else "https",
        )
        self._client = Client(config)
        self.templates = templates
        self.rate = rate
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str) -> AliyunProvider:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme != "aliyun" or not parts.hostname or not parts.username:
            raise RoutecoreError(
                f"not an Alibaba Cloud SMS URL: {url!r} (aliyun://AccessKeyId:Secret@endpoint"
                "?hangup=SMS_…&missed_call=SMS_…)"
            )
        templates = {k: query[k] for k in ("hangup", "missed_call") if query.get(k)}
        if not templates:
            raise RoutecoreError(
                "the Alibaba provider needs ?hangup= and/or ?missed_call= templates"
            )
        try:
            rate = float(query.get("rate", "100"))
        except ValueError as e:
            raise RoutecoreError(f"the Alibaba provider URL: {e}") from None
        endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
        return cls(
            unquote(parts.username),
            unquote(parts.password or ""),
            endpoint,
            templates,
            rate=rate,
            http=query.get("http") == "1",
        )

    def send(self, to: str, text: str, reference: str, kind: str = "hangup") -> tuple[str, ...]:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util

        signed = _SIGNED.match(text)
        if signed is None:
            raise Permanent("unsigned", "the message carries no 【signature】 to send under")
        template = self.templates.get(kind)
        if template is None:
            raise Permanent("no_template", f"no template is configured for {kind} messages")
        request = models.SendSmsRequest(
            phone_numbers=to,
            sign_name=signed.group(1),
            template_code=template,
            template_param=json.dumps({"content": signed.group(2)}, ensure_ascii=False),
            out_id=reference.rsplit(" ", 1)[-1],
        )
        ms = int(self.timeout * 1000)
        runtime = util.RuntimeOptions(connect_timeout=ms, read_timeout=ms, autoretry=False)
        try:
            answer = self._client.send_sms_with_options(request, runtime)
        except Exception as e:  # the SDK's TeaException and its network failures
            raise _failure(e) from None
        body = answer.body
        code = str(getattr(body, "code", "") or "")
        if code == "OK":
            return (str(body.biz_id or ""),)
        message = str(getattr(body, "message", "") or "")
        if code.startswith(TEMPORARY_CODES):
            raise Temporary(code, message)
        raise Permanent(code or "no_code", message or "SendSms answered without a code")

    def receipts(self) -> list[Receipt]:
        return []  # Alibaba reports delivery by its message queue or QuerySendDetails

    def close(self) -> None:
        pass


def _failure(error: Any) -> Exception:
    """The SDK's exception as Temporary, InDoubt or Permanent."""
    code = str(getattr(error, "code", "") or "")
    text = str(getattr(error, "message", "") or error)
    if "Connection refused" in text or "NewConnectionError" in text:
        return Temporary("connection", text[:300])
    if "timed out" in text or "Connection aborted" in text or "RemoteDisconnected" in text:
        return InDoubt("no_answer", text[:300])
    if code.startswith(TEMPORARY_CODES):
        return Temporary(code, text[:300])
    if code:
        return Permanent(code, text[:300])
    return InDoubt("unknown", text[:300])
