"""Call records (CDRs), their reports and their retention, in one SQLite file or a PostgreSQL
database (B2, B3, B5, B8, B11, B12).

``CallStore`` receives every ended call from ``CallSession`` (``records=``), keeps the post-call
SMS in an outbox for a sender service (it is a ``routecore.engine.sms.Notifier``), answers the
reports of ``routecore.store.reports`` and purges what must not be kept: recordings older than 6
months (B8) and voicemail older than its retention (B5), with the files they name.

A recording or voicemail reference is a plain file name (:func:`is_plain_reference`): checked
when a record is stored (``add`` refuses another with StoreError) and again when purging, so
a reference can never name a file outside the folder it is purged from.

On SQLite, writes are WAL-journalled with ``synchronous=NORMAL``: a crashed process loses
nothing it added, a power cut may lose the last moments before the last checkpoint (a fsync per
call would cap a host at a few hundred calls a second). Many processes (on PostgreSQL: many
hosts) may add at once. Writing the same thing twice stores it once: a record replaces its
call's (its number, start and call id), a journal row its call's, and an SMS is kept once (its
``uid``, a digest of what it is), so a batch sent again after a lost answer duplicates nothing.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routecore.engine import CallRecord
from routecore.engine.sms import Sms
from routecore.errors import StoreError
from routecore.rules import DEFAULT_TZ, SAFE_NAME_MAX, is_safe_name
from routecore.store import browse
from routecore.store.browse import CallQuery
from routecore.store.db import open_database
from routecore.store.journal import INSERT as JOURNAL_INSERT
from routecore.store.journal import OpenCall, check_entry

__all__ = [
    "AUDIO_EXTENSIONS",
    "REFERENCE_MAX",
    "CallStore",
    "Purged",
    "Rows",
    "is_plain_reference",
    "months_before",
    "zone",
]

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (
    "wav", "WAV", "mp3", "gsm", "ogg", "opus", "sln", "sln16", "ulaw", "alaw", "g722", "g729",
)  # fmt: skip
"""The extensions a PBX adapter writes a recording or message with: purge deletes ``ref`` and
``ref.EXT`` for these only (``rec-1`` never matches ``rec-1.2.wav``, another call's file)."""

REFERENCE_MAX = SAFE_NAME_MAX
"""Characters a recording or voicemail reference may have."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    did              TEXT    NOT NULL,
    start            REAL    NOT NULL,
    call_id          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    caller           TEXT    NOT NULL,
    callee           TEXT,
    caller_kind      TEXT    NOT NULL,
    caller_area      TEXT,
    answer           REAL,
    "end"            REAL,
    branches         TEXT    NOT NULL,
    tried            TEXT    NOT NULL,
    answered_by      TEXT,
    talk_seconds     INTEGER NOT NULL,
    recorded         INTEGER NOT NULL,
    recording        TEXT,
    voicemail        TEXT,
    survey           INTEGER,
    outcome          TEXT    NOT NULL,
    recording_purged REAL,
    voicemail_purged REAL,
    caller_number    TEXT,
    busy             TEXT    NOT NULL DEFAULT '[]',
    answered_unlisted INTEGER NOT NULL DEFAULT 0,
    recovered        TEXT,
    transfers        TEXT    NOT NULL DEFAULT '[]',
    talked_with      TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (did, start, call_id)
);
CREATE INDEX IF NOT EXISTS calls_start ON calls (start);
CREATE INDEX IF NOT EXISTS calls_call ON calls (call_id);
CREATE INDEX IF NOT EXISTS calls_caller ON calls (did, caller, start);
CREATE TABLE IF NOT EXISTS open_calls (
    call_id   TEXT    PRIMARY KEY,
    channel   TEXT    NOT NULL,
    protocol  TEXT    NOT NULL,
    host      TEXT    NOT NULL,
    pid       INTEGER NOT NULL,
    pid_start INTEGER,
    record    TEXT    NOT NULL,
    claimed   TEXT    NOT NULL,
    answered_by TEXT,
    answer    REAL,
    updated   REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS sms_outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,
    did       TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text      TEXT NOT NULL,
    call_id   TEXT NOT NULL,
    at        REAL NOT NULL,
    sent      REAL,
    not_before REAL,
    uid       TEXT
);
"""
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS sms_outbox_uid ON sms_outbox (uid);
"""
SCHEMA_VERSION = 2
"""The call store's schema version (``routecore_schema``; 2: the outbox's ``uid``)."""

# Columns added after the first release: a call store made before gets them when opened.
ADDED_COLUMNS = {
    "caller_number": "TEXT",
    "busy": "TEXT NOT NULL DEFAULT '[]'",
    "answered_unlisted": "INTEGER NOT NULL DEFAULT 0",
    "recovered": "TEXT",
    "transfers": "TEXT NOT NULL DEFAULT '[]'",
    "talked_with": "TEXT NOT NULL DEFAULT '[]'",
}
ADDED_OUTBOX_COLUMNS = {"not_before": "REAL", "uid": "TEXT"}
# The columns a call store has had since its first release (a database without them is refused).
TABLES = {
    "calls": (
        "did", "start", "call_id", "kind", "caller", "callee", "caller_kind", "caller_area",
        "answer", "end", "branches", "tried", "answered_by", "talk_seconds", "recorded",
        "recording", "voicemail", "survey", "outcome", "recording_purged", "voicemail_purged",
    ),
    "sms_outbox": ("id", "kind", "did", "to_number", "text", "call_id", "at", "sent"),
}  # fmt: skip
_LISTS = browse.LIST_COLUMNS
_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))
_COLUMNS = ", ".join(f'"{n}"' for n in _RECORD_FIELDS)
_KEY = ("did", "start", "call_id")
_INSERT = (
    f"INSERT INTO calls ({_COLUMNS}) VALUES ({', '.join('?' for _ in _RECORD_FIELDS)})"
    f" ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f'"{n}" = excluded."{n}"' for n in _RECORD_FIELDS if n not in _KEY)
)
_SMS_INSERT = (
    "INSERT INTO sms_outbox (kind, did, to_number, text, call_id, at, not_before, uid)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING"
)
_PERIOD = "start >= :since AND start < :until"


def _range(did: str | None) -> str:
    """The condition of one number's calls of a period (read through the (number, start) key:
    a platform's statements never walk every number's month), or of every number's."""
    return _PERIOD if did is None else f"did = :did AND {_PERIOD}"


