"""What both SQLite stores share: opening a file in WAL mode, and one write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["open_db", "write_transaction"]


def open_db(path: str, schema: str, synchronous: str) -> sqlite3.Connection:
    """``path`` opened for many processes (WAL, 30 s busy timeout, rows as ``sqlite3.Row``)
    with ``schema`` applied; ``synchronous`` is ``FULL`` or ``NORMAL``."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    db.executescript(schema)
    return db


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (two writers queue rather than deadlock)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
