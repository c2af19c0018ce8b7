"""A platform's routing image in shards: an index image at the image's path and one image file a
shard in the folder beside it (``routes.img.d/``), so that publishing one number's change writes
one shard and a small index, not the whole platform (F1).

A number belongs to shard ``crc32(number) % count``; its sections (``{did}/…``) are all in that
shard. The index is an ordinary image holding one blob, ``~shards``: JSON ``{"count": n,
"files": [file name or null, …]}``; a shard file is an ordinary image named by the SHA-256 of
its bytes (``<64 hex>.img``), written once and never changed, so two index versions share the
shards they have in common and a routing process keeps the mapping of every shard it already
opened. :class:`ImageSet` reads a set as one image: a section is looked up in its number's
shard, opened (and checked whole) at the first call for one of its numbers, so a routing
process's memory grows with the numbers it routes, not with the platform.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Any

from routecore.errors import LayoutError

__all__ = [
    "INDEX", "ImageSet", "folder_of", "index_bytes", "open_image", "read_index", "shard_of",
]  # fmt: skip

INDEX = "~shards"
"""The section of an index image that lists its shards."""


def shard_of(did: str, count: int) -> int:
    """The shard of the 400 number ``did`` in a set of ``count`` shards."""
    return zlib.crc32(did.encode()) % count


def folder_of(path: str) -> str:
    """The folder of the shard files of the image set at ``path``."""
    return path + ".d"


def index_bytes(core: Any, files: list[str | None]) -> bytes:
    """The index image of shard ``files`` (None: a shard without numbers)."""
    text = json.dumps({"count": len(files), "files": files}, separators=(",", ":"))
    return bytes(core.build_image({INDEX: core.blob_table(text.encode())}))


def open_image(path: str, image_cls: Any) -> Any:
    """The image at ``path``: an image, or the image set whose index it is."""
    image = image_cls.open(path)
    return ImageSet(image, folder_of(path), image_cls) if INDEX in image else image


def read_index(image: Any) -> list[str | None]:
    """The shard files an index image lists (LayoutError when it lists them wrong)."""
    try:
        data = json.loads(image.blob(INDEX))
        files = data["files"]
        ok = isinstance(files, list) and len(files) == data["count"] > 0
        ok = ok and all(f is None or _good_name(f) for f in files)
    except (ValueError, KeyError, TypeError) as e:
        raise LayoutError(f"not an index of shards ({e})") from None
    if not ok:
        raise LayoutError("not an index of shards (its file list is malformed)")
    return list(files)


def _good_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and len(name) == 68
        and name.endswith(".img")
        and all(c in "0123456789abcdef" for c in name[:64])
    )


class ImageSet:
    """An image set read as one image (see the module). ``opened`` maps a shard file's name to
    its open image: pass the same mapping to the sets of later generations and the shards they
    share are mapped once."""

    def __init__(
        self, index: Any, folder: str, image_cls: Any, opened: dict[str, Any] | None = None
    ) -> None:
        self.index = index
        self.files = read_index(index)
        self.count = len(self.files)
        self.folder = folder
        self._cls = image_cls
        self._opened = {} if opened is None else opened

    @property
    def content_hash(self) -> int:
        """The index's (any shard changed changes it): what routing plans are cached under."""
        return int(self.index.content_hash)

    def _shard(self, name: str) -> Any:
        file = self.files[shard_of(name.split("/", 1)[0], self.count)]
        return None if file is None else self._shard_named(file)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        shard = self._shard(name)
        return shard is not None and name in shard

    def _find(self, name: str) -> Any:
        shard = self._shard(name)
        if shard is None:
            raise KeyError(f"no section named {name!r}")
        return shard

    def blob(self, name: str) -> bytes:
        return bytes(self._find(name).blob(name))

    def trie(self, name: str) -> Any:
        return self._find(name).trie(name)

    def group(self, name: str) -> Any:
        return self._find(name).group(name)

    def time_plan(self, name: str) -> Any:
        return self._find(name).time_plan(name)

    def section(self, name: str) -> bytes:
        return bytes(self._find(name).section(name))

    def kind(self, name: str) -> str:
        return str(self._find(name).kind(name))

    def names(self) -> list[str]:
        """Every section of every shard (opens them all: for tools, not for calls)."""
        out: list[str] = []
        for file in self.files:
            if file is not None:
                out += self._shard_named(file).names()
        return sorted(out)

    def _shard_named(self, file: str) -> Any:
        image = self._opened.get(file)
        if image is None:
            image = self._cls.open(os.path.join(self.folder, file))
            image.verify()
            self._opened[file] = image
        return image

    def verify(self) -> None:
        """The index checked whole, and every shard file there (not opened: opening checks)."""
        self.index.verify()
        for file in self.files:
            if file is not None and not os.path.exists(os.path.join(self.folder, file)):
                raise LayoutError(f"{self.folder}: shard {file} is missing")