FOREVER = 2.0**62

Row = dict[str, Any]


class Rows(list[Row]):
    """Result rows (dicts) that also know their ``columns``, so an empty report still has its
    header."""

    def __init__(self, rows: Iterable[Row] = (), columns: Iterable[str] = ()) -> None:
        super().__init__(rows)
        self.columns: list[str] = list(columns)


@dataclass(frozen=True)
class Purged:
    """One recording or voicemail the purge removed: ``kind`` ``recording`` or ``voicemail``,
    the call it belonged to, its reference and the files deleted for it."""

    kind: str
    did: str
    call_id: str
    start: float
    reference: str
    files: tuple[str, ...]


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; StoreError for a name that is not one (or not a safe one)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise StoreError(f"unknown time zone {tz!r} (an IANA name: {DEFAULT_TZ})") from None


def months_before(at: float, months: int, tz: str = DEFAULT_TZ) -> float:
    """The instant ``months`` calendar months before ``at`` in zone ``tz`` (the 31st of a month
    becomes the last day of a shorter one). Before year 1 it is ``-inf`` (nothing is that
    old), after year 9999 ``+inf``; an ``at`` after year 9999 is a StoreError."""
    where = zone(tz)
    try:
        local = datetime.fromtimestamp(at, where)
    except (OverflowError, ValueError, OSError):
        if at < 0:  # the first hours of year 1 (local) fall before it in UTC
            return -math.inf
        raise StoreError(f"the time {at!r} is out of range") from None
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    if year < 1:
        return -math.inf
    if year > 9999:
        return math.inf
    month += 1
    for day in (local.day, 30, 29, 28):
        try:
            return local.replace(year=year, month=month, day=day).timestamp()
        except ValueError:
            continue
        except OverflowError:  # pragma: no cover - the first or last hours of the calendar
            return -math.inf if year == 1 else math.inf
    raise AssertionError("unreachable: every month has 28 days")


