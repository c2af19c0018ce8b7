"""Responses streamed in constant memory under both servers (B15).

Under ASGI (uvicorn) Django would read a plain iterator to its end before sending a byte, so
there the iterator runs in a thread of its own that hands chunks over through a short queue;
under WSGI (tests, a WSGI host) it is sent as it is."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

DEPTH = 8
"""Chunks made ahead of what the client has taken."""

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """The items of ``make()``, made in a thread of their own (the iterator keeps its thread:
    an SQLite connection opened in it stays in it), at most DEPTH ahead of the consumer. A
    consumer that stops (a client gone) stops the thread at its next item."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(DEPTH)
    stop = threading.Event()

    def put(item: Any) -> bool:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while not stop.is_set():
            try:
                future.result(timeout=0.5)
                return True
            except TimeoutError:
                continue
        future.cancel()
        return False

    def work() -> None:
        try:
            for item in make():
                if not put(item):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put(_Failed(e))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="portal-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


def streamed(
    request: HttpRequest, make: Callable[[], Iterator[Any]], **kwargs: Any
) -> StreamingHttpResponse:
    """A streaming response of ``make()``'s chunks, in constant memory under either server."""
    if isinstance(request, ASGIRequest):
        return StreamingHttpResponse(in_thread(make), **kwargs)
    return StreamingHttpResponse(make(), **kwargs)
