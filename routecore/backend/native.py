"""The native backend: the compiled core ``routecore._native`` under the public API.

The names here are the same as in :mod:`routecore.py`, the pure-Python reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routecore.backend.defaults import Defaults

try:
    from routecore._native import (
        MODES,
        STATE_BRANCHES,
        Attempt,
        Caller,
        Claim,
        Classifier,
        Destination,
        Group,
        Image,
        SegmentTable,
        SplitMix64,
        State,
        TimePlan,
        Trie,
        blob_table,
        build_image,
    )
except ImportError as e:  # not built (or not loadable): say how to build it
    from routecore.backend import native_error

    raise native_error(e) from e
from routecore.backend.batch import KIND_CODES, Classified

NAME = "native"

_defaults = Defaults(SegmentTable, Classifier)
load_segments = _defaults.load_segments
default_classifier = _defaults.default_classifier
classify_batch = _defaults.classify_batch


def set_default_classifier(classifier: Classifier) -> None:
    """Make ``classify`` and ``classify_batch`` use ``classifier`` from now on."""
    _defaults.set_default_classifier(classifier)
    globals().pop("classify", None)  # rebound to the new classifier at next use


classify: Callable[[str], Caller]
"""Classify one caller string with the default classifier (bound at first use)."""


def __getattr__(name: str) -> Any:
    # `classify` is the default classifier's bound method itself: no Python frame per call.
    if name == "classify":
        fn = default_classifier().classify
        globals()["classify"] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KIND_CODES",
    "MODES",
    "NAME",
    "STATE_BRANCHES",
    "Attempt",
    "Caller",
    "Claim",
    "Classified",
    "Classifier",
    "Destination",
    "Group",
    "Image",
    "SegmentTable",
    "SplitMix64",
    "State",
    "TimePlan",
    "Trie",
    "blob_table",
    "build_image",
    "classify",
    "classify_batch",
    "default_classifier",
    "load_segments",
    "set_default_classifier",
]