def is_plain_reference(reference: object) -> bool:
    """Whether ``reference`` is a plain file name a recording or voicemail may have: the
    engine's safe names (``routecore.rules.is_safe_name``: 1-128 characters of ``A-Z a-z 0-9
    _ . -`` and Chinese characters, starting with a letter, digit, ``_`` or Chinese character,
    without ``..``), so every reference a CallSession records is one. No ``/``, NUL, glob
    character, hidden name, ``.`` or ``..`` (checked here again: purge relies on it)."""
    return (
        is_safe_name(reference)
        and isinstance(reference, str)
        and os.sep not in reference
        and "\0" not in reference
        and reference not in (".", "..")
    )


def _check_record(record: CallRecord) -> None:
    for kind in ("recording", "voicemail"):
        ref = getattr(record, kind)
        if ref is not None and not is_plain_reference(ref):
            raise StoreError(
                f"call {record.call_id!r}: {kind} reference {ref!r} is not a plain file name "
                f"(1-{REFERENCE_MAX} of A-Z a-z 0-9 _ . - and Chinese characters, no '..')"
            )
    for name in ("start", "answer", "end"):
        value = getattr(record, name)
        if value is None and name != "start":
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise StoreError(f"call {record.call_id!r}: {name} {value!r} is not a time")


def _row(record: CallRecord) -> tuple[Any, ...]:
    """The record's columns: its fields in order, the lists as JSON (no deep copy: a record is
    written once per call, on the adapters' hot path)."""
    return tuple(
        json.dumps(value, ensure_ascii=False) if name in _LISTS else value
        for name, value in ((name, getattr(record, name)) for name in _RECORD_FIELDS)
    )


def _sms_row(sms: Sms) -> tuple[Any, ...]:
    row = (sms.kind, sms.did, sms.to, sms.text, sms.call_id, sms.at, sms.not_before)
    return (*row, hashlib.blake2b(repr(row).encode(), digest_size=16).hexdigest())


