"""What became of each SMS of the call store's outbox: delivery state, attempts and the
provider's answers, beside the outbox in the same store (an SQLite file or a PostgreSQL
database) (B2, B3).

A message goes ``queued`` → ``sending`` (written before the request leaves: a crash in between
leaves it *in doubt*) → ``sent`` (the provider took it; its message ids kept) → ``delivered``
or ``failed`` (a delivery receipt, or a permanent refusal with the provider's code). A
temporary refusal (throttling, a provider that is down) puts it back to ``queued`` with the
time of its next try, until :data:`MAX_ATTEMPTS`. Every attempt is a row of ``sms_attempts``.

Opt-outs: a phone that answered ``T`` or ``TD`` (退订) to a 400 number's message is on that
number's opt-out list (``sms_optout``) and gets none of its messages again, service messages
included (the sender checks before each one).

Exactly once toward the phone, as far as the provider allows: a message in doubt after a crash
is never sent again by a restart unless its provider can tell that it was not sent
(:meth:`Deliveries.in_doubt`; SMPP cannot, so it becomes ``failed`` with the code
``in_doubt``: at most once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from routecore.store.db import Database, open_database

__all__ = ["MAX_ATTEMPTS", "STATES", "Deliveries"]

STATES = ("queued", "sending", "sent", "delivered", "failed")
MAX_ATTEMPTS = 6
"""Tries of one message before a temporary failure becomes its final one."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS sms_delivery (
    sms_id      INTEGER PRIMARY KEY,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try    REAL,
    provider    TEXT,
    message_ids TEXT    NOT NULL DEFAULT '',
    receipts    INTEGER NOT NULL DEFAULT 0,
    code        TEXT,
    detail      TEXT,
    updated     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_delivery_state ON sms_delivery (state, next_try);
