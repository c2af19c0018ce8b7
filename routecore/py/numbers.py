"""Caller numbers, plainly: the twin of ``crates/routecore-core/src/numbers.rs``.

See that file for the rules; both backends give the same Caller for every string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routecore.py.segments import CARRIERS, SegmentTable

MAX_INPUT = 64
KIND_NAMES = ("invalid", "mobile", "landline", "service", "international")
IP_PREFIXES = (
    "17951",
    "12593",
    "17911",
    "10193",
    "17901",
    "17909",
    "17908",
    "17910",
    "17931",
    "17969",
    "17950",
    "11808",
    "96688",
)
_SKIP = frozenset(" \t-.()")
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Caller:
    """A classified caller number.

    ``kind`` is one of "mobile", "landline", "service", "international", "invalid";
    ``number`` is the normalised number ("" when invalid); ``area_code``, ``province`` and
    ``city`` are known for mobiles in the segment table and landlines with an area code;
    ``carrier`` for mobiles whose segment has one.
    """

    kind: str
    number: str
    area_code: str | None = None
    province: str | None = None
    city: str | None = None
    carrier: str | None = None


# (kind code, normalised number, region id, carrier code)
_Result = tuple[int, str, int, int]
_INVALID: _Result = (0, "", 0, 0)


def _is_mobile(d: str) -> bool:
    return len(d) == 11 and d[0] == "1" and "3" <= d[1] <= "9"


def _is_service(d: str) -> bool:
    n = len(d)
    if n == 3:
        return d[0] == "1" and d[1] in "12"
    if n == 5 and d[0] == "1" and d[1] in "012":
        return True
    if n == 10 and (d.startswith("400") or d.startswith("800")):
        return True
    return d.startswith("95") and 5 <= n <= 8


def _is_local(d: str) -> bool:
    return 7 <= len(d) <= 8 and d[0] != "0"


def _is_bare_local(d: str) -> bool:
    return 7 <= len(d) <= 8 and "2" <= d[0] <= "9"


class Classifier:
    """Classifies caller strings against one segment table."""

    __slots__ = ("_regions", "segments")

    def __init__(self, segments: SegmentTable) -> None:
        self.segments = segments
        self._regions = segments.regions()

    def _mobile(self, d: str) -> _Result:
        region, carrier = self.segments.segment(int(d[:7]))
        return (1, d, region, carrier)

    def _national(self, d: str) -> _Result:
        if _is_mobile(d):
            return self._mobile(d)
        if len(d) == 12 and d[0] == "0" and _is_mobile(d[1:]):
            return self._mobile(d[1:])
        if _is_service(d):
            return (3, d, 0, 0)
        if 10 <= len(d) <= 12 and d[0] == "0":
            m = self.segments.area(d)
            if m is not None and _is_local(d[m[1] :]):
                return (2, d, m[0], 0)
            return _INVALID
        if _is_bare_local(d):
            return (2, d, 0, 0)
        return _INVALID

    def _after_country_code(self, d: str) -> _Result:
        if not d or d[0] in "01" or _is_service(d):
            return self._national(d)
        if len(d) > 11:
            return _INVALID
        return self._national("0" + d)

    @staticmethod
    def _international(d: str) -> _Result:
        if 7 <= len(d) <= 15 and d[0] != "0":
            return (4, "+" + d, 0, 0)
        return _INVALID

    def classify_raw(self, number: str | bytes) -> _Result:
        """(kind code, normalised number, region id, carrier code) of a caller string."""
        if isinstance(number, bytes):
            if len(number) > MAX_INPUT:
                return _INVALID
            try:
                number = number.decode("ascii")
            except UnicodeDecodeError:
                return _INVALID
        if len(number.encode("utf-8", "surrogatepass")) > MAX_INPUT:
            return _INVALID
        kept: list[str] = []
        plus = False
        for ch in number:
            if ch in _DIGITS:
                kept.append(ch)
            elif ch == "+" and not kept and not plus:
                plus = True
            elif ch not in _SKIP:
                return _INVALID
        d = "".join(kept)
        if not d:
            return _INVALID
        if plus:
            return self._after_country_code(d[2:]) if d.startswith("86") else self._international(d)
        if d.startswith("00"):
            rest = d[2:]
            if rest.startswith("86"):
                return self._after_country_code(rest[2:])
            return self._international(rest)
        if len(d) >= 15 and d[:5] in IP_PREFIXES:  # then a mobile or landline: 10-12 digits
            r = self._national(d[5:])
            if r[0] in (1, 2):
                return r
        if len(d) == 13 and d.startswith("86") and _is_mobile(d[2:]):
            return self._mobile(d[2:])
        return self._national(d)

    def _classify_fixed(self, data: Any, itemsize: int) -> tuple[Any, Any]:
        """Batch twin of the native entry point: (kind codes, region ids) as NumPy arrays."""
        import numpy as np

        raw = bytes(memoryview(data).cast("B"))
        n = len(raw) // itemsize
        kinds = np.zeros(n, dtype=np.uint8)
        regions = np.zeros(n, dtype=np.uint16)
        for i in range(n):
            item = raw[i * itemsize : (i + 1) * itemsize].split(b"\0", 1)[0]
            kind, _, region, _ = self.classify_raw(item)
            kinds[i] = kind
            regions[i] = region
        return kinds, regions

    def classify(self, number: str) -> Caller:
        """Normalise and classify one caller string; never raises for any string."""
        kind, norm, region, carrier = self.classify_raw(number)
        if region:
            area, province, city = self._regions[region]
            return Caller(KIND_NAMES[kind], norm, area, province, city, CARRIERS[carrier] or None)
        return Caller(KIND_NAMES[kind], norm, carrier=CARRIERS[carrier] or None)
