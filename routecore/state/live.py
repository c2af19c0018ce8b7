"""The live routing image of a process: mapped again at the next call after a publish (F1).

Publishing writes a new image file by rename and bumps the generation in the shared state.
``LiveImage.current()`` compares that generation with the one it looked at last and, when it
changed, maps the file now at the path (if it is another file than the one mapped) and checks it
whole (``verify``: every checksum) before serving it. An ``Image`` already handed out stays valid
(its mapping holds the old file), so a call in progress finishes on the image it started with.

A file that cannot be served (truncated, corrupt, not an image, missing) is refused: one error is
logged for it (``routecore.state.live``), once, and the last good image goes on serving; a good file
landing later is picked up, at the next generation or, while a refused file is at the path, at
the next look at the path.

A mapped file must never change in place: a page past the end of a file truncated under a mapping
kills the process that touches it with SIGBUS. Publishing never does that (a new file, renamed
into place); an operator copying over the live image (``cp new.img routes.img``) does. So every
``check_every`` seconds (one ``stat`` of the path) ``current()`` also looks whether the mapped
file was rewritten in place: if so it serves the file's new content when that is a good image,
else raises LayoutError (no good image left to serve) rather than hand out the damaged one.
"""

from __future__ import annotations

import math
import os
from time import monotonic
from typing import TYPE_CHECKING, Any

from routecore.errors import LayoutError
from routecore.state.image_set import INDEX, ImageSet, folder_of

if TYPE_CHECKING:
    import logging

__all__ = ["LiveImage"]


def _log() -> logging.Logger:
    """This module's logger. ``logging`` is loaded at the first error: a process-per-call
    script that serves a good image never loads it."""
    import logging

    return logging.getLogger(__name__)


# (device, inode, size, modification time in ns) of a file: another file, or the same one
# rewritten in place, differs. _MISSING stands for no file at the path.
_Identity = tuple[int, int, int, int]
_MISSING: _Identity = (-1, -1, -1, -1)

_NEVER_COPY = "never copy over a live image: publish writes a new file and renames it into place"


def _identity(path: str) -> _Identity:
    try:
        st = os.stat(path)
    except OSError:
        return _MISSING
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class LiveImage:
    """The image at ``path`` as of the shared state's generation.

    ``check_every``: seconds between looks at the path between publishes (0: at every call).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        state: Any,
        image_cls: Any = None,
        *,
        check_every: float = 1.0,
    ) -> None:
        if image_cls is None:
            from routecore.backend import get_backend

            image_cls = get_backend().Image
        self._path = os.fspath(path)
        self._state = state
        self._image_cls = image_cls
        self._check_every = check_every
        self._next_check = -math.inf  # when current() looks at the path next
        self._seen: int | None = None  # the generation looked at last
        self._generation: int | None = None  # the generation of the image served
        self._image: Any = None
        self._identity: _Identity | None = None  # of the file the served image maps
        self._pending = False  # a refused file is at the path: look again at each check
        self._bad: _Identity | None = None  # the file refused last (its error logged once)
        self._broken: str | None = None  # the served file was damaged in place: serve nothing
        self._shards: dict[str, Any] = {}  # an image set's shards opened (by file name)

    @property
    def generation(self) -> int | None:
        """The generation of the image ``current()`` last returned."""
        return self._generation

    def current(self) -> Any:
        """The image to route a new call with.

        One read of the generation while it is unchanged, and one ``stat`` of the path every
        ``check_every`` seconds. Raises (LayoutError, OSError) only when there is no good image
        to serve: none was ever good, or the one served was rewritten in place.
        """
        generation = self._state.generation
        if generation == self._seen and monotonic() < self._next_check:
            return self._image  # the fast path: no image missing, none broken (see below)
        now = monotonic()
        published = generation != self._seen
        self._seen = generation
        self._refresh(published)
        # No image, or a broken one: the next call takes this slow path again.
        bad = self._image is None or self._broken is not None
        self._next_check = -math.inf if bad else now + self._check_every
        if self._broken is not None:
            raise LayoutError(self._broken)
        return self._image

    def _refresh(self, published: bool) -> None:
        ident = _identity(self._path)
        if self._image is not None:
            if ident == self._identity:
                if published:
                    self._generation = self._seen  # a new generation, the same file
                return
            old = self._identity
            in_place = ident != _MISSING and old is not None and ident[:2] == old[:2]
            if not (published or in_place or self._pending):
                return  # a new file without a new generation yet: taken at the publish's bump
            if ident == self._bad:
                return  # the file refused already (and logged)
        else:
            in_place = False
        try:
            image, ident = self._open()
        except (OSError, ValueError) as e:
            self._refuse(ident, e, in_place)
            if self._image is None:
                raise
            return
        if in_place:
            _log().error(
                "%s: the image file was rewritten in place while mapped (%s); serving its new"
                " content, generation %s",
                self._path,
                _NEVER_COPY,
                self._seen,
            )
        self._image, self._identity, self._generation = image, ident, self._seen
        self._pending, self._bad, self._broken = False, None, None

    def _open(self) -> tuple[Any, _Identity]:
        """The image at the path, checked whole, and the identity of the file it maps."""
        for _ in range(3):
            before = _identity(self._path)
            image = self._image_cls.open(self._path)
            if _identity(self._path) == before:
                image.verify()
                if INDEX in image:  # an image set: its shards opened as calls need them
                    image = self._image_set(image)
                return image, before
        raise LayoutError(f"{self._path}: the image file keeps changing while it is opened")

    def _image_set(self, index: Any) -> Any:
        """The set of the index ``index``, sharing the shards it has in common with the set
        served before (a new mapping: a call still on the old set keeps the old one's)."""
        images = ImageSet(index, folder_of(self._path), self._image_cls)
        images.verify()
        kept = {f: self._shards[f] for f in images.files if f is not None and f in self._shards}
        images._opened.update(kept)
        self._shards = images._opened
        return images

    def _refuse(self, ident: _Identity, error: Exception, in_place: bool) -> None:
        self._pending = True
        if in_place:
            self._broken = (
                f"{self._path}: the image file was rewritten in place while mapped and is not"
                f" a good image now ({error}); {_NEVER_COPY}. No image to serve until a good"
                " one lands"
            )
        if ident == self._bad:
            return
        self._bad = ident
        if self._broken is not None:
            _log().error("%s", self._broken)
        elif self._image is None:
            _log().error(
                "%s: cannot use the image file (%s); no image to serve until a good one lands",
                self._path,
                error,
            )
        else:
            _log().error(
                "%s: refused the image file that landed at generation %s (%s); keeps serving"
                " the image of generation %s",
                self._path,
                self._seen,
                error,
                self._generation,
            )
