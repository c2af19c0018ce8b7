"""The per-backend conveniences built on a backend's classes: loading segment tables, the
default classifier (phone.dat, loaded at first use) and module-level ``classify`` (B6)."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from routecore.backend import batch
from routecore.data import segments as segment_data

T = TypeVar("T")
C = TypeVar("C")


class Defaults(Generic[T, C]):
    """Holds one backend's SegmentTable and Classifier classes and its default classifier."""

    def __init__(self, table_cls: type[T], classifier_cls: Callable[[T], C]) -> None:
        self.table_cls = table_cls
        self.classifier_cls = classifier_cls
        self._default: C | None = None

    def load_segments(
        self,
        csv: Iterable[str | os.PathLike[str]] = (),
        *,
        base: bool = True,
        phone_dat: str | os.PathLike[str] | None = None,
    ) -> T:
        """phone.dat (unless ``base`` is False) with the rows of each CSV file laid over it."""
        return segment_data.load_segments(self.table_cls, csv, base=base, phone_dat=phone_dat)

    def default_classifier(self) -> C:
        """The classifier over the ``phone`` package's data, built at first use.

        The built table is cached as a file (see :func:`cached_default_segments`), so a
        process started for one call maps it instead of parsing phone.dat again.
        """
        if self._default is None:
            self._default = self.classifier_cls(self.cached_default_segments())
        return self._default

    def cached_default_segments(self) -> T:
        """The table built from phone.dat, mapped from the cache file when there is one.

        The cache lives in ``$ROUTECORE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/routecore`` or
        ``~/.cache/routecore``; ``off`` disables it), named after phone.dat's size and mtime and
        the table layout version; it is written atomically and checked (header and CRC) on
        use. Any problem with it falls back to building in memory.
        """
        path = _cache_path()
        if path is not None:
            try:
                with open(path, "rb") as f:
                    mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                table = self.table_cls.from_buffer(mapped)  # type: ignore[attr-defined]
                table.verify()
                return table  # type: ignore[no-any-return]
            except (OSError, ValueError):
                pass  # missing, unreadable or corrupt: rebuild below
        table = self.load_segments()
        if path is not None:
            from pathlib import Path  # only to write the cache (once per phone.dat)

            try:
                written = Path(path)
                written.parent.mkdir(parents=True, exist_ok=True)
                tmp = written.with_name(f"{written.name}.{os.getpid()}.tmp")
                tmp.write_bytes(table.to_bytes())  # type: ignore[attr-defined]
                os.replace(tmp, written)
            except OSError:
                pass  # a read-only home: no cache, same answers
        return table

    def set_default_classifier(self, classifier: C) -> None:
        """Make ``classify``/``classify_batch`` use ``classifier`` (e.g. over a user table)."""
        self._default = classifier

    def classify_batch(
        self, numbers: Sequence[str] | Any, classifier: C | None = None
    ) -> batch.Classified:
        """Classify an array of numbers (see :func:`routecore.backend.batch.classify_batch`)."""
        return batch.classify_batch(
            classifier if classifier is not None else self.default_classifier(),  # type: ignore[arg-type]
            numbers,
        )


def _cache_path() -> str | None:
    """The cache file of the default table (None: no cache). With ``os.path``, not ``pathlib``:
    a process-per-call script's first classification comes here, and ``pathlib`` (with
    ``urllib.parse`` and ``ipaddress``) takes milliseconds to import."""
    where = os.environ.get("ROUTECORE_CACHE_DIR")
    if where == "off":
        return None
    if not where:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(_home(), ".cache")
        where = os.path.join(base, "routecore")
    try:
        st = os.stat(segment_data._phone_dat_file())
    except OSError:
        return None
    layout = f"{segment_data.TABLE_MAGIC.decode().lower()}{segment_data.TABLE_VERSION}"
    name = f"segments-{layout}-{st.st_size}-{st.st_mtime_ns}.bin"
    return os.path.join(where, name)


def _home() -> str:
    """The home directory, as ``pathlib.Path.home()`` finds it (and fails)."""
    home = os.path.expanduser("~")
    if home[:1] == "~":
        raise RuntimeError("Could not determine home directory.")
    return home
