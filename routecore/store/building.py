"""What a publish builds from the flow store: the routing image of the live versions, compiling
only what changed, or an image set in shards, rebuilding only the shards that changed (F1).

With a section compiler (``routecore.store.flows.Sections``), each live version's compiled
sections are kept in the store (``compiled``) and reused while the version and the compiler are
the same. With ``shards`` (an image set, ``routecore.state.image_set``), a publish rebuilds the
shards of the numbers it changes from those sections and keeps the others' files, as listed by
the newest index the store holds (all of them when there is none, or of another count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from routecore.errors import ReviewError

__all__ = ["Built", "build"]

Compiled = tuple[str, int, str, bytes]
"""A row of the store's ``compiled``: number, version, compiler, sections (msgpack)."""


@dataclass
class Built:
    """What a publish writes: ``image`` at the image's path (the image, or an image set's
    index), the new shard files of a set by name, and the compiled sections to keep."""

    image: bytes
    shards: dict[str, bytes] = field(default_factory=dict)
    compiled: list[Compiled] = field(default_factory=list)
    capacities: dict[str, dict[str, int]] = field(default_factory=dict)
    """The destinations' capacities of each number compiled (by number)."""


def build(
    db: Any,
    sections: Any,
    shards: int,
    changes: Mapping[str, tuple[int, str]],
    compile: Callable[[dict[str, str]], bytes],
) -> Built:
    """The image of the live versions of ``db`` (a ``FlowDB``) with ``changes`` (number →
    version, content). Without a section compiler every live flow goes to ``compile``."""
    if sections is None:
        contents = _live_contents(db)
        contents.update({did: content for did, (_, content) in changes.items()})
        return Built(compile(contents))
    live = db.live()
    live.update({did: version for did, (version, _) in changes.items()})
    out = Built(b"")
    if not shards:
        parts = _sections_of(db, sections, list(live), live, changes, out, everyone=True)
        out.image = sections.image(parts)
        return out
    from routecore.backend import get_backend
    from routecore.state.image_set import index_bytes, shard_of

    previous = _previous_files(db, shards)
    affected = set(range(shards)) if previous is None else {shard_of(d, shards) for d in changes}
    members: dict[int, list[str]] = {s: [] for s in affected}
    for did in live:
        s = shard_of(did, shards)
        if s in members:
            members[s].append(did)
    files: list[str | None] = list(previous) if previous is not None else [None] * shards
    for s, dids in sorted(members.items()):
        if not dids:
            files[s] = None
            continue
        data = sections.image(_sections_of(db, sections, dids, live, changes, out))
        name = f"{hashlib.sha256(data).hexdigest()}.img"
        files[s] = name
        out.shards[name] = data
    out.image = index_bytes(get_backend(), files)
    return out


def _sections_of(
    db: Any,
    sections: Any,
    dids: list[str],
    live: Mapping[str, int],
    changes: Mapping[str, tuple[int, str]],
    out: Built,
    *,
    everyone: bool = False,
) -> list[Mapping[str, bytes]]:
    """The compiled sections of ``dids``' live versions: from the store when it has them for
    this version and compiler, else compiled now (and added to ``out.compiled``); the
    capacities of the numbers that change go to ``out.capacities``."""
    import msgpack

    compiler = sections.id
    cached = db.compiled() if everyone else db.compiled_of(dids)
    parts: list[Mapping[str, bytes]] = []
    for did in dids:
        version = live[did]
        hit = cached.get(did)
        if hit is not None and hit[:2] == (version, compiler):  # this very version's
            parts.append(msgpack.unpackb(hit[2], raw=False))
            if did in changes:
                out.capacities[did] = _capacities(sections, did, parts[-1])
            continue
        if did in changes:
            content = changes[did][1]
        else:
            row = db.get_version(did, version)
            if row is None:  # pragma: no cover - the live table only names stored versions
                raise ReviewError(f"{did}: live version {version} is missing")
            content = row["content"]
        compiled = sections.compile(did, content)
        parts.append(compiled)
        out.compiled.append((did, version, compiler, msgpack.packb(compiled, use_bin_type=True)))
        out.capacities[did] = _capacities(sections, did, compiled)
    return parts


def _capacities(sections: Any, did: str, compiled: Mapping[str, bytes]) -> dict[str, int]:
    """The capacity the flow of ``did`` (its compiled sections) gives each destination."""
    from routecore.backend import get_backend
    from routecore.engine import flow_blob
    from routecore.engine.dialer import flow_capacities

    one = get_backend().Image.from_buffer(sections.image([compiled]))
    return flow_capacities([flow_blob.decode(one.blob(f"{did}/flow"))])


def _previous_files(db: Any, count: int) -> list[str | None] | None:
    """The shard files of the newest index the store keeps, when it has ``count`` shards."""
    from routecore.backend import get_backend
    from routecore.state.image_set import INDEX, read_index

    latest = db.latest_image()
    if latest is None or latest["size"] > 1 << 20:  # an image, not an index
        return None
    data = db.image_data(int(latest["id"]))
    try:
        image = get_backend().Image.from_buffer(data)
        files = read_index(image) if INDEX in image else None
    except (ValueError, OSError):
        return None
    return files if files is not None and len(files) == count else None


def _live_contents(db: Any) -> dict[str, str]:
    contents: dict[str, str] = {}
    for number, (ver, content) in db.live_contents().items():
        if content is None:  # pragma: no cover - the live table only names stored versions
            raise ReviewError(f"{number}: live version {ver} is missing")
        contents[number] = content
    return contents
