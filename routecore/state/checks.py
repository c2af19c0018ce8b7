"""The arguments every state store checks alike: numbers, callers, branches, sizes, times, zones.

A wrong argument is the same :class:`~routecore.errors.StateError`, with the same message, from
the pure-Python twin's state file (``routecore.py.state``) and from the Redis store
(``routecore.state.redis``), as from the compiled core; both take these checks from here.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routecore.errors import StateError
from routecore.state.format import BRANCHES, LEASES

__all__ = [
    "EPOCH",
    "GROUP_CAP",
    "MAX_TIME",
    "caller_bytes",
    "check_branch",
    "check_capacity",
    "check_claim",
    "check_group",
    "check_seconds",
    "check_time",
    "day_name",
    "did_bytes",
    "local_day",
    "midnight",
    "number_bytes",
    "zone_info",
]

GROUP_CAP = 64  # characters of a group name
MAX_TIME = 1e13
EPOCH = date(1970, 1, 1).toordinal()  # a day number is days since 1970-01-01


def _digits(number: object, lo: int, hi: int, what: str) -> bytes:
    if (
        not isinstance(number, str)
        or not lo <= len(number) <= hi
        or not number.isascii()
        or not number.isdigit()
    ):
        raise StateError(f"{what} must be {lo}-{hi} ASCII digits, not {number!r}")
    return number.encode()


def number_bytes(number: object) -> bytes:
    """A destination number: 3-20 ASCII digits."""
    return _digits(number, 3, 20, "a destination number")


def did_bytes(did: object) -> bytes:
    """A 400 number (the key of call memory and counters): 3-15 ASCII digits."""
    return _digits(did, 3, 15, "a 400 number")


def caller_bytes(caller: object) -> bytes:
    """A caller as the PBX gave it: 1-23 bytes of UTF-8 (digits, '+', 'anonymous', ...)."""
    raw = caller.encode("utf-8", "surrogatepass") if isinstance(caller, str) else b""
    if not 1 <= len(raw) <= 23:
        raise StateError(f"a caller must be 1-23 bytes of UTF-8, not {caller!r}")
    return raw


def check_claim(candidates: object, call_id: object) -> dict[str, bytes]:
    """A claim's candidates, each once in order with its bytes; StateError for one string given
    as the candidates, a number that is not one, or a call id that is not a string."""
    if isinstance(candidates, str | bytes):
        raise StateError("candidates must be a sequence of numbers, not one string")
    wanted: dict[str, bytes] = {}
    for number in candidates:  # type: ignore[attr-defined]
        raw = number_bytes(number)
        wanted.setdefault(number, raw)
    if not isinstance(call_id, str):
        raise StateError(f"call_id must be a string, not {call_id!r}")
    return wanted


def check_group(group: object) -> str:
    """A round-robin group's name: 1 to ``GROUP_CAP`` characters."""
    if not isinstance(group, str) or not 1 <= len(group) <= GROUP_CAP:
        raise StateError(f"a group name must be 1 to {GROUP_CAP} characters, not {group!r}")
    return group


def check_branch(branch: object) -> int:
    if not isinstance(branch, int) or isinstance(branch, bool) or not 0 <= branch < BRANCHES:
        raise StateError(f"branch must be an integer in 0..{BRANCHES - 1}, not {branch!r}")
    return branch


def check_capacity(capacity: object) -> int:
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= LEASES:
        raise StateError(f"capacity must be an integer in 1..{LEASES}, not {capacity!r}")
    return capacity


def check_seconds(value: object, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise StateError(f"{what} must be finite seconds >= 0, not {value!r}")
    return float(value)


def check_time(at: object) -> float:
    if (
        isinstance(at, bool)
        or not isinstance(at, int | float)
        or not math.isfinite(at)
        or abs(at) > MAX_TIME
    ):
        raise StateError(f"time {at!r} is out of range (finite unix seconds, |at| <= 1e13)")
    return float(at)


@lru_cache(maxsize=64)
def zone_info(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local_day(at: float, tz: str) -> int:
    """Days since 1970-01-01 of the local date of unix time ``at`` in zone ``tz``."""
    at = check_time(at)
    if not isinstance(tz, str):
        raise StateError(f"time zone must be a string, not {tz!r}")
    try:
        zone = zone_info(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise StateError(f"unknown time zone {tz!r}") from e
    try:
        local = datetime.fromtimestamp(math.floor(at), zone)
    except (OverflowError, OSError, ValueError) as e:
        raise StateError(f"time {at!r} is out of range") from e
    return local.toordinal() - EPOCH


def midnight(day: int, tz: str) -> float:
    """Unix time of 24:00 at the end of local day ``day`` (days since 1970-01-01) in ``tz``."""
    try:
        d = date.fromordinal(EPOCH + day + 1)
    except (ValueError, OverflowError):
        return math.inf
    return datetime(d.year, d.month, d.day, tzinfo=zone_info(tz)).timestamp()


def day_name(day: int) -> str:
    """The ISO date of local day ``day``."""
    return date.fromordinal(EPOCH + day).isoformat()
