"""NumPy batch entry points: classify many caller numbers at once, arrays in and out (B6).

For bulk simulation and capacity planning. Shared by both backends: the numbers are laid out
as fixed-width byte strings and handed to the backend classifier's ``_classify_fixed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:  # NumPy is imported at first use: `import routecore` stays light
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["KIND_CODES", "Classified", "as_fixed_bytes", "classify_batch"]

KIND_CODES = ("invalid", "mobile", "landline", "service", "international")
"""``Classified.kind`` holds indices into this tuple."""


class Classified(NamedTuple):
    """Per number: ``kind`` (index into KIND_CODES), ``region`` (index into
    ``segments.regions()``, 0 unknown) and ``area_code`` (numeric: 10 for 010, 755 for 0755,
    0 unknown)."""

    kind: NDArray[np.uint8]
    region: NDArray[np.uint16]
    area_code: NDArray[np.uint16]


class _BatchClassifier(Protocol):
    @property
    def segments(self) -> Any: ...
    def _classify_fixed(self, data: Any, itemsize: int) -> tuple[Any, Any]: ...


def as_fixed_bytes(numbers: Sequence[str] | NDArray[Any]) -> NDArray[np.bytes_]:
    """The numbers as a contiguous array of NUL-padded byte strings (dtype ``S``).

    Accepts str arrays (dtype ``U``; non-ASCII text is encoded as UTF-8 and comes out
    invalid), byte-string arrays (``S``), integer arrays (their decimal digits) and
    sequences of str.
    """
    import numpy as np

    arr = np.asarray(numbers)
    if arr.dtype.kind == "S":
        out = arr
    elif arr.dtype.kind in "iu":
        out = arr.astype("S")
    elif arr.dtype.kind == "U" or arr.dtype.kind == "O" or arr.size == 0:
        try:
            out = arr.astype("S") if arr.size else np.zeros(0, dtype="S1")
        except UnicodeEncodeError:
            out = np.char.encode(arr.astype("U"), "utf-8")
    else:
        raise TypeError(f"cannot classify an array of dtype {arr.dtype}")
    return np.ascontiguousarray(out.reshape(-1))


def classify_batch(
    classifier: _BatchClassifier, numbers: Sequence[str] | NDArray[Any]
) -> Classified:
    """Classify every number of ``numbers`` with ``classifier``."""
    import numpy as np

    fixed = as_fixed_bytes(numbers)
    itemsize = max(fixed.dtype.itemsize, 1)
    if fixed.dtype.itemsize == 0:
        fixed = fixed.astype("S1")
    kind, region = classifier._classify_fixed(fixed.view(np.uint8), itemsize)
    codes = np.array(
        [int(a) if a else 0 for a, _, _ in classifier.segments.regions()], dtype=np.uint16
    )
    return Classified(kind, region, codes[region])
