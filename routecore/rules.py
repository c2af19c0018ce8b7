"""What a name, a number, a time zone and a time are: one set of rules for the flow format, the
Actions and Events, and the compiled core, so that a flow that validates never makes a call
raise and an Event that decodes never makes a later layer raise.

Every check is a whole-string match (``fullmatch``): ``$`` in a Python pattern also matches
before a trailing newline, which is how ``"box\\n"`` once passed as a name.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Final

__all__ = [
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

FLOW_NAME_MAX: Final = 64
SAFE_NAME_MAX: Final = 128
NUMBER_MIN: Final = 3
NUMBER_MAX: Final = 20
TIME_MAX: Final = 2**32 - 1
"""The latest time an Event may carry (unix seconds: 2106-02-07), the range every layer keeps to
(the shared state stamps seconds in 32 bits)."""

_CJK = "\u4e00-\u9fff"
# A name in a flow (a menu, group, box, destination, prompt): a letter, _ or a Chinese
# character first, then letters, digits, _ - and Chinese characters.
_FLOW_NAME = re.compile(rf"[A-Za-z_{_CJK}][A-Za-z0-9_\-{_CJK}]{{0,{FLOW_NAME_MAX - 1}}}")
# A name an Action carries to a PBX (prompts, boxes, rooms, call ids, references): nothing a
# dial string, a command line or a path could be bent by. Every flow name is one.
_SAFE_NAME = re.compile(rf"[A-Za-z0-9_{_CJK}][A-Za-z0-9_.\-{_CJK}]*")


def is_flow_name(value: object) -> bool:
    """A name a flow gives one of its parts (``FLOW_NAME_MAX`` characters at most)."""
    return isinstance(value, str) and _FLOW_NAME.fullmatch(value) is not None


def is_safe_name(value: object) -> bool:
    """A name an Action may carry: 1-128 of ``A-Za-z0-9_.-`` and Chinese characters, not
    starting with ``.`` or ``-``, no ``..``."""
    return (
        isinstance(value, str)
        and len(value) <= SAFE_NAME_MAX
        and _SAFE_NAME.fullmatch(value) is not None
        and ".." not in value
    )


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
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    from routecore._native import zone_known

    return bool(zone_known(name))
