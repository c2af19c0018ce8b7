"""Flow versions and their review: draft → submitted → approved (or rejected) → published;
every published version kept, any of them can be put live again by a rollback (F1).

The rules a user relies on:
- a flow that fails validation can never be submitted, approved or published (validation runs
  again at each of those steps, so a validator that got stricter is honoured);
- a flow is stored under its own number: a version whose flow names another number is refused
  at each of those steps (FlowError), so it can never replace another number's routes;
- identities (author, reviewer, publisher) are normalised when stored and compared (NFKC,
  default-ignorable characters dropped, whitespace collapsed, casefolded; empty refused), so
  ``Ann``, ``ann `` and ``ａｎｎ`` are one person, and the approver may not be the author;
- the store is the truth and the image follows it. Publishing compiles every live flow with
  the new version (a failure changes nothing), commits the new live version, then writes the
  image from exactly what was committed, all under the image's lock (one publisher at a time).
  A publisher killed after its commit but before its image is written leaves the store ahead
  of the image: :meth:`FlowStore.sync_image` (``routecore sync``) compiles the live versions
  and rewrites the image when it differs, and the next publish or rollback writes the image
  from the store anyway. Before the commit, a failure or a kill leaves the previous version
  live and the image untouched.
- with a section compiler (:class:`Sections`), only what changed is validated and compiled: the
  sections of each live version are kept in the store (``compiled``, written in the publishing
  transaction) and reused while the version and the compiler are the same; a version without
  them (a store of an older release, another compiler) is compiled again once; with
  ``shards`` the image is an image set and a publish rewrites only the shards it changes
  (``routecore.store.building``, ``routecore.state.image_set``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from routecore.errors import FlowError, ReviewError, StoreError
from routecore.store.building import Built, build
from routecore.store.publish import image_lock, publish_image, publish_set, step
from routecore.store.sql import FlowDB, Row

__all__ = [
    "IDENTITY_MAX", "Compiler", "FlowStore", "FlowVersion", "Sections", "Validator", "identity",
]  # fmt: skip

Validator = Callable[[str, str], Any]
"""``validate(content, source)``: returns the validated flow or raises FlowError. When the flow
has a ``number`` (attribute or key), it must be the number the version is stored under."""

Compiler = Callable[[dict[str, str]], bytes]
"""``compile({did: content})``: the routing image of these live flows."""


@dataclass(frozen=True)
class Sections:
    """A compiler of one number at a time: ``compile(did, content)`` → its image sections
    (validated: FlowError), ``image(sections of many numbers)`` → the routing image, ``id``
    what compiled them (cached sections of another id are compiled again)."""

    id: str
    compile: Callable[[str, str], dict[str, bytes]]
    image: Callable[[Iterable[Mapping[str, bytes]]], bytes]


IDENTITY_MAX = 128
"""Characters an identity may have once normalised."""

# Default-ignorable characters that are not format characters (Cf, dropped as well): the
# combining grapheme joiner, Hangul fillers, Mongolian and other variation selectors.
_IGNORABLE = frozenset(
    (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0),  # 2800: a blank braille
).union(range(0x180B, 0x1810), range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))
_REFUSED_CATEGORIES = ("Cc", "Cs", "Co", "Cn")


def identity(name: object) -> str:
    """The normalised form of a person's name as the review workflow stores and compares it:
    NFKC, default-ignorable characters (zero-width spaces and joiners, direction marks,
    variation selectors) dropped, runs of whitespace made one space and stripped, casefolded.
    Raises ReviewError for an empty name, control or unassigned characters, or a name longer
    than :data:`IDENTITY_MAX` characters."""
    if not isinstance(name, str):
        raise ReviewError(f"a name must be text, not {type(name).__name__}")
    text = unicodedata.normalize("NFKC", name)
    text = "".join(
        ch for ch in text if ord(ch) not in _IGNORABLE and unicodedata.category(ch) != "Cf"
    )
    text = unicodedata.normalize("NFKC", " ".join(text.split()).casefold())
    if not text:
        raise ReviewError(f"a name cannot be empty (got {name!r})")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in text):
        raise ReviewError(f"name {name!r} has control or unassigned characters")
    if len(text) > IDENTITY_MAX:
        raise ReviewError(f"a name has at most {IDENTITY_MAX} characters")
    return text


def _same_person(a: str, b: str) -> bool:
    """Whether two stored names are one identity (names stored before normalisation too)."""
    try:
        return identity(a) == identity(b)
    except ReviewError:
        return a == b


def _flow_number(flow: Any) -> str | None:
    number = flow.get("number") if isinstance(flow, Mapping) else getattr(flow, "number", None)
    return None if number is None else str(number)


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

    def __init__(
        self,
        path: str,
        *,
        validate: Validator,
        sections: Sections | None = None,
        shards: int = 0,
    ) -> None:
        """``shards``: write the image as an image set of that many shards
        (``routecore.state.image_set``; needs ``sections``), 0: one file."""
        if shards and sections is None:
            raise StoreError("an image in shards needs a section compiler")
        if not 0 <= shards <= 65536:
            raise StoreError(f"shards: 0-65536, not {shards}")
        self._db = FlowDB(path)
        self._validate = validate
        self._sections = sections
        self._shards = shards

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
        """One version (ReviewError when there is no such version, whatever ``version`` is)."""
        ok = isinstance(version, int) and 0 < version < 2**63 and isinstance(did, str)
        row = self._db.get_version(did, version) if ok else None
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

    def _validated(self, v: FlowVersion) -> Any:
        """Validate a version's content (FlowError) and check it is the flow of its number."""
        source = f"{v.did} v{v.version}"
        flow = self._validate(v.content, source)
        number = _flow_number(flow)
        if number is not None and number != v.did:
            from routecore.flow.issues import FlowIssue

            raise FlowError(
                [
                    FlowIssue(
                        source,
                        "number",
                        f"this is the flow of {number}, not of {v.did}: "
                        "a flow is stored under its own number",
                    )
                ]
            )
        return flow

    def draft(self, did: str, content: str, author: str) -> FlowVersion:
        """Save a new version as a draft (drafts may still be invalid)."""
        author = identity(author)
        with self._db.transaction():
            version = self._db.next_version(did)
            self._db.insert_version(did, version, content, author)
            self._db.log(did, version, "draft", author)
        return self.get(did, version)

    def add_many(
        self,
        items: Iterable[tuple[str, str]],
        author: str,
        *,
        submit: bool = False,
        approver: str | None = None,
    ) -> list[tuple[str, int, str, FlowError | None]]:
        """Draft many flows (``(did, content)``) in one transaction, each as :meth:`draft`;
        with ``submit`` also submit each that validates, with ``approver`` (not the author)
        also approve it. Each content is validated once for both steps (with a section
        compiler: compiled once, its sections kept for the publish). Returns ``(did, version,
        state, error)`` per flow: one that does not validate stays a draft, with its error."""
        author = identity(author)
        reviewer = None if approver is None else identity(approver)
        if reviewer is not None and _same_person(reviewer, author):
            raise ReviewError(f"{reviewer} wrote these flows and may not approve them")
        out: list[tuple[str, int, str, FlowError | None]] = []
        compiled: list[tuple[str, int, str, bytes]] = []
        with self._db.transaction():
            for did, content in items:
                version = self._db.next_version(did)
                self._db.insert_version(did, version, content, author)
                self._db.log(did, version, "draft", author)
                if not (submit or reviewer):
                    out.append((did, version, "draft", None))
                    continue
                try:
                    sections = self._check(did, version, content, reviewer is not None)
                except FlowError as e:
                    out.append((did, version, "draft", e))
                    continue
                self._db.set_state(did, version, "submitted", None, None)
                self._db.log(did, version, "submit", author)
                state = "submitted"
                if reviewer is not None:
                    self._db.set_state(did, version, "approved", reviewer, None)
                    self._db.log(did, version, "approve", reviewer)
                    state = "approved"
                    if sections is not None and self._sections is not None:
                        compiled.append((did, version, self._sections.id, sections))
                out.append((did, version, state, None))
            self._db.put_compiled(compiled)
        return out

    def _check(self, did: str, version: int, content: str, keep: bool) -> bytes | None:
        """Validate one version (FlowError); with a section compiler and ``keep``, its
        compiled sections (msgpack) for the publish that follows."""
        if self._sections is None or not keep:
            self._validated(
                FlowVersion(did, version, "draft", "", None, None, 0.0, 0.0, content, False)
            )
            return None
        import msgpack

        return bytes(msgpack.packb(self._sections.compile(did, content), use_bin_type=True))

    def submit(self, did: str, version: int, who: str) -> FlowVersion:
        """Submit for review; a flow that does not validate is refused (FlowError)."""
        who = identity(who)
        v = self._step(did, version, ("draft", "rejected"), "submit")
        self._validated(v)
        with self._db.transaction():
            self._step(did, version, ("draft", "rejected"), "submit")
            self._db.set_state(did, version, "submitted", None, None)
            self._db.log(did, version, "submit", who)
        return self.get(did, version)

    def approve(self, did: str, version: int, reviewer: str) -> FlowVersion:
        """Approve a submitted version: the reviewer may not be its author (as identities)."""
        reviewer = identity(reviewer)
        v = self._step(did, version, ("submitted",), "approve")
        if _same_person(reviewer, v.author):
            raise ReviewError(f"{did} v{version}: {reviewer} wrote it and may not approve it")
        self._validated(v)
        with self._db.transaction():
            self._step(did, version, ("submitted",), "approve")
            self._db.set_state(did, version, "approved", reviewer, None)
            self._db.log(did, version, "approve", reviewer)
        return self.get(did, version)

    def reject(self, did: str, version: int, reviewer: str, reason: str) -> FlowVersion:
        reviewer = identity(reviewer)
        v = self._step(did, version, ("submitted",), "reject")
        if _same_person(reviewer, v.author):
            raise ReviewError(f"{did} v{version}: {reviewer} wrote it and may not review it")
        with self._db.transaction():
            self._step(did, version, ("submitted",), "reject")
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
        """Put an approved version live: compile every live flow with this one, commit, then
        write the image from what was committed (see the module's rules). ``on_published``
        runs once the image is written (bump the generation in the shared state there)."""
        return self._go_live(
            did, version, publisher, "publish", ("approved",), image_path, compile, on_published
        )

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
        """Put an earlier published version live again (as ``publish`` does)."""
        return self._go_live(
            did,
            version,
            publisher,
            "rollback",
            ("published",),
            image_path,
            compile,
            on_published,
        )

    def _go_live(
        self,
        did: str,
        version: int,
        publisher: str,
        action: str,
        allowed: tuple[str, ...],
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None,
    ) -> FlowVersion:
        self._go_live_many(
            [(did, version)], publisher, action, allowed, image_path, compile, on_published
        )
        return self.get(did, version)

    def publish_many(
        self,
        items: Iterable[tuple[str, int]],
        publisher: str,
        *,
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None = None,
    ) -> int:
        """Put many approved versions (``(did, version)``, one a number) live in one
        transaction and one image, as :meth:`publish` puts one; how many."""
        items = list(items)
        if len({did for did, _ in items}) != len(items):
            raise ReviewError("publish: one version a number at a time")
        if items:
            self._go_live_many(
                items, publisher, "publish", ("approved",), image_path, compile, on_published
            )
        return len(items)

    def _go_live_many(
        self,
        items: list[tuple[str, int]],
        publisher: str,
        action: str,
        allowed: tuple[str, ...],
        image_path: str,
        compile: Compiler,
        on_published: Callable[[], object] | None,
    ) -> None:
        publisher = identity(publisher)
        verb = "publish" if action == "publish" else "roll back to"
        if self._sections is None:  # else the section compiler validates what changed
            for did, version in items:
                self._validated(self._step(did, version, allowed, verb))
        with image_lock(image_path):
            with self._db.transaction():
                changes = {}
                for did, version in items:  # as of this transaction
                    changes[did] = (version, self._step(did, version, allowed, verb).content)
                built = build(self._db, self._sections, self._shards, changes, compile)
                step("compiled")
                for did, version in items:
                    self._db.set_live(did, version, publisher)
                    self._db.set_state(did, version, "published", None, None)
                    self._db.log(did, version, action, publisher)
                self._keep(built, publisher)
            step("committed")
            try:
                self._write(image_path, built)
            except Exception as e:
                what = ", ".join(f"{did} v{version}" for did, version in items[:3])
                more = f" and {len(items) - 3} more" if len(items) > 3 else ""
                be = "is" if len(items) == 1 else "are"
                raise StoreError(
                    f"{what}{more} {be} live in the store, but the image {image_path} could "
                    f"not be written ({e}); `routecore sync --image {image_path}` writes it"
                ) from e
            step("image-written")
        if on_published is not None:
            on_published()

    def _keep(self, built: Built, publisher: str | None) -> None:
        """Keep what a publish built in the store (in its transaction): the compiled sections
        and the destinations' capacities, and (with a ``publisher``) the image for every host,
        an image set's shards (those no kept index lists dropped)."""
        self._db.put_compiled(built.compiled)
        for did, capacities in built.capacities.items():
            self._db.set_destinations(did, capacities)
        if publisher is None:
            return
        self._db.put_image(built.image, publisher)
        if self._shards:
            from routecore.backend import get_backend
            from routecore.state.image_set import INDEX, read_index

            self._db.put_shards(built.shards)
            listed: set[str] = set()
            for data in self._db.images_kept():
                image = get_backend().Image.from_buffer(data)
                if INDEX in image:
                    listed |= {f for f in read_index(image) if f is not None}
            self._db.drop_shards_but(listed)

    def _write(self, path: str, built: Built) -> None:
        """Write what a publish built at the image's ``path`` (an image, or an image set)."""
        if self._shards:
            publish_set(path, built.image, built.shards, fetch=self._db.shard_data)
        else:
            publish_image(path, built.image)

    def sync_image(self, image_path: str | os.PathLike[str], *, compile: Compiler) -> bool:
        """Make the image at ``image_path`` hold exactly the store's live versions: compile
        them and, when the file differs from that (or is missing), write it atomically.
        Returns True when it wrote the image, False when it already agreed (or nothing is
        live). The one call that repairs an image left behind by a publisher killed after
        its commit (``routecore sync`` runs it, then bumps the shared state's generation)."""
        path = os.fspath(image_path)
        with image_lock(path):
            if not self._db.live():
                return False
            with self._db.transaction():
                built = build(self._db, self._sections, self._shards, {}, compile)
                latest = self._db.latest_image()
                if latest is None or latest["sha256"] != hashlib.sha256(built.image).hexdigest():
                    self._keep(built, "sync")  # a store of an older release: for the hosts
                else:
                    self._keep(built, None)
            if _agrees(path, built.image, self._shards):
                return False
            self._write(path, built)  # an image set: the shards missing here too
            step("image-written")
            return True

    def history(self, did: str) -> list[FlowVersion]:
        live = self._db.live()
        return [self._version(r, live) for r in self._db.versions(did)]

    def events(self, did: str) -> list[dict[str, Any]]:
        return self._db.events(did)

    def live(self) -> dict[str, int]:
        """The live version of every published number."""
        return self._db.live()

    def capacities(self, numbers: list[str]) -> dict[str, int]:
        """The largest capacity any live flow gives each destination of ``numbers`` (kept at
        each publish with a section compiler; those no live flow lists are left out)."""
        return self._db.largest_capacities(numbers)

    def latest_image(self) -> dict[str, Any] | None:
        """The newest published image's ``id``, ``sha256``, ``size``, ``at`` (seconds) and
        ``publisher`` (None: nothing published yet)."""
        return self._db.latest_image()

    def image_data(self, image_id: int) -> bytes | None:
        """The bytes of a published image (None: dropped, a newer one is there)."""
        return self._db.image_data(image_id)

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


def _agrees(path: str, image: bytes, shards: int) -> bool:
    """Whether the file at ``path`` is ``image`` (an image set's index: with every shard it
    lists in the folder)."""
    try:
        if os.path.getsize(path) != len(image):
            return False
        with open(path, "rb") as f:
            if f.read() != image:
                return False
    except FileNotFoundError:
        return False
    if not shards:
        return True
    from routecore.backend import get_backend
    from routecore.state.image_set import folder_of, read_index

    files = read_index(get_backend().Image.from_buffer(image))
    return all(f is None or os.path.exists(os.path.join(folder_of(path), f)) for f in files)
