"""Where prompts, recordings and voicemail are on disk (B5, B8, F2).

Prompts: the file the number's flow names for the prompt (``prompts: {welcome: welcome.wav}``)
in ``<prompts>/<400 number>/`` (uploaded with the flow), else
``<prompts>/<400 number>/<name>.<ext>``, else ``<prompts>/<name>.<ext>`` (the system prompts
``sys_*`` and prompts shared by every number), ``<ext>`` one of :data:`PROMPT_EXTENSIONS` in
that order. A prompt with no file is a warning in the log (once per number and name until
the file appears), never a dead call: the adapter goes on without it. What is found (or not) is
kept for :data:`LOOKUP_SECONDS`, so a call costs no file-system lookups and an uploaded or
removed file counts within seconds.

Recordings and voicemail: ``<recordings>/<call>.wav`` named from the call id alone
(:func:`routecore.adapter.values.call_name`), ``<call>-2.wav``… for the call's later
recorded attempts, ``<call>-vm.wav`` for its voicemail; the call record keeps the file name
(the reference ``routecore purge`` deletes by).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Final

from routecore.adapter.values import call_name, checked

__all__ = ["PROMPT_EXTENSIONS", "MediaFiles"]

PROMPT_EXTENSIONS: Final = (".wav", ".sln16", ".sln", ".ulaw", ".alaw", ".gsm", ".g722", ".mp3")
_MISSING_MAX = 4096  # (number, name) pairs warned about, then the set starts again
LOOKUP_SECONDS: Final = 5.0
_CACHE_MAX = 16384

log = logging.getLogger("routecore.adapter")


class MediaFiles:
    """The prompt and recording folders of one adapter process."""

    __slots__ = ("_found", "_missing", "prompts", "recordings")

    def __init__(self, prompts: str, recordings: str) -> None:
        self.prompts = checked(os.path.abspath(prompts), "prompt folder")
        self.recordings = checked(os.path.abspath(recordings), "recording folder")
        self._missing: set[tuple[str, str]] = set()
        self._found: dict[tuple[str, str, str | None], tuple[float, str | None]] = {}

    def prompt(self, did: str, name: str, files: Mapping[str, str] | None = None) -> str | None:
        """The prompt's file (absolute, with its extension), or None (logged) when it has none;
        ``files`` is the flow's ``prompts`` map."""
        named = files.get(name) if files else None
        key = (did, name, named)
        now = time.monotonic()
        known = self._found.get(key)
        if known is not None and known[0] > now:
            return known[1]
        if len(self._found) >= _CACHE_MAX:
            self._found.clear()
        path = self._look_up(did, name, named)
        self._found[key] = (now + LOOKUP_SECONDS, path)
        return path

    def _look_up(self, did: str, name: str, named: str | None) -> str | None:
        checked(name, "prompt name")
        own = os.path.join(self.prompts, checked(did, "400 number"))
        if named:
            path = os.path.join(own, checked(named, "prompt file"))
            if os.path.isfile(path):
                return path
        for folder in (own, self.prompts):
            base = os.path.join(folder, name)
            for ext in PROMPT_EXTENSIONS:
                if os.path.isfile(base + ext):
                    self._missing.discard((did, name))
                    return base + ext
        if (did, name) not in self._missing:
            if len(self._missing) >= _MISSING_MAX:
                self._missing.clear()
            self._missing.add((did, name))
            log.warning("prompt %r of %s has no file under %s: skipped", name, did, self.prompts)
        return None

    def recording(self, call_id: str, attempt: int = 1, *, suffix: str = "") -> tuple[str, str]:
        """``(path, reference)`` of the call's ``attempt``-th recording (``suffix`` ``vm`` for its
        voicemail); the folder is made when missing."""
        name = call_name(call_id)
        if suffix:
            name += "-" + checked(suffix, "recording suffix")
        if attempt > 1:
            name += f"-{attempt}"
        reference = name + ".wav"
        os.makedirs(self.recordings, exist_ok=True)
        return os.path.join(self.recordings, reference), reference