class CallStore:
    """Call records, the SMS outbox, reports and purging in the SQLite file or PostgreSQL
    database ``location`` (``postgresql://…``)."""

    def __init__(self, location: str | os.PathLike[str], *, threads: bool = False) -> None:
        """``threads``: the store may be used from another thread than the one that opened it
        (one at a time), as an adapter's writer thread does. A store of an earlier release is
        brought up to date (new columns, with defaults); one of a newer release is refused."""
        self._db = open_database(
            os.fspath(location),
            SCHEMA,
            synchronous="NORMAL",
            what="call store",
            tables=TABLES,
            threads=threads,
        )
        self.path = self._db.location
        try:
            added = {"calls": ADDED_COLUMNS, "sms_outbox": ADDED_OUTBOX_COLUMNS}
            self._db.migrate("calls", SCHEMA_VERSION, added, INDEXES)
        except BaseException:
            self._db.close()
            raise

    @property
    def db(self) -> Any:
        """The store's database (``routecore.store.db.Database``), for the stores beside it."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CallStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def add(self, record: CallRecord) -> None:
        """Store one ended call (the same call id and start again replaces it). A recording or
        voicemail reference that is not a plain file name (:func:`is_plain_reference`), or a
        time that is not a finite number, is refused with StoreError."""
        self.add_many([record])

    def add_many(self, records: Iterable[CallRecord]) -> None:
        """Store many ended calls in one transaction (all or, when one is refused, none)."""
        self.write(records=records)

    def write(
        self,
        *,
        journal: Iterable[OpenCall] = (),
        records: Iterable[CallRecord] = (),
        sms: Iterable[Sms] = (),
    ) -> None:
        """Journal rows, then ended calls (each replacing its call's journal row) and outbox
        SMS, in one transaction: all or, when one is refused, none (an adapter's writer thread
        stores what its calls handed over meanwhile at once)."""
        records, entries, messages = list(records), list(journal), list(sms)
        for record in records:
            _check_record(record)
        for entry in entries:
            check_entry(entry)
        rows = [_row(r) for r in records]
        with self._db.transaction():
            if entries:
                self._db.executemany(JOURNAL_INSERT, [e.row() for e in entries])
            if rows:
                self._db.executemany(_INSERT, rows)
                # a call's journal row goes in the same transaction: never both, never none
                self._db.executemany(
                    "DELETE FROM open_calls WHERE call_id = ?", [(r.call_id,) for r in records]
                )
            if messages:
                self._db.executemany(_SMS_INSERT, [_sms_row(m) for m in messages])

    # -- the journal of calls in progress (routecore.store.journal) ------------------------------

    def journal(self, entry: OpenCall) -> None:
        """Keep (or update) the journal row of a call in progress; :meth:`add` of its record
        removes it."""
        self.write(journal=[entry])

    def open_calls(self, host: str | None = None) -> list[OpenCall]:
        """The journal: the calls in progress (of ``host``; None: every host), oldest first.
        A row that cannot be read is logged and skipped."""
        rows = self._db.execute(
            "SELECT * FROM open_calls WHERE (CAST(:host AS TEXT) IS NULL OR host = :host)"
            " ORDER BY updated",
            {"host": host},
        )
        entries = []
        for row in rows:
            try:
                entries.append(OpenCall.from_row(row))
            except StoreError as e:
                log.warning("%s", e)
        return entries

    def forget(self, call_id: str) -> None:
        """Drop a journal row without a record (one that cannot be read back)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM open_calls WHERE call_id = ?", (call_id,))

    def send(self, sms: Sms) -> None:
        """Keep ``sms`` in the outbox (a ``Notifier``): a sender service delivers it."""
        self._db.execute(_SMS_INSERT, _sms_row(sms))

    def pending_sms(self, limit: int = 100) -> list[Row]:
        """The oldest SMS not yet marked sent (``id``, ``kind``, ``did``, ``to_number``...)."""
        rows = self._db.execute(
            "SELECT * FROM sms_outbox WHERE sent IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [dict(r) for r in rows]

    def mark_sent(self, ids: Iterable[int], at: float) -> None:
        """Mark outbox rows delivered at ``at``."""
        with self._db.transaction():
            self._db.executemany(
                "UPDATE sms_outbox SET sent = ? WHERE id = ?", [(at, i) for i in ids]
            )

    # -- reading ------------------------------------------------------------------------------

    def _select(self, sql: str, did: str | None, since: float | None, until: float | None) -> Rows:
        args = {"did": did, "since": since or 0.0, "until": FOREVER if until is None else until}
        cursor = self._db.execute(sql, args)
        return Rows((dict(r) for r in cursor), (d[0] for d in cursor.description))

    def calls(
        self, did: str | None = None, since: float | None = None, until: float | None = None
    ) -> Rows:
        """Every call of ``did`` (None: all numbers) started in ``[since, until)``, in order;
        ``branches``, ``tried``, ``busy``, ``transfers`` and ``talked_with`` as lists."""
        rows = self._select(
            f"SELECT {_COLUMNS}, recording_purged, voicemail_purged FROM calls"
            f" WHERE {_range(did)} ORDER BY start, call_id",
            did, since, until,
        )  # fmt: skip
        for r in rows:
            for name in _LISTS:
                r[name] = json.loads(r[name])
            r["recorded"] = bool(r["recorded"])
            r["answered_unlisted"] = bool(r["answered_unlisted"])
        return rows

    def branch_stats(
        self, did: str | None = None, since: float | None = None, until: float | None = None
    ) -> Rows:
        """B11: per number and branch (``menu.key``, ``extensions.NNN``), the calls that took
        it (a call taking a branch twice counts once)."""
        return self._select(
            "SELECT did, b.value AS branch, COUNT(DISTINCT call_id) AS calls"
            f" FROM calls, {self._db.each('calls.branches', 'b')}"
            f" WHERE {_range(did)} GROUP BY did, branch ORDER BY did, branch",
            did, since, until,
        )  # fmt: skip

    def survey_results(
        self, did: str | None = None, since: float | None = None, until: float | None = None
    ) -> Rows:
        """B12: per number and answering agent, the ratings of the surveyed calls."""
        return self._select(
            "SELECT did, answered_by AS agent, COUNT(*) AS surveyed,"
            " COUNT(*) FILTER (WHERE survey = 1) AS very_satisfied,"
            " COUNT(*) FILTER (WHERE survey = 2) AS satisfied,"
            " COUNT(*) FILTER (WHERE survey = 3) AS average,"
            " COUNT(*) FILTER (WHERE survey = 4) AS dissatisfied,"
            " ROUND(AVG(survey), 2) AS mean_rating"
            f" FROM calls WHERE survey IS NOT NULL AND {_range(did)}"
            " GROUP BY did, answered_by ORDER BY did, answered_by",
            did, since, until,
        )  # fmt: skip

    def recordings(
        self, did: str | None = None, since: float | None = None, until: float | None = None
    ) -> Rows:
        """B8: the recordings still kept, per call (not yet purged)."""
        return self._select(
            "SELECT did, call_id, start, caller, answered_by, talk_seconds, recording"
            " FROM calls WHERE recording IS NOT NULL AND recording_purged IS NULL"
            f" AND {_range(did)}"
            " ORDER BY did, start, call_id",
            did, since, until,
        )  # fmt: skip

    def voicemails(
        self, did: str | None = None, since: float | None = None, until: float | None = None
    ) -> Rows:
        """B5: the voicemail messages still kept, per call (not yet purged)."""
        return self._select(
            'SELECT did, call_id, start, caller, "end", voicemail'
            " FROM calls WHERE voicemail IS NOT NULL AND voicemail_purged IS NULL"
            f" AND {_range(did)}"
            " ORDER BY did, start, call_id",
            did, since, until,
        )  # fmt: skip

    # -- browsing (routecore.store.browse) ----------------------------------------------------

    def page(
        self, query: CallQuery, *, after: tuple[float, str] | None = None, limit: int = 50
    ) -> tuple[list[Row], tuple[float, str] | None]:
        """Calls of ``query`` newest first, a page at a time: the rows and the key to pass as
        ``after`` for the next page (None: no more)."""
        return browse.page(self._db, query, after, limit)

    def stream(self, query: CallQuery) -> Iterator[Row]:
        """Every call of ``query`` oldest first, in constant memory (for exports)."""
        return browse.stream(self._db, query)

    def stream_raw(
        self, query: CallQuery, columns: tuple[str, ...], batch: int = 2000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """``columns`` of every call of ``query`` oldest first, a batch of tuples at a time,
        undecoded (exports' fast path; see ``routecore.store.browse.stream_raw``)."""
        return browse.stream_raw(self._db, query, columns, batch)

    def rang(
        self, dids: list[str], phone: str | list[str], since: float, limit: int = 100
    ) -> list[Row]:
        """Calls of ``dids`` since ``since`` that reached for ``phone`` (or any phone of a
        list: a seat's groups) and nobody answered, newest first (a seat's missed calls)."""
        return browse.rang(self._db, dids, phone, since, limit)

    def per_hour(self, did: str, since: float) -> tuple[list[int], list[int]]:
        """Calls and answered calls of ``did`` in each of the 24 hours from ``since``."""
        return browse.per_hour(self._db, did, since)

    def call(self, did: str, call_id: str) -> Row | None:
        """The record of call ``call_id`` of ``did`` (None: no such call of that number)."""
        found = self._db.execute(
            f"SELECT {_COLUMNS}, recording_purged, voicemail_purged FROM calls"
            " WHERE did = ? AND call_id = ? ORDER BY start DESC LIMIT 1",
            (did, call_id),
        ).fetchone()
        if found is None:
            return None
        row = dict(found)
        for name in _LISTS:
            row[name] = json.loads(row[name])
        return row

    # -- retention ----------------------------------------------------------------------------

    def purge(
        self,
        now: float,
        *,
        recordings_dir: str | os.PathLike[str] | None = None,
        voicemail_dir: str | os.PathLike[str] | None = None,
        recording_months: int = 6,
        voicemail_days: int = 30,
        tz: str = DEFAULT_TZ,
        dry_run: bool = False,
    ) -> list[Purged]:
        """Remove recordings of calls started more than ``recording_months`` calendar months
        before ``now`` (B8) and voicemail older than ``voicemail_days`` days (B5), mark them
        purged, and return what was removed (what would be, with ``dry_run``).

        Only the kinds whose folder is given are purged: without ``recordings_dir`` no
        recording is deleted *nor marked* (a later run with the folder still removes them),
        likewise voicemail. A folder that is not a directory is a StoreError. The files of a
        reference ``ref`` are exactly ``ref`` and ``ref.EXT`` for EXT in
        :data:`AUDIO_EXTENSIONS`, directly in the folder, regular files only: nothing is
        globbed, no symlink is followed or deleted, and never a file that is also the file of
        a call still within retention (compared without case). A stored
        reference that is not a plain file name (a record from before the check) is skipped
        with a warning: nothing deleted, nothing marked."""
        if recording_months < 0 or voicemail_days < 0:
            raise StoreError("purge: retention periods cannot be negative")
        out: list[Purged] = []
        if recordings_dir is not None:
            cutoff = months_before(now, recording_months, tz)
            out += self._purge_in("recording", recordings_dir, cutoff, now, dry_run)
        if voicemail_dir is not None:
            try:
                cutoff = now - voicemail_days * 86400.0
            except OverflowError:  # more days than a float holds: nothing is that old
                cutoff = -math.inf
            out += self._purge_in("voicemail", voicemail_dir, cutoff, now, dry_run)
        return out

    def _purge_in(
        self,
        kind: str,
        directory: str | os.PathLike[str],
        cutoff: float,
        now: float,
        dry_run: bool,
    ) -> list[Purged]:
        folder = os.fspath(directory)
        try:
            dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise StoreError(f"purge: {folder}: not a directory ({e.strerror})") from None
        try:
            return self._purge_files(kind, folder, dfd, cutoff, now, dry_run)
        finally:
            os.close(dfd)

    def _kept_references(self, kind: str, cutoff: float) -> frozenset[str]:
        """The references (casefolded) of the calls whose files are still within retention:
        purge never deletes a file of theirs, whoever else's reference it also matches (a
        recent ``rec-1.wav`` beside an old ``rec-1``, a reference a PBX reused)."""
        rows = self._db.execute(
            f"SELECT {kind} FROM calls WHERE {kind} IS NOT NULL AND {kind}_purged IS NULL"
            " AND start >= ?",
            (cutoff,),
        )
        return frozenset(str(r[0]).casefold() for r in rows)

    def _purge_files(
        self, kind: str, folder: str, dfd: int, cutoff: float, now: float, dry_run: bool
    ) -> list[Purged]:
        rows = self._db.execute(
            f"SELECT did, call_id, start, {kind} AS ref FROM calls"
            f" WHERE {kind} IS NOT NULL AND {kind}_purged IS NULL AND start < ?"
            " ORDER BY start",
            (cutoff,),
        ).fetchall()
        out: list[Purged] = []
        kept = self._kept_references(kind, cutoff) if rows else frozenset()
        for r in rows:
            ref = r["ref"]
            if not is_plain_reference(ref):
                log.warning(
                    "purge: skipped %s %r of %s call %s: not a plain file name",
                    kind, ref, r["did"], r["call_id"],
                )  # fmt: skip
                continue
            names = [n for n in _files(dfd, ref) if not _belongs_to(n, kept)]
            if not dry_run:
                for name in names:
                    try:
                        os.unlink(name, dir_fd=dfd)
                    except FileNotFoundError:
                        pass
                self._db.execute(
                    f"UPDATE calls SET {kind}_purged = ?"
                    " WHERE did = ? AND start = ? AND call_id = ?",
                    (now, r["did"], r["start"], r["call_id"]),
                )
            files = tuple(os.path.join(folder, n) for n in names)
            out.append(Purged(kind, r["did"], r["call_id"], r["start"], ref, files))
        return out


def _belongs_to(name: str, references: frozenset[str]) -> bool:
    """Whether file ``name`` is one of the files of a reference in ``references`` (casefolded:
    a case-insensitive folder must not let an old ``REC-1`` take a recent ``rec-1.wav``)."""
    folded = name.casefold()
    if folded in references:
        return True
    stem, dot, ext = name.rpartition(".")
    return bool(dot) and ext in AUDIO_EXTENSIONS and stem.casefold() in references


def _files(dfd: int, reference: str) -> list[str]:
    """The names of ``reference``'s files in the folder open as ``dfd``: ``reference`` itself
    and ``reference.EXT`` (EXT in AUDIO_EXTENSIONS) that are regular files, not symlinks."""
    found = []
    for name in (reference, *(f"{reference}.{ext}" for ext in AUDIO_EXTENSIONS)):
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:  # a name too long for the file system is no file of it
            if e.errno == errno.ENAMETOOLONG:
                continue
            raise
        if stat.S_ISREG(st.st_mode):
            found.append(name)
    return found
