"""Caller IDs as PBXs send them: sanitised for the record, reduced to the number in them (B6).

Asterisk's ``agi_callerid`` and FreeSWITCH's ``Caller-Caller-ID-Number`` carry whatever the
network delivered: ``13800138000``, ``+86 138-0013-8000``, ``"Zhang San" <13800138000>``,
``sip:13800138000@10.0.0.1;user=phone``, ``anonymous``, ``unknown``, ``Restricted`` or nothing.
The engine never refuses one: :func:`sanitise_caller` keeps a printable copy for the record, and
:func:`caller_number_text` picks the part a classifier should read. A caller the classifier
finds no number in is treated as withheld (default routes, no call memory, no SMS). Neither
value ever reaches a PBX command: Actions carry only numbers the flow or the state gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["WITHHELD", "caller_number_text", "default_classify", "sanitise_caller"]

WITHHELD = "withheld"
"""The caller kind of a call whose caller ID holds no number."""

_ANGLE = re.compile(r"<([^<>]*)>")
_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)


def sanitise_caller(raw: str, limit: int) -> str:
    """``raw`` without characters that are not printable (controls, line breaks, lone
    surrogates, format characters), stripped and cut to ``limit`` characters. The same object
    when nothing changes (the common case costs one scan)."""
    if raw.isprintable() and len(raw) <= limit and raw == raw.strip():
        return raw
    kept = "".join(ch for ch in raw if ch.isprintable())
    return kept.strip()[:limit].strip()


def caller_number_text(raw: str) -> str:
    """The part of a caller ID that may hold the number: inside ``<…>`` when there is one,
    without a ``sip:``/``tel:`` scheme, an ``@host`` or ``;parameters``."""
    if raw.isdigit():  # the common case: the PBX sent plain digits
        return raw
    m = _ANGLE.search(raw)
    text = m.group(1) if m else raw
    text = _SCHEME.sub("", text.strip())
    for sep in ("@", ";"):
        text = text.split(sep, 1)[0]
    return text


def default_classify() -> Callable[[str], Any]:
    """The default backend's ``classify`` (as ``routecore.classify``, without importing the
    package root), looked up at each call so ``set_default_classifier`` takes effect."""
    from routecore.backend import get_backend

    return get_backend().classify  # type: ignore[no-any-return]
