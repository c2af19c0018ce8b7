"""The SQL of the flow store in one narrow class: what the review workflow asks of a database (F1).

SQLite by default (one file), or PostgreSQL (``postgresql://…``) through
``routecore.store.db``; the workflow in ``flows.py`` never writes SQL.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from routecore.store.db import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS flow_versions (
    did        TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    content    TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    reviewer   TEXT,
    note       TEXT,
    created    REAL    NOT NULL,
    changed    REAL    NOT NULL,
    PRIMARY KEY (did, version)
);
CREATE TABLE IF NOT EXISTS live (
    did        TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    published  REAL    NOT NULL,
    publisher  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    did        TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    who        TEXT    NOT NULL,
    at         REAL    NOT NULL,
    note       TEXT
);
CREATE TABLE IF NOT EXISTS compiled (
    did        TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL,
    compiler   TEXT    NOT NULL,
    sections   BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS destinations (
    number     TEXT    NOT NULL,
    did        TEXT    NOT NULL,
    capacity   INTEGER NOT NULL,
    PRIMARY KEY (number, did)
);
CREATE INDEX IF NOT EXISTS destinations_did ON destinations (did);
CREATE TABLE IF NOT EXISTS image_shards (
    file       TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    at         REAL    NOT NULL,
    publisher  TEXT    NOT NULL
);
"""

IMAGES_KEPT = 3
"""Images the store keeps (the newest): hosts fetch the newest, the others are for a host that
is fetching while a newer one lands."""
CHANNEL = "routecore_image"
"""The PostgreSQL notification channel a published image is announced on (its id)."""

Row = dict[str, Any]

TABLES = {
    "flow_versions": (
        "did", "version", "content", "author", "state", "reviewer", "note", "created", "changed",
    ),
    "live": ("did", "version", "published", "publisher"),
    "events": ("id", "did", "version", "action", "who", "at", "note"),
}  # fmt: skip
"""The columns each table of a flow store has (a database without them is refused)."""


SCHEMA_VERSION = 4
"""The flow store's schema version (``routecore_schema``: a newer one is refused; 2: the
published images; 3: the compiled sections of the live versions; 4: the shards of an image
set)."""


