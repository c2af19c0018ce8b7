"""What an adapter process opens once and shares between its calls: the live routing image,
the host's shared state, the call store, the media folders and the dial templates.

A call's record and its post-call SMS (B2, B3) go to the call store. In a server they are
written by one thread of the worker's own (:meth:`Runtime.start_writer`), never on the event
loop: a write waits for SQLite's lock while another process writes (up to 30 s), and no call of
the worker may stall for it. The adapter awaits :meth:`Runtime.written` before it lets a call's
connection go, so a record is stored when its call is over. A process per call writes in place.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from routecore.adapter.config import AdapterConfig
from routecore.adapter.media import MediaFiles

if TYPE_CHECKING:  # a process per call imports no asyncio (~50 ms) nor thread pool
    from concurrent.futures import Future, ThreadPoolExecutor

    from routecore.state import StateStore

__all__ = ["Runtime", "open_state"]

log = logging.getLogger("routecore.adapter")


def open_state(path: str) -> StateStore:
    """The shared state at ``path``: a state file (made with the default sizes when there is
    none yet) or a Redis URL (``redis://…``, ``rediss://…``, ``unix://…``), as
    :func:`routecore.state.open_state` opens it."""
    from routecore.state import open_state as open_store

    return open_store(path)


class Runtime:
    """One process's shared pieces (see the module). ``close`` releases them."""

    def __init__(self, config: AdapterConfig, *, open_store: bool = True) -> None:
        from routecore.state.live import LiveImage

        self.config = config
        self.state = open_state(config.state)
        self.image = LiveImage(config.image, self.state)
        self.media = MediaFiles(config.prompts, config.recordings)
        self.dial = config.dial
        self._calls: Any = None
        self._lock = threading.Lock()  # the store is opened once, by whichever thread first
        self._writer: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()
        if open_store:
            self.calls  # noqa: B018 - a server finds an unusable call store at its start

    @property
    def calls(self) -> Any:
        """The call store (None: records are not kept), opened at its first use: a process per
        call opens it when the call ends, after its first command went out."""
        with self._lock:
            if self._calls is None and self.config.calls is not None:
                from routecore.store.calls import CallStore

                self._calls = CallStore(self.config.calls, threads=True)
            return self._calls

    # -- what a CallSession hands over (its ``records`` and ``notifier``) ------------------------

    def add(self, record: Any) -> None:
        """Keep a call's record."""
        self._write("record", lambda store: store.add(record))

    def send(self, sms: Any) -> None:
        """Queue a post-call SMS in the store's outbox."""
        self._write("sms", lambda store: store.send(sms))

    @property
    def journal(self) -> Any:
        """Where a CallDriver journals its call (None when no records are kept)."""
        return None if self.config.calls is None else self._journal

    def _journal(self, entry: Any) -> None:
        self._write("journal", lambda store: store.journal(entry))

    def _write(self, what: str, write: Any) -> None:
        if self.config.calls is None:
            return
        if self._writer is None:
            write(self.calls)
            return
        future = self._writer.submit(self._write_logged, what, write)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _write_logged(self, what: str, write: Any) -> None:
        try:
            write(self.calls)
        except Exception:  # a record that cannot be stored is logged, never lost silently
            log.exception("the call store refused a %s", what)

    def start_writer(self) -> None:
        """Write records and SMS from a thread of their own (a server's event loop must never
        wait for SQLite)."""
        from concurrent.futures import ThreadPoolExecutor

        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="routecore-calls")

    async def written(self) -> None:
        """Until every record and SMS handed over so far is stored."""
        import asyncio

        pending = [asyncio.wrap_future(f) for f in list(self._pending)]
        if pending:
            await asyncio.wait(pending)

    def session(self) -> Any:
        """A new CallSession on the image current now, recording into the call store."""
        from routecore.engine.session import CallSession

        return CallSession(self.image.current(), self.state, records=self, notifier=self)

    def close(self) -> None:
        """Store what is still queued, then close the store."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._calls is not None:
            self._calls.close()
            self._calls = None
