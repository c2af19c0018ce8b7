"""routecore: the call-routing engine of a 400-number cloud call center.

The public API is re-exported here from the chosen backend: the compiled core
(``routecore.native``, the default) or the pure-Python reference (``routecore.py``), chosen by
the environment variable ``ROUTECORE_BACKEND`` (``native`` or ``py``) at import time, or per
call site with :func:`get_backend`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routecore._backend import BACKENDS, get_backend
from routecore.batch import KIND_CODES, Classified
from routecore.engine import CallRecord, CallSession
from routecore.engine.actions import (
    Answered,
    CallerHungUp,
    CallStarted,
    Collect,
    Conference,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    DropLeg,
    Hangup,
    KeepAlive,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
)
from routecore.engine.dialer import Routed, route
from routecore.errors import (
    ActionError,
    FlowError,
    LayoutError,
    RoutecoreError,
    SegmentDataError,
    SelectionError,
    StateError,
    StoreError,
    TimePlanError,
    TrieError,
)
from routecore.flow import load_flow
from routecore.live import LiveImage

_backend = get_backend()

BACKEND: str = _backend.NAME
Caller = _backend.Caller
Classifier = _backend.Classifier
Group = _backend.Group
Attempt = _backend.Attempt
MODES: tuple[str, ...] = _backend.MODES
Image = _backend.Image
build_image = _backend.build_image
blob_table = _backend.blob_table
SegmentTable = _backend.SegmentTable
SplitMix64 = _backend.SplitMix64
TimePlan = _backend.TimePlan
State = _backend.State
Claim = _backend.Claim
Destination = _backend.Destination
Trie = _backend.Trie
load_segments = _backend.load_segments
default_classifier = _backend.default_classifier
classify_batch = _backend.classify_batch


def set_default_classifier(classifier: Any) -> None:
    """Make ``routecore.classify`` and ``classify_batch`` use ``classifier`` from now on.

    (A ``classify`` imported by name before the change keeps the classifier it was bound to.)
    """
    _backend.set_default_classifier(classifier)
    globals().pop("classify", None)  # rebound at next use


classify: Callable[[str], Any]
"""Classify one caller string (``routecore.classify("+86 138-0013-8000").kind == "mobile"``)."""


def __getattr__(name: str) -> Any:
    if name == "classify":  # bound at first use: loading phone.dat waits until it is needed
        fn = _backend.classify
        globals()["classify"] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKEND",
    "BACKENDS",
    "KIND_CODES",
    "MODES",
    "ActionError",
    "Answered",
    "Attempt",
    "CallRecord",
    "CallSession",
    "CallStarted",
    "Caller",
    "CallerHungUp",
    "Claim",
    "Classified",
    "Classifier",
    "Collect",
    "Conference",
    "ConferenceResult",
    "Destination",
    "Dial",
    "DialResult",
    "Digits",
    "DropLeg",
    "FlowError",
    "Group",
    "Hangup",
    "Image",
    "KeepAlive",
    "LayoutError",
    "LiveImage",
    "OutboundStarted",
    "Play",
    "RoutecoreError",
    "Routed",
    "SegmentDataError",
    "SegmentTable",
    "SelectionError",
    "SplitMix64",
    "State",
    "StateError",
    "StoreError",
    "Survey",
    "SurveyResult",
    "TimePlan",
    "TimePlanError",
    "Trie",
    "TrieError",
    "Voicemail",
    "VoicemailResult",
    "blob_table",
    "build_image",
    "classify",
    "classify_batch",
    "default_classifier",
    "get_backend",
    "load_flow",
    "load_segments",
    "route",
    "set_default_classifier",
]
