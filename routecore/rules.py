"""What a name, a number, a time zone and a time are: one set of rules for the flow format, the
Actions and Events, and the compiled core, so that a flow that validates never makes a call
raise and an Event that decodes never makes a later layer raise.

Every check is of the whole string (never a pattern's ``$``, which also matches before a trailing
newline: that is how ``"box\\n"`` once passed as a name).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = [
    "DEFAULT_TZ",
    "FLOW_NAME_MAX",
    "NUMBER_MAX",
    "NUMBER_MIN",
    "SAFE_NAME_MAX",
    "TIME_MAX",
    "is_flow_name",
    "is_number",
    "is_safe_name",
    "is_time",
    "is_zone",
]

DEFAULT_TZ: Final = "Asia/Shanghai"
"""The time zone of a flow, a report, a day's call memory and counters, and a billing month,
unless told otherwise: China's (the brief's operator is in China). The compiled core has the
same constant of its own."""

FLOW_NAME_MAX: Final = 64
SAFE_NAME_MAX: Final = 128
NUMBER_MIN: Final = 3
NUMBER_MAX: Final = 20
TIME_MAX: Final = 2**32 - 1
"""The latest time an Event may carry (unix seconds: 2106-02-07), the range every layer keeps to
(the shared state stamps seconds in 32 bits)."""

# A name in a flow (a menu, group, box, destination, prompt): a letter, _ or a Chinese
# character first, then letters, digits, _ - and Chinese characters:
# ``[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\-\u4e00-\u9fff]{0,63}``.
# A name an Action carries to a PBX (prompts, boxes, rooms, call ids, references): nothing a
# dial string, a command line or a path could be bent by. Every flow name is one:
# ``[A-Za-z0-9_\u4e00-\u9fff][A-Za-z0-9_.\-\u4e00-\u9fff]*``, without ``..``.
# ASCII text (the common case) is matched by the patterns without the Chinese range (they
# match the same ASCII strings), other text character by character: a character class over
# the Chinese range takes milliseconds to compile, paid at the start of every process-per-call
# script.
_FLOW_NAME_ASCII = re.compile(rf"[A-Za-z_][A-Za-z0-9_\-]{{0,{FLOW_NAME_MAX - 1}}}")
_SAFE_NAME_ASCII = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_ALNUM_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _name_chars(value: str, extra: str) -> bool:
    """Every character of ``value`` is an ASCII letter or digit, one of ``extra`` or a Chinese
    character (U+4E00-U+9FFF)."""
    return all(c in _ALNUM_ASCII or c in extra or "\u4e00" <= c <= "\u9fff" for c in value)


def is_flow_name(value: object) -> bool:
    """A name a flow gives one of its parts (``FLOW_NAME_MAX`` characters at most)."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return _FLOW_NAME_ASCII.fullmatch(value) is not None
    return (
        len(value) <= FLOW_NAME_MAX
        and not ("0" <= value[0] <= "9" or value[0] == "-")
        and _name_chars(value, "_-")
    )


def is_safe_name(value: object) -> bool:
    """A name an Action may carry: 1-128 of ``A-Za-z0-9_.-`` and Chinese characters, not
    starting with ``.`` or ``-``, no ``..``."""
    if not isinstance(value, str) or len(value) > SAFE_NAME_MAX or ".." in value:
        return False
    if value.isascii():
        return _SAFE_NAME_ASCII.fullmatch(value) is not None
    return value[0] not in ".-" and _name_chars(value, "_.-")


def is_number(value: object) -> bool:
    """A number to dial or a 400 number: 3-20 ASCII digits."""
    return (
        isinstance(value, str)
        and NUMBER_MIN <= len(value) <= NUMBER_MAX
        and value.isascii()
        and value.isdigit()
    )


def is_time(value: object) -> bool:
    """Unix seconds an Event may carry: a float (or int) from 0 to :data:`TIME_MAX`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value <= TIME_MAX


@lru_cache(maxsize=256)
def is_zone(name: str) -> bool:
    """An IANA time zone both Python (zoneinfo) and the compiled core know: ``Asia/Shanghai``,
    ``UTC``; not ``posix/…``, ``right/…``, ``localtime`` or a path."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isascii():
        return False
    if name.startswith(("posix/", "right/", "/")) or ".." in name or name == "localtime":
        return False
    import zoneinfo  # here: a script that never checks a zone does not load it

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    try:
        from routecore._native import zone_known
    except ImportError:  # no compiled core (ROUTECORE_BACKEND=py): zoneinfo's word is enough
        return True
    return bool(zone_known(name))
