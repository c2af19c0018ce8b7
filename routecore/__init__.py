"""routecore: the call-routing engine of a 400-number cloud call center.

The public API is re-exported here from the chosen backend: the compiled core
(``routecore.backend.native``, the default) or the pure-Python reference (``routecore.py``),
chosen by the environment variable ``ROUTECORE_BACKEND`` (``native`` or ``py``) when a name is
first used, or per call site with :func:`get_backend`. Importing the package loads nothing
else: each name is imported at its first use.

Without the compiled core (a source tree nobody built), importing the package raises
:class:`~routecore.errors.NativeImportError`, an ImportError saying how to build it (``make
install`` or ``maturin develop --release``), unless ``ROUTECORE_BACKEND=py`` chooses the
pure-Python reference, which needs no build.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from routecore.backend import BACKENDS, check_default_backend, get_backend

check_default_backend()  # no compiled core, and the environment wants it: say how to build it
del check_default_backend

if TYPE_CHECKING:  # the static view; at run time every name is imported at its first use
    from routecore.backend.batch import KIND_CODES, Classified
    from routecore.backend.native import (
        MODES,
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
        classify_batch,
        default_classifier,
        load_segments,
    )
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
        StoreUnavailable,
        TimePlanError,
        TrieError,
    )
    from routecore.flow import load_flow
    from routecore.state import open_state
    from routecore.state.live import LiveImage

    BACKEND: str

# Where each public name lives. Importing ``routecore`` loads nothing more: a PBX adapter's
# process-per-call script that routes one call imports the engine and the backend, never the
# flow models (pydantic), YAML or the command line.
_HOME = {
    "KIND_CODES": "routecore.backend.batch",
    "Classified": "routecore.backend.batch",
    "CallRecord": "routecore.engine.record",
    "CallSession": "routecore.engine.session",
    "Routed": "routecore.engine.dialer",
    "route": "routecore.engine.dialer",
    "load_flow": "routecore.flow",
    "LiveImage": "routecore.state.live",
    "open_state": "routecore.state",
    **dict.fromkeys(
        (
            "Answered CallerHungUp CallStarted Collect Conference ConferenceResult Dial "
            "DialResult Digits DropLeg Hangup KeepAlive OutboundStarted Play Survey "
            "SurveyResult Voicemail VoicemailResult"
        ).split(),
        "routecore.engine.actions",
    ),
    **dict.fromkeys(
        (
            "ActionError FlowError LayoutError RoutecoreError SegmentDataError SelectionError "
            "StateError StoreError StoreUnavailable TimePlanError TrieError"
        ).split(),
        "routecore.errors",
    ),
}
_FROM_BACKEND = frozenset(
    (
        "Caller Classifier Group Attempt MODES Image build_image blob_table SegmentTable "
        "SplitMix64 TimePlan State Claim Destination Trie load_segments default_classifier "
        "classify_batch"
    ).split()
)


def _backend() -> Any:
    return get_backend()


def set_default_classifier(classifier: Any) -> None:
    """Make ``routecore.classify`` and ``classify_batch`` use ``classifier`` from now on.

    (A ``classify`` imported by name before the change keeps the classifier it was bound to.)
    """
    _backend().set_default_classifier(classifier)
    globals().pop("classify", None)  # rebound at next use


classify: Callable[[str], Any]
"""Classify one caller string (``routecore.classify("+86 138-0013-8000").kind == "mobile"``)."""


def __getattr__(name: str) -> Any:
    """Each public name at its first use (then kept in the module's namespace)."""
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    elif name in _FROM_BACKEND:
        value = getattr(_backend(), name)
    elif name == "BACKEND":
        value = _backend().NAME
    elif name == "classify":  # bound at first use: loading phone.dat waits until it is needed
        value = _backend().classify
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "StoreUnavailable",
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
    "open_state",
    "route",
    "set_default_classifier",
]
