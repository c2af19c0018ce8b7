"""Where an adapter's journal rows, records and SMS go: the call store, or while a PostgreSQL
call store is out of reach, the host's spool (``routecore.store.spool``), sent on when the store
is back (B2, B3).

:class:`Records` is used by one thread at a time (a server's writer thread, or a process per
call). A batch the store refuses for what it holds is tried item by item, so one bad item never
costs the others; a store that cannot be reached costs one wait (at most the connection's
timeout), then nothing: the batches wait in the spool. In a server, a thread of its own
(:class:`Sender`, with its own connection) sends the spool on, so the writer thread, which the
calls wait for, never waits for a store out of reach again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from routecore.errors import StoreUnavailable

__all__ = ["RETRY_MAX", "Records", "Sender"]

log = logging.getLogger("routecore.adapter")

RETRY_FIRST = 1.0
RETRY_MAX = 10.0
"""Seconds between tries to reach a store that was out of reach (doubling from 1 s to this)."""
SEND_BATCHES = 50
"""Spooled batches sent on in one transaction."""


class Records:
    """The call store at ``location`` (opened at first use), the spool folder ``spool`` (None:
    no spool: a SQLite store is always at hand) and ``events``, the calls' stream what the
    store took is published to (None: no stream)."""

    def __init__(self, location: str, spool: str | None, events: Any = None) -> None:
        self.location = location
        self.events = events
        self.sends = True
        """Whether :meth:`write` sends the spool on itself (False: a :class:`Sender` does)."""
        self._store: Any = None
        self._spool: Any = None
        if spool is not None:
            from routecore.store.spool import Spool

            self._spool = Spool(spool)
        self._next_try = 0.0
        self._wait = RETRY_FIRST
        self.unreachable_since: float | None = None
        """When the store was found out of reach (None: it is not)."""

    @property
    def store(self) -> Any:
        """The call store, opened now when it is not yet (StoreError when it cannot be)."""
        if self._store is None:
            from routecore.store.calls import CallStore

            self._store = CallStore(self.location, threads=True)
        return self._store

    @property
    def spooling(self) -> bool:
        """Whether batches go to a spool when the store is out of reach."""
        return self._spool is not None

    @property
    def spool_folder(self) -> str | None:
        return None if self._spool is None else str(self._spool.folder)

    def spooled(self) -> int:
        """Batches waiting in the spool."""
        return 0 if self._spool is None else len(self._spool)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    # -- writing ------------------------------------------------------------------------------

    def write(self, items: list[tuple[str, Any]]) -> None:
        """Store a batch of ``(what, item)`` (``journal``, ``record``, ``sms``) in one
        transaction, or spool it (see the module). Never raises for a store out of reach."""
        batch = _batch(items)
        if self._spool is not None and self._spool.waiting():
            self._spool.put(batch)  # behind what waits: never a journal row after its record
            if self.sends:
                self.send_on()
            return
        try:
            self._write(batch, items)
        except StoreUnavailable as e:
            if self._spool is None:
                raise
            self._unreachable(e)
            self._spool.put(batch)

    def _write(self, batch: Any, items: list[tuple[str, Any]]) -> None:
        try:
            self.store.write(journal=batch.journal, records=batch.records, sms=batch.sms)
        except StoreUnavailable:
            raise
        except Exception:
            if len(items) == 1:
                log.exception("the call store refused a %s", items[0][0])
                return
            for item in items:  # one bad item never costs the others
                self._write(_batch([item]), [item])
            return
        self._reached()
        if self.events is not None:
            self.events.publish(batch.journal, {r.call_id for r in batch.records})

    def send_on(self, now: float | None = None) -> int:
        """Send the spool's oldest batches on when a try is due (every 1-10 s while the store is
        out of reach); the batches sent. One process of the host sends at a time."""
        if self._spool is None:
            return 0
        now = time.monotonic() if now is None else now
        if now < self._next_try:
            return 0
        from routecore.store.spool import merged

        sent = 0
        with self._spool.sending() as mine:
            while mine:
                waiting = self._spool.oldest(SEND_BATCHES)
                if not waiting:
                    break
                batch = merged(b for _, b in waiting)
                try:  # refused for what it holds: item by item (as any batch), then gone
                    self._write(batch, _items(batch))
                except StoreUnavailable as e:
                    self._unreachable(e)
                    break
                self._spool.done([i for i, _ in waiting])
                sent += len(waiting)
        if sent:
            log.info("sent %d spooled batches on to the call store", sent)
        return sent

    def _unreachable(self, e: Exception) -> None:
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = now
            log.error("%s: records wait in the spool", e)
        self._next_try = now + self._wait
        self._wait = min(self._wait * 2, RETRY_MAX)

    def _reached(self) -> None:
        if self.unreachable_since is not None:
            log.warning(
                "the call store is back after %.1f s", time.monotonic() - self.unreachable_since
            )
        self.unreachable_since = None
        self._next_try = 0.0
        self._wait = RETRY_FIRST

    def due_in(self) -> float | None:
        """Seconds until the spool should be tried again (None: nothing waits)."""
        if self._spool is None or not self._spool.waiting():
            return None
        return max(0.0, self._next_try - time.monotonic())


def _batch(items: list[tuple[str, Any]]) -> Any:
    """The write of ``items``: each call's latest journal row (none for a call whose record is
    among them), the records, the SMS."""
    from routecore.store.spool import Batch

    records = [item for what, item in items if what == "record"]
    ended = {r.call_id for r in records}
    latest: dict[str, Any] = {}
    for what, item in items:
        if what == "journal" and item.call_id not in ended:
            latest[item.call_id] = item
    sms = [item for what, item in items if what == "sms"]
    return Batch(list(latest.values()), records, sms)


def _items(batch: Any) -> list[tuple[str, Any]]:
    return (
        [("journal", e) for e in batch.journal]
        + [("record", r) for r in batch.records]
        + [("sms", m) for m in batch.sms]
    )


class Sender:
    """A server's thread that sends the spool on (see the module): at its start (what a killed
    adapter of this host left), then whenever a try is due, at least every second."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="routecore-spool", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    self.records.send_on()
                except Exception:  # the spool itself failed (a full disk): said, tried again
                    log.exception("the spool cannot be sent on")
                due = self.records.due_in()
                if self._stop.wait(1.0 if due is None else min(max(due, 0.05), RETRY_MAX)):
                    return
        finally:
            self.records.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
