"""The per-backend conveniences built on a backend's classes: loading segment tables, the
default classifier (phone.dat, loaded at first use) and module-level ``classify``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from routecore import batch, segment_data

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
        """The classifier over the ``phone`` package's data, built at first use."""
        if self._default is None:
            self._default = self.classifier_cls(self.load_segments())
        return self._default

    def set_default_classifier(self, classifier: C) -> None:
        """Make ``classify``/``classify_batch`` use ``classifier`` (e.g. over a user table)."""
        self._default = classifier

    def classify_batch(
        self, numbers: Sequence[str] | Any, classifier: C | None = None
    ) -> batch.Classified:
        """Classify an array of numbers (see :func:`routecore.batch.classify_batch`)."""
        return batch.classify_batch(
            classifier if classifier is not None else self.default_classifier(),  # type: ignore[arg-type]
            numbers,
        )
