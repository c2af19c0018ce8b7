"""What an adapter could not write to its call store while the store was out of reach: a bounded
queue on the host's disk, sent on when the store is back (B2, B3).

When a PostgreSQL call store cannot be reached (:class:`routecore.errors.StoreUnavailable`), the
writer thread puts each batch (journal rows, records, SMS) here, in order, and goes on; while
anything waits here every new batch joins the queue behind it, so a call's journal row is never
written after its record. Every few seconds the writer tries to send the oldest batches on, one
transaction each, and removes them once the store has committed them. A batch sent twice (the
answer to a commit was lost, the adapter was killed in between) is stored once: records and
journal rows replace their call's, an SMS is kept once by its ``uid``.

The queue is an SQLite file (``spool.db`` in the spool folder), shared by the host's worker
processes; one of them sends at a time (an exclusive lock on ``spool.lock``), oldest first. A
restarted adapter finds what a killed one left and sends it. The file holds at most
``max_bytes`` of batches: past that a batch is refused (logged and counted as lost), never
memory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from routecore.engine.record import CallRecord
from routecore.engine.sms import Sms
from routecore.errors import StoreError
from routecore.store.journal import OpenCall
from routecore.store.sqlite import open_db, store_error

__all__ = ["DEFAULT_MAX_BYTES", "Batch", "Spool", "merged"]

log = logging.getLogger("routecore.adapter")

DEFAULT_MAX_BYTES = 1 << 30
"""The most a spool holds (1 GiB: a day of a busy host's records at ~1 kB each)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    size  INTEGER NOT NULL,
    batch TEXT    NOT NULL
);
"""
_JOURNAL = (
    "call_id", "channel", "protocol", "host", "pid", "pid_start", "record", "claimed",
    "answered_by", "answer", "updated",
)  # fmt: skip
_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))
_SMS_FIELDS = tuple(f.name for f in fields(Sms))


@dataclass
class Batch:
    """What one write to the call store holds."""

    journal: list[OpenCall]
    records: list[CallRecord]
    sms: list[Sms]

    def encode(self) -> str:
        return json.dumps(
            {
                "journal": [dict(zip(_JOURNAL, e.row(), strict=True)) for e in self.journal],
                "records": [[getattr(r, n) for n in _RECORD_FIELDS] for r in self.records],
                "sms": [[getattr(m, n) for n in _SMS_FIELDS] for m in self.sms],
            },
            ensure_ascii=False,
        )

    @classmethod
    def decode(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(
            [OpenCall.from_row(row) for row in data["journal"]],
            [CallRecord(**dict(zip(_RECORD_FIELDS, r, strict=True))) for r in data["records"]],
            [Sms(**dict(zip(_SMS_FIELDS, m, strict=True))) for m in data["sms"]],
        )


class Spool:
    """The spool folder ``folder`` of this host (see the module)."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = os.fspath(folder)
        self.max_bytes = max_bytes
        self.lost = 0
        """Batches refused since this process started (the spool was full)."""
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as e:
            raise StoreError(f"spool: cannot make the folder {self.folder} ({e.strerror})") from e
        self.path = os.path.join(self.folder, "spool.db")
        self._db = open_db(
            self.path, SCHEMA, "FULL", what="spool", tables={"spool": ("id", "size", "batch")},
            threads=True,
        )  # fmt: skip

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        """Batches waiting."""
        return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def waiting(self) -> bool:
        return self._db.execute("SELECT 1 FROM spool LIMIT 1").fetchone() is not None

    def size(self) -> int:
        """Bytes of the batches waiting."""
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM spool").fetchone()[0])

    def put(self, batch: Batch) -> bool:
        """Keep ``batch`` behind the others; False (logged, counted in ``lost``) when the spool
        is full."""
        text = batch.encode()
        size = len(text.encode())
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self.size() + size > self.max_bytes:
                    self._db.execute("ROLLBACK")
                    self.lost += 1
                    log.error(
                        "spool %s is full (%d bytes): %d records and %d SMS lost",
                        self.path, self.max_bytes, len(batch.records), len(batch.sms),
                    )  # fmt: skip
                    return False
                self._db.execute("INSERT INTO spool (size, batch) VALUES (?, ?)", (size, text))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            raise store_error(self.path, "spool", e) from None
        return True

    @contextmanager
    def sending(self) -> Iterator[bool]:
        """Whether this process may send the spool on now (one process of the host at a time;
        False while another does)."""
        with open(os.path.join(self.folder, "spool.lock"), "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def oldest(self, limit: int = 50) -> list[tuple[int, Batch]]:
        """The oldest batches with their ids (a batch that cannot be read is logged and
        dropped: it would stop the queue for good)."""
        out = []
        rows = self._db.execute("SELECT id, batch FROM spool ORDER BY id LIMIT ?", (limit,))
        for row_id, text in rows.fetchall():
            try:
                out.append((int(row_id), Batch.decode(text)))
            except (ValueError, TypeError, KeyError, StoreError) as e:
                log.error("spool %s: batch %s is unreadable, dropped (%s)", self.path, row_id, e)
                self.done([row_id])
        return out

    def done(self, ids: Iterable[int]) -> None:
        """Remove batches the store has committed."""
        self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])


def merged(batches: Iterable[Batch]) -> Batch:
    """Many batches as one write, in order (a call's latest journal row; none for a call
    whose record is among them)."""
    journal: dict[str, OpenCall] = {}
    records: list[CallRecord] = []
    sms: list[Sms] = []
    for b in batches:
        for e in b.journal:
            journal[e.call_id] = e
        for r in b.records:
            journal.pop(r.call_id, None)
            records.append(r)
        sms += b.sms
    return Batch(list(journal.values()), records, sms)
