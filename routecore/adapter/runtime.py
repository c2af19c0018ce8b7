"""What an adapter process opens once and shares between its calls: the live routing image,
the host's shared state, the call store, the media folders and the dial templates."""

from __future__ import annotations

import logging
import os
from typing import Any

from routecore.adapter.config import AdapterConfig
from routecore.adapter.media import MediaFiles
from routecore.errors import StateError

__all__ = ["Runtime", "open_state"]

log = logging.getLogger("routecore.adapter")


def open_state(path: str) -> Any:
    """The shared state at ``path``, made (with the default sizes) when there is none yet."""
    from routecore._backend import get_backend

    state_cls = get_backend().State
    if not os.path.exists(path):
        try:
            return state_cls.create(path)
        except StateError:
            pass  # another process made it first: open theirs
    return state_cls.open(path)


class Runtime:
    """One process's shared pieces (see the module). ``close`` releases them."""

    def __init__(self, config: AdapterConfig, *, open_store: bool = True) -> None:
        from routecore.live import LiveImage

        self.config = config
        self.state = open_state(config.state)
        self.image = LiveImage(config.image, self.state)
        self.media = MediaFiles(config.prompts, config.recordings)
        self.dial = config.dial
        self._calls: Any = None
        if open_store:
            self.calls  # noqa: B018 - a server finds an unusable call store at its start

    @property
    def calls(self) -> Any:
        """The call store (None: records are not kept), opened at its first use: a process per
        call opens it when the call ends, after its first command went out."""
        if self._calls is None and self.config.calls is not None:
            from routecore.store.calls import CallStore

            self._calls = CallStore(self.config.calls)
        return self._calls

    def add(self, record: Any) -> None:
        """Keep a call's record (what a CallSession's ``records`` receives)."""
        store = self.calls
        if store is not None:
            store.add(record)

    def session(self) -> Any:
        """A new CallSession on the image current now, recording into the call store."""
        from routecore.engine.session import CallSession

        return CallSession(self.image.current(), self.state, records=self)

    def close(self) -> None:
        if self._calls is not None:
            self._calls.close()
            self._calls = None
