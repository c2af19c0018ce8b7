"""The pure-Python reference of routecore's core: the same API and results as the compiled
core, written plainly. The differential tests compare the two; every benchmark uses it as
its baseline. Select it with ``ROUTECORE_BACKEND=py`` or ``routecore.get_backend("py")``.
"""

from __future__ import annotations

from routecore.backend.batch import KIND_CODES, Classified
from routecore.backend.defaults import Defaults
from routecore.py.group import Group
from routecore.py.image import Image, blob_table, build_image
from routecore.py.numbers import Caller, Classifier
from routecore.py.rng import SplitMix64
from routecore.py.segments import SegmentTable
from routecore.py.select import MODES, Attempt
from routecore.py.state import STATE_BRANCHES, Claim, Destination, State
from routecore.py.timeplan import TimePlan
from routecore.py.trie import Trie

NAME = "py"

_defaults = Defaults(SegmentTable, Classifier)
load_segments = _defaults.load_segments
default_classifier = _defaults.default_classifier
set_default_classifier = _defaults.set_default_classifier
classify_batch = _defaults.classify_batch


def classify(number: str) -> Caller:
    """Classify one caller string with the default classifier (built at first use)."""
    return default_classifier().classify(number)


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
