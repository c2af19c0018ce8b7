"""The one check every value put into a PBX command passes (dial strings, file names,
variables, rooms, boxes): a caller ID or digits can never inject a command, an application, a
channel variable or a dial target.

A value is 1-1024 characters of ``A-Za-z0-9``, Chinese characters and ``_ . - + * : @ /``, with
no ``..``. Everything that structures a command is outside that set: whitespace and control
characters (line ends), ``& , | ;`` (target and argument separators), quotes and ``\\``,
``$ { } [ ] ( ) ^ %`` (Asterisk and FreeSWITCH variable expansion, channel variables, option
lists), ``= # ! ? < > ~``. The adapters join checked values with the separators they own.
"""

from __future__ import annotations

import re
from typing import Final

from routecore.adapter.errors import UnsafeValue

__all__ = ["VALUE_MAX", "call_name", "checked", "transfer_number"]

VALUE_MAX: Final = 1024
_VALUE = re.compile(rf"[A-Za-z0-9_.+*:@/\-\u4e00-\u9fff]{{1,{VALUE_MAX}}}")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def checked(value: object, what: str) -> str:
    """``value`` itself when it may go into a PBX command; :class:`UnsafeValue` naming ``what``
    otherwise."""
    if isinstance(value, str) and _VALUE.fullmatch(value) is not None and ".." not in value:
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise UnsafeValue(f"{what}: {shown} cannot go into a PBX command")


def call_name(call_id: str) -> str:
    """A file and log name for a call: the PBX's call id when it is a plain name of up to 64
    characters (``rcpbx-1796174071.0``, a UUID), else ``call-`` and a digest of it."""
    if _NAME.fullmatch(call_id) is not None and ".." not in call_id:
        return call_id
    import hashlib  # rarely needed: PBX call ids are plain names

    return "call-" + hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def transfer_number(value: str, call: str) -> str | None:
    """V5: the number a seat transferred the caller to, as the caller's channel variable holds
    it (the portal sets it through the PBX's control connection); None, logged, when it is not
    a number (3-20 ASCII digits): the agent then simply hung up."""
    from routecore.rules import is_number

    if is_number(value):
        return value
    import logging  # rarely needed: only for a variable nobody of ours set

    logging.getLogger("routecore.adapter").warning(
        "call %s: a transfer to %r is not a number: ignored", call, value[:40]
    )
    return None
