"""One database of a store, whichever engine holds it: an SQLite file (the embedded default) or
PostgreSQL (``postgresql://…``, :mod:`routecore.store.postgres`).

A store writes its SQL once, in SQLite's spelling with ``?`` or ``:name`` parameters; the few
things the two engines spell differently come from the database (:meth:`Database.each`,
:meth:`Database.indexed`, :meth:`Database.hour`). Every failure is a
:class:`routecore.errors.StoreError` naming the store.

Each store keeps its schema version in ``routecore_schema`` (one row per store kind): a database
made by a newer release (a higher version) is refused with a clear message, an older one is
brought up to date (columns added) when opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode

from routecore.errors import StoreError
from routecore.store.sqlite import open_db, store_error, write_transaction

__all__ = ["Database", "SqliteDatabase", "is_postgres", "open_database", "redact"]

VERSIONS = """
CREATE TABLE IF NOT EXISTS routecore_schema (
    store   TEXT    PRIMARY KEY,
    version INTEGER NOT NULL
);
"""


def is_postgres(location: object) -> bool:
    """Whether a store location names a PostgreSQL database (``postgresql://…``)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redact(location: str) -> str:
    """``location`` without its password (for messages and logs): the one in the authority is
    left out (``user@host``), a ``password=`` parameter shows ``***``."""
    if not is_postgres(location):
        return location
    location, mark, query = location.partition("?")
    if query:
        pairs = [(k, "***" if k == "password" else v) for k, v in parse_qsl(query, True)]
        query = urlencode(pairs, safe="*")
    scheme, _, rest = location.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        location = f"{scheme}://{user}@{host}" if user else f"{scheme}://{host}"
    return location + mark + query


class Database:
    """What a store asks of its database (see the module). ``location`` is the path or the
    URL without its password; ``what`` names the store in messages."""

    dialect: str = ""
    location: str
    what: str

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement; the cursor's rows are read by index and by column name."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def stream(
        self, sql: str, params: Mapping[str, Any], batch: int, *, tuples: bool = False
    ) -> Iterator[list[Any]]:
        """The rows of a query ``batch`` at a time, never the whole result in memory (plain
        tuples with ``tuples``)."""
        raise NotImplementedError

    def transaction(self, *, serial: bool = False) -> AbstractContextManager[None]:
        """One write transaction: all or nothing. ``serial``: writers of this store (on every
        host) take turns, as the review workflow needs; SQLite's writers always do."""
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        """The columns ``table`` has (empty: no such table)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- what the two engines spell differently -------------------------------------------------

    def each(self, expr: str, alias: str) -> str:
        """A table of the items (column ``value``) of the JSON list in ``expr``, as ``alias``."""
        return f"json_each({expr}) AS {alias}"

    def indexed(self, table: str, index: str) -> str:
        """``table`` read through ``index`` where the engine takes such a hint."""
        return f"{table} INDEXED BY {index}"

    def hour(self, expr: str) -> str:
        """The whole hours in the seconds ``expr`` (rounded down, as an integer)."""
        return f"CAST(({expr}) / 3600 AS INTEGER)"

    # -- schema -------------------------------------------------------------------------------

    def migrate(
        self,
        store: str,
        version: int,
        added: Mapping[str, Mapping[str, str]],
        indexes: str = "",
    ) -> None:
        """Bring the tables of ``store`` (made by its schema) to ``version``: add the columns of
        ``added`` (table → column → declaration) a database of an older release lacks, then
        make ``indexes`` (which may need them); refuse a database a newer release made. A
        store already at ``version`` is only read (no write transaction at each open)."""
        try:
            found = self.execute(
                "SELECT version FROM routecore_schema WHERE store = ?", (store,)
            ).fetchone()
        except (StoreError, sqlite3.Error):  # no version table yet
            found = None
        if found is not None and int(found[0]) == version:
            return
        with self.transaction(serial=True):
            self.execute(VERSIONS if self.dialect == "sqlite" else _pg_ddl(VERSIONS))
            row = self.execute(
                "SELECT version FROM routecore_schema WHERE store = ?", (store,)
            ).fetchone()
            if row is not None and int(row[0]) > version:
                raise StoreError(
                    f"{self.location}: the {self.what} has schema version {int(row[0])}, made "
                    f"by a newer routecore (this release knows {version}): upgrade routecore"
                )
            for table, columns in added.items():
                have = self.columns(table)
                for name, decl in columns.items():
                    if have and name not in have:
                        ddl = f"ALTER TABLE {table} ADD COLUMN {name} {decl}"
                        self.execute(ddl if self.dialect == "sqlite" else _pg_ddl(ddl))
            for statement in filter(str.strip, indexes.split(";")):
                self.execute(statement)
            if row is None or int(row[0]) != version:
                self.execute(
                    "INSERT INTO routecore_schema (store, version) VALUES (?, ?)"
                    " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                    (store, version),
                )


def _pg_ddl(ddl: str) -> str:
    from routecore.store.postgres import ddl as translate

    return translate(ddl)


class SqliteDatabase(Database):
    """A store's SQLite file (``routecore.store.sqlite``: WAL, a busy timeout, writers queue)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str, what: str) -> None:
        self.conn = conn
        self.location = path
        self.what = what
        self.execute = conn.execute  # type: ignore[method-assign,assignment] # unwrapped: the hot path

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def stream(
        self, sql: str, params: Mapping[str, Any], batch: int, *, tuples: bool = False
    ) -> Iterator[list[Any]]:
        cursor = self.conn.execute(sql, params)
        if tuples:
            cursor.row_factory = None
        try:
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()

    def transaction(self, *, serial: bool = False) -> AbstractContextManager[None]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with write_transaction(self.conn, self.location, self.what):
                yield
        except sqlite3.Error as e:
            raise store_error(self.location, self.what, e) from None

    def columns(self, table: str) -> set[str]:
        return {str(r[1]) for r in self.conn.execute(f'PRAGMA table_info("{table}")')}

    def close(self) -> None:
        self.conn.close()


def open_database(
    location: str,
    schema: str,
    *,
    what: str,
    tables: Mapping[str, Iterable[str]],
    synchronous: str = "NORMAL",
    threads: bool = False,
) -> Database:
    """The database at ``location`` (a path: SQLite; ``postgresql://…``: PostgreSQL) with
    ``schema`` applied (see ``routecore.store.sqlite.open_db`` for the checks: a database of
    other tables, or of ours without their columns, is refused)."""
    if is_postgres(location):
        from routecore.store.postgres import PostgresDatabase

        return PostgresDatabase(location, schema, what=what, tables=tables)
    conn = open_db(location, schema, synchronous, what=what, tables=tables, threads=threads)
    return SqliteDatabase(conn, location, what)
