"""The live routing image of a process: mapped again at the next call after a publish.

Publishing writes a new image file by rename and bumps the generation in the shared state.
``LiveImage.current()`` compares that generation with the one it mapped and maps the new file
when it changed; an ``Image`` already handed out stays valid (its mapping holds the old file),
so a call in progress finishes on the image it started with.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["LiveImage"]


class LiveImage:
    """The image at ``path`` as of the shared state's generation."""

    def __init__(self, path: str | os.PathLike[str], state: Any, image_cls: Any = None) -> None:
        if image_cls is None:
            from routecore import Image as image_cls
        self._path = os.fspath(path)
        self._state = state
        self._image_cls = image_cls
        self._generation: int | None = None
        self._image: Any = None

    @property
    def generation(self) -> int | None:
        """The generation of the image ``current()`` last returned."""
        return self._generation

    def current(self) -> Any:
        """The image to route a new call with (one read of the generation when unchanged)."""
        generation = self._state.generation
        if generation != self._generation or self._image is None:
            self._image = self._image_cls.open(self._path)
            self._generation = generation
        return self._image
