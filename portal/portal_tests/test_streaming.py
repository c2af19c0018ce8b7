"""Streaming in constant memory under ASGI: the export and the recordings run their iterator in
a thread of its own, a few chunks ahead of the client, instead of Django reading it to the end
before the first byte."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
import urllib.request

import pytest
from django.test import AsyncRequestFactory, RequestFactory

from portal_tests.common import A_DID, add_calls
from routecore_portal.streaming import DEPTH, in_thread, streamed


def test_under_asgi_the_response_is_an_async_stream_and_under_wsgi_a_plain_one():
    make = lambda: iter([b"a", b"b"])  # noqa: E731
    assert streamed(AsyncRequestFactory().get("/"), make).is_async
    assert not streamed(RequestFactory().get("/"), make).is_async


def test_the_thread_stays_a_few_chunks_ahead_and_stops_when_the_client_goes():
    made: list[int] = []
    threads: set[str] = set()

    def make():
        for i in range(1000):
            threads.add(threading.current_thread().name)
            made.append(i)
            yield i

    async def take(n: int) -> list[int]:
        got = []
        stream = in_thread(make)
        async for item in stream:
            got.append(item)
            if len(got) == n:
                break
        await stream.aclose()
        await asyncio.sleep(0.7)  # the worker notices the client is gone
        return got

    assert asyncio.run(take(5)) == [0, 1, 2, 3, 4]
    assert len(made) <= 5 + DEPTH + 2, len(made)  # never the whole
    assert threads == {"portal-stream"}


def test_an_error_in_the_iterator_reaches_the_client():
    def make():
        yield 1
        raise ValueError("broken")

    async def take() -> list[int]:
        return [item async for item in in_thread(make)]

    with pytest.raises(ValueError, match="broken"):
        asyncio.run(take())


def test_the_export_over_uvicorn_streams_every_row(asgi, people, stores):
    from portal_tests.common import PASSWORD

    add_calls(stores["calls"], A_DID, 3000)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = opener.open(f"{asgi}/login/").read().decode()
    token = login.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    data = urllib.parse.urlencode(
        {"username": "admin-a", "password": PASSWORD, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(f"{asgi}/login/", data, headers={"Referer": f"{asgi}/login/"})
    opener.open(request).read()
    started = time.monotonic()
    with opener.open(f"{asgi}/n/{A_DID}/calls.csv") as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        body = response.read().decode("utf-8-sig")
    assert body.count("\n") == 3001 and time.monotonic() - started < 30
