"""Flow versions and their review (F1): draft → submitted → approved (or rejected) →
published; every published version kept, any of them can be put live again (rollback).

The rules a user relies on:
- a flow that fails validation can never be submitted, approved or published (validation runs
  again at each of those steps, so a validator that got stricter is honoured);
- the approver is recorded and may not be the author;
- publishing writes the routing image of every live number atomically and only then commits
  the new live version; if anything fails on the way, the previous version stays live.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routecore.errors import ReviewError
from routecore.store.publish import publish_image
from routecore.store.sql import Row, SqliteFlowDB

__all__ = ["Compiler", "FlowStore", "FlowVersion", "Validator"]

Validator = Callable[[str, str], Any]
"""``validate(content, source)``: returns the validated flow or raises FlowError."""

Compiler = Callable[[dict[str, str]], bytes]
"""``compile({did: content})``: the routing image of these live flows."""


@dataclass(frozen=True)
class FlowVersion:
    did: str
    version: int
    state: str  # draft, submitted, approved, rejected, published
    author: str
    reviewer: str | None
    note: str | None
    created: float
    changed: float
    content: str
    live: bool


class FlowStore:
    """The versions of every number's flow, in one SQLite file."""

    def __init__(self, path: str, *, validate: Validator) -> None:
        self._db = SqliteFlowDB(path)
        self._validate = validate

    def close(self) -> None:
        self._db.close()

    def _version(self, row: Row, live: dict[str, int]) -> FlowVersion:
        return FlowVersion(
            did=row["did"],
            version=row["version"],
            state=row["state"],
            author=row["author"],
            reviewer=row["reviewer"],
            note=row["note"],
            created=row["created"],
            changed=row["changed"],
            content=row["content"],
            live=live.get(row["did"]) == row["version"],
        )

    def get(self, did: str, version: int) -> FlowVersion:
        row = self._db.get_version(did, version)
        if row is None:
            raise ReviewError(f"{did}: no version {version}")
        return self._version(row, self._db.live())

    def _step(self, did: str, version: int, allowed: tuple[str, ...], action: str) -> FlowVersion:
        v = self.get(did, version)
        if v.state not in allowed:
            raise ReviewError(
                f"{did} v{version}: cannot {action} a {v.state} version "
                f"(only {' or '.join(allowed)})"
            )
        return v

    def draft(self, did: str, content: str, author: str) -> FlowVersion:
        """Save a new version as a draft (drafts may still be invalid)."""
        with self._db.transaction():
            version = self._db.next_version(did)
            self._db.insert_version(did, version, content, author)
            self._db.log(did, version, "draft", author)
        return self.get(did, version)

    def submit(self, did: str, version: int, who: str) -> FlowVersion:
        """Submit for review; a flow that does not validate is refused (FlowError)."""
        v = self._step(did, version, ("draft", "rejected"), "submit")
        self._validate(v.content, f"{did} v{version}")
        with self._db.transaction():
            self._db.set_state(did, version, "submitted", None, None)
            self._db.log(did, version, "submit", who)
        return self.get(did, version)

    def approve(self, did: str, version: int, reviewer: str) -> FlowVersion:
        v = self._step(did, version, ("submitted",), "approve")
        if reviewer == v.author:
            raise ReviewError(f"{did} v{version}: {reviewer} wrote it and may not approve it")
        self._validate(v.content, f"{did} v{version}")
        with self._db.transaction():
            self._db.set_state(did, version, "approved", reviewer, None)
            self._db.log(did, version, "approve", reviewer)
        return self.get(did, version)

    def reject(self, did: str, version: int, reviewer: str, reason: str) -> FlowVersion:
        v = self._step(did, version, ("submitted",), "reject")
        if reviewer == v.author:
            raise ReviewError(f"{did} v{version}: {reviewer} wrote it and may not review it")
        with self._db.transaction():
            self._db.set_state(did, version, "rejected", reviewer, reason)
            self._db.log(did, version, "reject", reviewer, reason)
        return self.get(did, version)

    def publish(
        self,
        did: str,
        version: int,
        publisher: str,
        *,
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None = None,
    ) -> FlowVersion:
        """Put an approved version live: compile every live flow with this one, write the
        image atomically, then commit. ``on_published`` runs after the commit (bump the
        generation in the shared state there)."""
        self._step(did, version, ("approved",), "publish")
        return self._go_live(did, version, publisher, "publish", image_path, compile, on_published)

    def rollback(
        self,
        did: str,
        version: int,
        publisher: str,
        *,
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None = None,
    ) -> FlowVersion:
        """Put an earlier published version live again."""
        self._step(did, version, ("published",), "roll back to")
        return self._go_live(did, version, publisher, "rollback", image_path, compile, on_published)

    def _go_live(
        self,
        did: str,
        version: int,
        publisher: str,
        action: str,
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None,
    ) -> FlowVersion:
        v = self.get(did, version)
        self._validate(v.content, f"{did} v{version}")
        with self._db.transaction():
            live = self._db.live()
            live[did] = version
            contents: dict[str, str] = {}
            for number, ver in live.items():
                row = self._db.get_version(number, ver)
                if row is None:  # pragma: no cover - the live table only names stored versions
                    raise ReviewError(f"{number}: live version {ver} is missing")
                contents[number] = row["content"]
            image = compile(contents)
            publish_image(image_path, image)
            self._db.set_live(did, version, publisher)
            self._db.set_state(did, version, "published", None, None)
            self._db.log(did, version, action, publisher)
        if on_published is not None:
            on_published()
        return self.get(did, version)

    def history(self, did: str) -> list[FlowVersion]:
        live = self._db.live()
        return [self._version(r, live) for r in self._db.versions(did)]

    def events(self, did: str) -> list[dict[str, Any]]:
        return self._db.events(did)

    def live(self) -> dict[str, int]:
        """The live version of every published number."""
        return self._db.live()

    def numbers(self) -> list[str]:
        return self._db.numbers()

    def diff(self, did: str, a: int, b: int) -> str:
        """A unified diff of two versions."""
        va, vb = self.get(did, a), self.get(did, b)
        return "".join(
            difflib.unified_diff(
                va.content.splitlines(keepends=True),
                vb.content.splitlines(keepends=True),
                fromfile=f"{did} v{a}",
                tofile=f"{did} v{b}",
            )
        )