CREATE INDEX IF NOT EXISTS sms_outbox_unsent ON sms_outbox (id) WHERE sent IS NULL;
CREATE TABLE IF NOT EXISTS sms_attempts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sms_id   INTEGER NOT NULL,
    at       REAL    NOT NULL,
    outcome  TEXT    NOT NULL,
    code     TEXT,
    detail   TEXT
);
CREATE INDEX IF NOT EXISTS sms_attempts_sms ON sms_attempts (sms_id);
CREATE TABLE IF NOT EXISTS sms_message_ids (
    message_id TEXT PRIMARY KEY,
    sms_id     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sms_optout (
    did     TEXT NOT NULL,
    number  TEXT NOT NULL,
    at      REAL NOT NULL,
    source  TEXT NOT NULL,
    PRIMARY KEY (did, number)
);
"""
FRESH = (
    "SELECT o.*, 0 AS attempts FROM {outbox}"
    " WHERE o.sent IS NULL AND (o.not_before IS NULL OR o.not_before <= ?)"
    " AND NOT EXISTS (SELECT 1 FROM sms_delivery d WHERE d.sms_id = o.id)"
    " ORDER BY o.id LIMIT ?"
)
"""Outbox messages never tried (the unsent rows' index, not the whole outbox)."""
AGAIN = (
    "SELECT o.*, d.attempts AS attempts FROM sms_delivery d"
    " JOIN sms_outbox o ON o.id = d.sms_id"
    " WHERE d.state = 'queued' AND d.next_try <= ?"
    " AND (o.not_before IS NULL OR o.not_before <= ?) ORDER BY o.id LIMIT ?"
)
"""Messages queued again for a time that has come (the deliveries' state index)."""
TABLES = {
    "sms_outbox": ("id", "kind", "did", "to_number", "text", "call_id", "at", "sent"),
    "sms_delivery": ("sms_id", "state", "attempts", "next_try", "message_ids", "updated"),
    "sms_attempts": ("id", "sms_id", "at", "outcome", "code", "detail"),
}


class Deliveries:
    """The delivery state of the outbox of the call store at ``path`` (opened by
    ``CallStore`` first, so the outbox is there)."""

    def __init__(self, path: str) -> None:
        self._db: Database = open_database(
            str(path), SCHEMA, synchronous="FULL", what="call store", tables=TABLES, threads=True
        )
        self.path = self._db.location
        self._fresh = FRESH.format(outbox=self._db.indexed("sms_outbox o", "sms_outbox_unsent"))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Deliveries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        """Outbox messages to try now, oldest first: never tried, or queued again for a time
        that has come. Each half reads an index (the unsent outbox rows; the queued
        deliveries by time), never the whole outbox, however long it grows."""
        fresh = self._db.execute(self._fresh, (now, limit))
        again = self._db.execute(AGAIN, (now, now, limit))
        rows = sorted([dict(r) for r in fresh] + [dict(r) for r in again], key=lambda r: r["id"])
        return rows[:limit]

    def _set(self, sms_id: int, state: str, now: float, **fields: Any) -> None:
        names = ["state", "updated", *fields]
        values = [state, now, *fields.values()]
        self._db.execute(
            f"INSERT INTO sms_delivery (sms_id, {', '.join(names)})"
            f" VALUES (?, {', '.join('?' for _ in names)})"
            f" ON CONFLICT (sms_id) DO UPDATE SET"
            f" {', '.join(f'{n} = excluded.{n}' for n in names)}",
            (sms_id, *values),
        )

    def _attempt(
        self, sms_id: int, now: float, outcome: str, code: str = "", detail: str = ""
    ) -> None:
        self._db.execute(
            "INSERT INTO sms_attempts (sms_id, at, outcome, code, detail) VALUES (?, ?, ?, ?, ?)",
            (sms_id, now, outcome, code or None, detail[:500] or None),
        )

    def begin(self, sms_id: int, provider: str, now: float) -> int:
        """Mark a message as being sent, committed before the request leaves; its attempt
        number (1 for the first)."""
        with self._db.transaction():
            found = self._db.execute(
                "SELECT attempts FROM sms_delivery WHERE sms_id = ?", (sms_id,)
            ).fetchone()
            attempt = (found["attempts"] if found else 0) + 1
            self._set(sms_id, "sending", now, attempts=attempt, provider=provider)
        return int(attempt)

    def sent(self, sms_id: int, message_ids: Iterable[str], now: float) -> None:
        """The provider took the message (its ids, one per part of a long message)."""
        ids = [str(i) for i in message_ids]
        with self._db.transaction():
            self._set(sms_id, "sent", now, message_ids=",".join(ids), code=None, detail=None)
            self._db.executemany(
                "INSERT INTO sms_message_ids (message_id, sms_id) VALUES (?, ?)"
                " ON CONFLICT (message_id) DO UPDATE SET sms_id = excluded.sms_id",
                [(i, sms_id) for i in ids],
            )
            self._db.execute("UPDATE sms_outbox SET sent = ? WHERE id = ?", (now, sms_id))
            self._attempt(sms_id, now, "sent", detail=",".join(ids))

    def postpone(self, sms_id: int, until: float, why: str, now: float) -> None:
        """Hold a message back until ``until`` without counting an attempt (a marketing
        message in the recipient's quiet hours)."""
        with self._db.transaction():
            found = self._db.execute(
                "SELECT attempts FROM sms_delivery WHERE sms_id = ?", (sms_id,)
            ).fetchone()
            attempts = int(found["attempts"]) if found else 0
            self._set(sms_id, "queued", now, attempts=attempts, next_try=until, code="later",
                      detail=why)  # fmt: skip

    def campaign(self, name: str) -> dict[str, int]:
        """A campaign's messages by state (``call_id`` names the campaign)."""
        out = dict.fromkeys(STATES, 0)
        rows = self._db.execute(
            "SELECT coalesce(d.state, 'queued') AS state, count(*) AS n FROM sms_outbox o"
            " LEFT JOIN sms_delivery d ON d.sms_id = o.id WHERE o.call_id = ? GROUP BY 1",
            (name,),
        )
        for r in rows:
            out[str(r["state"])] = int(r["n"])
        return out

    def messages(
        self, *, did: str | None = None, name: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Outbox messages with their delivery state, newest first: of the 400 number ``did``
        or of the campaign (or call) ``name``."""
        rows = self._db.execute(
            "SELECT o.id, o.kind, o.did, o.to_number, o.text, o.call_id, o.at, o.not_before,"
            " coalesce(d.state, 'queued') AS state, coalesce(d.attempts, 0) AS attempts,"
            " d.code, d.detail, d.updated FROM sms_outbox o"
            " LEFT JOIN sms_delivery d ON d.sms_id = o.id"
            " WHERE (CAST(:did AS TEXT) IS NULL OR o.did = :did)"
            " AND (CAST(:name AS TEXT) IS NULL OR o.call_id = :name)"
            " ORDER BY o.id DESC LIMIT :limit OFFSET :offset",
            {"did": did, "name": name, "limit": limit, "offset": offset},
        )
        return [dict(r) for r in rows]

    def failed(self, sms_id: int, code: str, detail: str, now: float) -> None:
        """A final failure with the provider's code."""
        with self._db.transaction():
            self._set(sms_id, "failed", now, code=code, detail=detail[:500])
            self._attempt(sms_id, now, "failed", code, detail)

    def retry(self, sms_id: int, code: str, detail: str, now: float, next_try: float) -> None:
        """A temporary failure: queued again for ``next_try`` (or failed for good once the
        attempts are spent)."""
        with self._db.transaction():
            found = self._db.execute(
                "SELECT attempts FROM sms_delivery WHERE sms_id = ?", (sms_id,)
            ).fetchone()
            attempts = found["attempts"] if found else 1
            if attempts >= MAX_ATTEMPTS:
                self._set(sms_id, "failed", now, code=code, detail=detail[:500])
                self._attempt(sms_id, now, "failed", code, detail)
                return
            self._set(sms_id, "queued", now, next_try=next_try, code=code, detail=detail[:500])
            self._attempt(sms_id, now, "retry", code, detail)

    def receipt(self, message_id: str, delivered: bool, code: str, now: float) -> int | None:
        """A delivery receipt for one message id: the message is ``delivered`` once every part
        is, ``failed`` at the first part that is not; the message's id (None: not ours)."""
        with self._db.transaction():
            found = self._db.execute(
                "SELECT m.sms_id, d.message_ids, d.receipts, d.state FROM sms_message_ids m"
                " JOIN sms_delivery d ON d.sms_id = m.sms_id WHERE m.message_id = ?",
                (message_id,),
            ).fetchone()
            if found is None:
                return None
            sms_id = int(found["sms_id"])
            if found["state"] != "sent":
                return sms_id  # already final
            if not delivered:
                self._set(sms_id, "failed", now, code=code, detail=f"receipt for {message_id}")
                self._attempt(sms_id, now, "undelivered", code, message_id)
                return sms_id
            parts = len([i for i in found["message_ids"].split(",") if i])
            receipts = int(found["receipts"]) + 1
            state = "delivered" if receipts >= parts else "sent"
            self._set(sms_id, state, now, receipts=receipts)
            if state == "delivered":
                self._attempt(sms_id, now, "delivered", code, message_id)
            return sms_id

    def opt_out(self, did: str, number: str, at: float, source: str) -> None:
        """Put ``number`` on ``did``'s opt-out list (``source``: what said so)."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO sms_optout (did, number, at, source) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (did, number) DO NOTHING",
                (did, number, at, source[:200]),
            )

    def opted_out(self, did: str, number: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM sms_optout WHERE did = ? AND number = ?", (did, number)
        ).fetchone()
        return found is not None

    def opted_out_numbers(self, did: str) -> set[str]:
        """Every phone on ``did``'s opt-out list."""
        rows = self._db.execute("SELECT number FROM sms_optout WHERE did = ?", (did,))
        return {str(r["number"]) for r in rows}

    def last_did(self, number: str) -> str | None:
        """The 400 number whose message last left for ``number`` (a reply answers it)."""
        found = self._db.execute(
            "SELECT o.did FROM sms_outbox o JOIN sms_delivery d ON d.sms_id = o.id"
            " WHERE o.to_number = ? AND d.state IN ('sent', 'delivered')"
            " ORDER BY o.sent DESC, o.id DESC LIMIT 1",
            (number,),
        ).fetchone()
        return None if found is None else str(found["did"])

    def in_doubt(self) -> list[int]:
        """Messages marked as being sent by a sender that did not live to record the answer."""
        rows = self._db.execute("SELECT sms_id FROM sms_delivery WHERE state = 'sending'")
        return [int(r["sms_id"]) for r in rows]

    def status(self, sms_id: int) -> dict[str, Any] | None:
        """A message's delivery row with its attempts (None: never tried)."""
        found = self._db.execute(
            "SELECT * FROM sms_delivery WHERE sms_id = ?", (sms_id,)
        ).fetchone()
        if found is None:
            return None
        out = dict(found)
        out["attempts_made"] = [
            dict(r)
            for r in self._db.execute(
                "SELECT at, outcome, code, detail FROM sms_attempts WHERE sms_id = ? ORDER BY id",
                (sms_id,),
            )
        ]
        return out

    def counts(self) -> dict[str, int]:
        """Messages by state (those never tried are ``queued``)."""
        out = dict.fromkeys(STATES, 0)
        for r in self._db.execute("SELECT state, count(*) AS n FROM sms_delivery GROUP BY state"):
            out[str(r["state"])] = int(r["n"])
        fresh = self._db.execute(
            "SELECT count(*) FROM sms_outbox o WHERE o.sent IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM sms_delivery d WHERE d.sms_id = o.id)"
        ).fetchone()[0]
        out["queued"] += int(fresh)
        return out
