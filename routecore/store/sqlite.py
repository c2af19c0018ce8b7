"""What both SQLite stores share: opening a file in WAL mode, and one write transaction.

Every failure to use the file becomes a :class:`routecore.errors.StoreError` naming it: a file
that is not an SQLite database, a database of another schema (another store's, or another
program's), a database locked by another process for longer than ``BUSY_TIMEOUT`` seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from routecore.errors import StoreError

__all__ = ["BUSY_TIMEOUT", "open_db", "store_error", "write_transaction"]

BUSY_TIMEOUT = 30.0
"""Seconds a store waits for another process's lock before giving up (StoreError)."""

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)


def store_error(path: str, what: str, exc: sqlite3.Error) -> StoreError:
    """The StoreError of an SQLite error on the store ``path`` (a ``what``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    if (code is not None and code & 0xFF in _BUSY_CODES) or "locked" in text or "busy" in text:
        return StoreError(
            f"{path}: the {what} is locked by another process (waited {BUSY_TIMEOUT:g} s)"
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StoreError(f"{path}: not a {what} ({text})")
    return StoreError(f"{path}: cannot use the {what} ({text})")


def _check_schema(
    db: sqlite3.Connection, path: str, what: str, tables: Mapping[str, Iterable[str]]
) -> None:
    """Refuse a database holding tables but none of ours, or ours without our columns."""
    present = {
        str(r[0])
        for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not str(r[0]).startswith("sqlite_") and r[0] != "routecore_schema"
    }
    if present and not present & set(tables):
        raise StoreError(f"{path}: not a {what} (it holds the tables {', '.join(sorted(present))})")
    for table, columns in tables.items():
        if table not in present:
            continue
        have = {str(r[1]) for r in db.execute(f'PRAGMA table_info("{table}")')}
        missing = sorted(set(columns) - have)
        if missing:
            raise StoreError(
                f"{path}: not a {what} of this release (table {table} has no {', '.join(missing)})"
            )


def open_db(
    path: str,
    schema: str,
    synchronous: str,
    *,
    what: str,
    tables: Mapping[str, Iterable[str]],
    threads: bool = False,
) -> sqlite3.Connection:
    """``path`` opened for many processes (WAL, ``BUSY_TIMEOUT`` s busy timeout, rows as
    ``sqlite3.Row``) with ``schema`` applied; ``synchronous`` is ``FULL`` or ``NORMAL``.

    ``what`` names the store in messages; ``tables`` maps each table of ``schema`` to the
    columns it must have. A new or empty file gets the schema; a database that holds other
    tables only, or one of these tables without its columns, is refused (StoreError), as is
    a file that is not a database or stays locked. ``threads``: the connection may be used
    from another thread than the one that opened it (one at a time: SQLite is built
    serialized here)."""
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=not threads
        )
    except sqlite3.Error as e:
        raise store_error(path, what, e) from None
    try:
        db.row_factory = sqlite3.Row
        _check_schema(db, path, what, tables)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
        db.executescript(schema)
    except sqlite3.Error as e:
        db.close()
        raise store_error(path, what, e) from None
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def write_transaction(
    db: sqlite3.Connection, path: str = "", what: str = "store"
) -> Iterator[None]:
    """One write transaction, taken at once (two writers queue rather than deadlock); a lock
    held by another process for longer than the busy timeout is a StoreError."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        raise store_error(path or "database", what, e) from None
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
