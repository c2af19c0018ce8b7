"""What an adapter process opens once and shares between its calls: the live routing image,
the host's shared state, the call store, the media folders and the dial templates.

A call's journal rows, its record and its post-call SMS (B2, B3) go to the call store. In a
server they are written by one thread of the worker's own (:meth:`Runtime.start_writer`), never
on the event loop: a write waits for SQLite's lock while another process writes (up to 30 s),
and no call of the worker may stall for it. The thread stores what was handed over in the last
:data:`BATCH_WAIT` s in one transaction (a call's latest journal row only), so a busy worker
commits twice a call rather than four times; a Dial's journal row (the agents it rings), a
record and its SMS are stored at once, with whatever waits beside them. The adapter awaits
:meth:`Runtime.written` before it lets a call's connection go, so a record is stored when its
call is over. A process per call writes in place.

When the call store is PostgreSQL and out of reach, what the calls hand over waits in the
host's spool and is sent on when it is back (:mod:`routecore.adapter.records`); the calls go on.

When the shared state is on Redis, what the call store took is also published to the calls'
stream (:mod:`routecore.store.call_events`): the journal of every host, for screen pop on any
host (V5).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from routecore.adapter.config import AdapterConfig
from routecore.adapter.media import MediaFiles

if TYPE_CHECKING:  # a process per call imports no asyncio (~50 ms) nor futures
    from concurrent.futures import Future

    from routecore.state import StateStore

__all__ = ["BATCH_WAIT", "Runtime", "open_state"]

log = logging.getLogger("routecore.adapter")

BATCH_WAIT = 0.1
"""Seconds the writer thread gathers what calls hand over before one transaction stores it."""
BATCH_MAX = 500
"""Most items one transaction stores."""


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
        self._records: Any = None
        self._lock = threading.Lock()  # the store is opened once, by whichever thread first
        self._writer: _Writer | None = None
        self._sender: Any = None
        self._pending: set[Future[None]] = set()
        self.events = _call_events(self.state)
        if open_store:
            self._open_store()

    @property
    def records(self) -> Any:
        """Where records go (``routecore.adapter.records.Records``; None: none are kept)."""
        with self._lock:
            if self._records is None and self.config.calls is not None:
                from routecore.adapter.records import Records
                from routecore.store.db import is_postgres

                spool = self.config.spool if is_postgres(self.config.calls) else None
                self._records = Records(self.config.calls, spool, self.events)
            return self._records

    @property
    def calls(self) -> Any:
        """The call store (None: records are not kept), opened at its first use: a process per
        call opens it when the call ends, after its first command went out. StoreError when
        it cannot be opened (StoreUnavailable: a PostgreSQL store out of reach)."""
        records = self.records
        if records is None:
            return None
        with self._lock:
            return records.store

    def _open_store(self) -> None:
        """A server finds an unusable call store at its start; one out of reach (PostgreSQL)
        is logged and routing goes on, its records spooled."""
        from routecore.errors import StoreUnavailable

        try:
            self.calls  # noqa: B018
        except StoreUnavailable as e:
            log.error("%s: routing goes on, records wait in the spool %s", e, self.config.spool)

    # -- what a CallSession hands over (its ``records`` and ``notifier``) ------------------------

    def add(self, record: Any) -> None:
        """Keep a call's record (stored at once, with the journal rows waiting beside it: the
        call's connection is let go once it is)."""
        self._write("record", record, urgent=True)

    def send(self, sms: Any) -> None:
        """Queue a post-call SMS in the store's outbox (at once: it comes with the record)."""
        self._write("sms", sms, urgent=True)

    @property
    def journal(self) -> Any:
        """Where a CallDriver journals its call (None when no records are kept)."""
        return None if self.config.calls is None else self._journal

    def _journal(self, entry: Any) -> None:
        # A Dial's row (the destinations it rings) is stored at once: until it is, a crash
        # would leave those agents to the next caller. Other rows may wait for the batch.
        self._write("journal", entry, urgent=bool(entry.claimed) and entry.answered_by is None)

    def _write(self, what: str, item: Any, *, urgent: bool = False) -> None:
        if self.config.calls is None:
            return
        if self._writer is None:
            self.records.write([(what, item)])
            return
        future = self._writer.put(what, item, urgent=urgent)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def start_writer(self) -> None:
        """Write journal rows, records and SMS from a thread of their own (a server's event
        loop must never wait for SQLite), in batches (see the module)."""
        if self._writer is None:
            self._writer = _Writer(self)
            records = self.records
            if records is not None and records.spooling:
                from routecore.adapter.records import Records, Sender

                records.sends = False  # the calls never wait for a store out of reach
                self._sender = Sender(Records(records.location, records.spool_folder, self.events))

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
            self._writer.close()
            self._writer = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._records is not None:
            self._records.close()
            self._records = None


def _call_events(state: Any) -> Any:
    """The calls' stream beside a Redis state (None for a state file)."""
    if not isinstance(getattr(type(state), "client", None), property):
        return None
    from routecore.store.call_events import CallEvents

    return CallEvents(lambda: state.client, state.prefix)  # connected when first needed


class _Writer:
    """The writer thread of a server's Runtime (see the module)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._items: deque[tuple[str, Any, Future[None]]] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._urgent = False
        self._thread = threading.Thread(target=self._run, name="routecore-calls", daemon=True)
        self._thread.start()

    def put(self, what: str, item: Any, *, urgent: bool = False) -> Future[None]:
        from concurrent.futures import Future

        future: Future[None] = Future()
        with self._ready:
            self._items.append((what, item, future))
            if urgent and not self._urgent:
                self._urgent = True
                self._ready.notify()
            elif len(self._items) == 1:
                self._ready.notify()
        return future

    def close(self) -> None:
        """Store what is queued, then end the thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        records = self._runtime.records
        while True:
            with self._ready:
                while not self._items and not self._closing:
                    self._ready.wait()
                if not self._items:
                    return
                if not (self._closing or self._urgent):  # let the calls hand over more
                    self._ready.wait(BATCH_WAIT)
                self._urgent = False
                count = min(len(self._items), BATCH_MAX)
                batch = [self._items.popleft() for _ in range(count)]
            try:
                records.write([(what, item) for what, item, _ in batch])
            except Exception:  # the store cannot even be opened: logged, the calls go on
                log.exception("the call store cannot be written")
            for _, _, future in batch:
                future.set_result(None)
