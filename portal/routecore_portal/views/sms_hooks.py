"""Alibaba Cloud's push of the replies phones sent (SmsUp, 上行短信): a reply of ``T`` or ``TD``
puts the phone on the opt-out list of the 400 number whose message it answers, as an SMPP
gateway's ``deliver_sm`` does for ``routecore sms send`` (B2, B3, V2).

``POST /hooks/sms-up/<token>`` with Alibaba's JSON list (``phone_number``, ``content``, …);
the token is ``ROUTECORE_SMS_HOOK_TOKEN`` (unset: the hook does not exist). It answers
``{"code": 0, "msg": "成功"}`` as Alibaba expects, and 400 with a reason for a body it cannot read.
"""

from __future__ import annotations

import hmac
import json
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from routecore.sms.providers import Reply
from routecore.sms.sender import apply_reply
from routecore.store import CallStore
from routecore.store.sms_delivery import Deliveries
from routecore_portal import stores

MAX_BODY = 1_000_000


@csrf_exempt
def sms_up(request: HttpRequest, token: str) -> HttpResponse:
    expected = str(settings.ROUTECORE.get("sms_hook_token") or "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Http404("no such hook")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if len(request.body) > MAX_BODY:
            raise ValueError("the body is too large")
        items = json.loads(request.body)
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("expected a JSON list of replies")
    except (ValueError, RecursionError) as e:
        return JsonResponse({"code": 1, "msg": f"unreadable: {str(e)[:100]}"}, status=400)
    path = settings.ROUTECORE["calls"]
    if not stores.exists(path):
        return JsonResponse({"code": 0, "msg": "成功"})  # no message of ours went anywhere yet
    CallStore(path).close()
    with Deliveries(path) as deliveries:
        for item in items:
            number = str(item.get("phone_number") or "")[-11:]
            text = str(item.get("content") or "")[:70]
            if number.isdigit():
                apply_reply(deliveries, Reply(number, text), time.time())
    return JsonResponse({"code": 0, "msg": "成功"})