class FlowDB:
    """Flow versions, the live version of each number and an event log, in one SQLite file or
    a PostgreSQL database (``location``)."""

    def __init__(self, location: str) -> None:
        self._db = open_database(
            location, SCHEMA, synchronous="FULL", what="flow store", tables=TABLES
        )
        self.path = self._db.location
        try:
            self._db.migrate("flows", SCHEMA_VERSION, {})
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction; the store's writers (of every host) take turns, so two never
        interleave a review step."""
        return self._db.transaction(serial=True)

    def next_version(self, did: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions WHERE did = ?", (did,)
        ).fetchone()
        return int(row[0])

    def insert_version(self, did: str, version: int, content: str, author: str) -> None:
        now = time.time()
        self._db.execute(
            "INSERT INTO flow_versions (did, version, content, author, state, created, changed)"
            " VALUES (?, ?, ?, ?, 'draft', ?, ?)",
            (did, version, content, author, now, now),
        )

    def set_state(
        self, did: str, version: int, state: str, reviewer: str | None, note: str | None
    ) -> None:
        self._db.execute(
            "UPDATE flow_versions SET state = ?, reviewer = COALESCE(?, reviewer),"
            " note = COALESCE(?, note), changed = ? WHERE did = ? AND version = ?",
            (state, reviewer, note, time.time(), did, version),
        )

    def get_version(self, did: str, version: int) -> Row | None:
        row = self._db.execute(
            "SELECT * FROM flow_versions WHERE did = ? AND version = ?", (did, version)
        ).fetchone()
        return None if row is None else dict(row)

    def versions(self, did: str) -> list[Row]:
        rows = self._db.execute(
            "SELECT * FROM flow_versions WHERE did = ? ORDER BY version", (did,)
        ).fetchall()
        return [dict(r) for r in rows]

    def numbers(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT did FROM flow_versions ORDER BY did").fetchall()
        return [str(r[0]) for r in rows]

    def set_live(self, did: str, version: int, publisher: str) -> None:
        self._db.execute(
            "INSERT INTO live (did, version, published, publisher) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(did) DO UPDATE SET version = excluded.version,"
            " published = excluded.published, publisher = excluded.publisher",
            (did, version, time.time(), publisher),
        )

    def live(self) -> dict[str, int]:
        rows = self._db.execute("SELECT did, version FROM live ORDER BY did").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def live_contents(self) -> dict[str, tuple[int, str | None]]:
        """Each live number's version and its content (None if that version is missing), read
        in one statement (one snapshot)."""
        rows = self._db.execute(
            "SELECT l.did, l.version, v.content FROM live AS l LEFT JOIN flow_versions AS v"
            " ON v.did = l.did AND v.version = l.version ORDER BY l.did"
        ).fetchall()
        return {str(r[0]): (int(r[1]), None if r[2] is None else str(r[2])) for r in rows}

    def log(self, did: str, version: int, action: str, who: str, note: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO events (did, version, action, who, at, note) VALUES (?, ?, ?, ?, ?, ?)",
            (did, version, action, who, time.time(), note),
        )

    def put_image(self, image: bytes, publisher: str) -> int:
        """Keep the image the live versions compile to (in the publishing transaction), drop
        the oldest beyond :data:`IMAGES_KEPT`, announce it (PostgreSQL: on ``CHANNEL`` at the
        commit); its id."""
        digest = hashlib.sha256(image).hexdigest()
        row = self._db.execute(
            "INSERT INTO images (sha256, size, data, at, publisher) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            (digest, len(image), image, time.time(), publisher),
        ).fetchone()
        image_id = int(row[0])
        self._db.execute("DELETE FROM images WHERE id <= ?", (image_id - IMAGES_KEPT,))
        if self._db.dialect == "postgresql":
            self._db.execute("SELECT pg_notify(?, ?)", (CHANNEL, str(image_id)))
        return image_id

    def latest_image(self) -> Row | None:
        """The newest image's ``id``, ``sha256``, ``size``, ``at`` and ``publisher`` (None:
        none published yet)."""
        row = self._db.execute(
            "SELECT id, sha256, size, at, publisher FROM images ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else dict(row)

    def image_data(self, image_id: int) -> bytes | None:
        row = self._db.execute("SELECT data FROM images WHERE id = ?", (image_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def compiled(self) -> dict[str, tuple[int, str, bytes]]:
        """Each number's cached compiled sections: the version and the compiler they are of,
        and the sections (msgpack of name → table)."""
        rows = self._db.execute("SELECT did, version, compiler, sections FROM compiled")
        return {str(r[0]): (int(r[1]), str(r[2]), bytes(r[3])) for r in rows}

    def _in(self, sql: str, values: list[str]) -> Iterator[Any]:
        """The rows of ``sql`` (its ``IN ({})`` filled) for ``values``, 500 at a time."""
        for i in range(0, len(values), 500):
            part = values[i : i + 500]
            yield from self._db.execute(sql.format(", ".join("?" for _ in part)), part)

    def compiled_of(self, dids: list[str]) -> dict[str, tuple[int, str, bytes]]:
        """:meth:`compiled` of ``dids`` only."""
        rows = self._in(
            "SELECT did, version, compiler, sections FROM compiled WHERE did IN ({})", dids
        )
        return {str(r[0]): (int(r[1]), str(r[2]), bytes(r[3])) for r in rows}

    def set_destinations(self, did: str, capacities: Mapping[str, int]) -> None:
        """The destinations the live version of ``did`` lists, with their capacities."""
        self._db.execute("DELETE FROM destinations WHERE did = ?", (did,))
        self._db.executemany(
            "INSERT INTO destinations (number, did, capacity) VALUES (?, ?, ?)",
            [(number, did, capacity) for number, capacity in capacities.items()],
        )

    def largest_capacities(self, numbers: list[str]) -> dict[str, int]:
        """The largest capacity any live flow gives each of ``numbers`` (those listed)."""
        rows = self._in(
            "SELECT number, MAX(capacity) FROM destinations WHERE number IN ({}) GROUP BY number",
            numbers,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def put_shards(self, shards: Mapping[str, bytes]) -> None:
        """Keep the shard files of an image set (by name: a name is its content's digest)."""
        self._db.executemany(
            "INSERT INTO image_shards (file, data) VALUES (?, ?) ON CONFLICT (file) DO NOTHING",
            list(shards.items()),
        )

    def drop_shards_but(self, files: set[str]) -> None:
        """Drop the shards no kept image lists."""
        have = [str(r[0]) for r in self._db.execute("SELECT file FROM image_shards")]
        gone = [(f,) for f in have if f not in files]
        self._db.executemany("DELETE FROM image_shards WHERE file = ?", gone)

    def shard_data(self, file: str) -> bytes | None:
        row = self._db.execute("SELECT data FROM image_shards WHERE file = ?", (file,)).fetchone()
        return None if row is None else bytes(row[0])

    def images_kept(self) -> list[bytes]:
        """The images the store keeps, newest first."""
        return [bytes(r[0]) for r in self._db.execute("SELECT data FROM images ORDER BY id DESC")]

    def put_compiled(self, rows: list[tuple[str, int, str, bytes]]) -> None:
        """Keep ``(did, version, compiler, sections)`` (one row a number: its live version's)."""
        self._db.executemany(
            "INSERT INTO compiled (did, version, compiler, sections) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (did) DO UPDATE SET version = excluded.version,"
            " compiler = excluded.compiler, sections = excluded.sections",
            rows,
        )

    def events(self, did: str) -> list[Row]:
        rows = self._db.execute(
            "SELECT did, version, action, who, at, note FROM events WHERE did = ? ORDER BY id",
            (did,),
        ).fetchall()
        return [dict(r) for r in rows]
