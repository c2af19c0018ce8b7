"""A store that is missing, locked or refuses: a clear error page (503), never a traceback
(B15)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from routecore.errors import StoreError

log = logging.getLogger(__name__)


class StoreErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, StoreError):
            log.warning("store error on %s: %s", request.path, exception)
            return render(request, "portal/store_error.html", {"error": str(exception)}, status=503)
        return None
