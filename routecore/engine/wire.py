"""The wire of Actions and Events (``routecore.engine.actions``), for adapters that put them on
a socket or in a file::

    to_dict(x) / from_dict(d)           {"type": "dial", "targets": [...], ...}
    to_json(x) / from_json(s)           one JSON object
    to_msgpack(x) / from_msgpack(b)     one msgpack map
    pack_stream(items) / unpack_stream(data)   a sequence of msgpack maps, back to back

Decoding is strict: an unknown ``type``, a missing or extra field, a wrong type or a value out of
range raises :class:`ActionError`, and so does any garbage input (never another exception).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import MISSING, fields
from typing import Any, Final

import msgpack

from routecore.engine.actions import (
    Action,
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
    Event,
    Hangup,
    KeepAlive,
    Message,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
    _kind,
    _show,
)
from routecore.errors import ActionError

__all__ = [
    "ACTION_TYPES",
    "EVENT_TYPES",
    "from_dict",
    "from_json",
    "from_msgpack",
    "pack_stream",
    "to_dict",
    "to_json",
    "to_msgpack",
    "unpack_stream",
]

ACTION_TYPES: Final[dict[str, type[Action]]] = {
    "play": Play,
    "collect": Collect,
    "dial": Dial,
    "voicemail": Voicemail,
    "conference": Conference,
    "survey": Survey,
    "hangup": Hangup,
    "drop_leg": DropLeg,
}
EVENT_TYPES: Final[dict[str, type[Event]]] = {
    "call_started": CallStarted,
    "outbound_started": OutboundStarted,
    "digits": Digits,
    "answered": Answered,
    "keep_alive": KeepAlive,
    "dial_result": DialResult,
    "caller_hung_up": CallerHungUp,
    "survey_result": SurveyResult,
    "voicemail_result": VoicemailResult,
    "conference_result": ConferenceResult,
}
_TYPES: dict[str, type[Message]] = {**ACTION_TYPES, **EVENT_TYPES}
_TAGS: dict[type[Message], str] = {cls: tag for tag, cls in _TYPES.items()}
_FIELDS: dict[type[Message], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in _TYPES.values()
}
_REQUIRED: dict[type[Message], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.default is MISSING) for cls in _TYPES.values()
}


def to_dict(x: Message) -> dict[str, Any]:
    """``x`` as a plain dict of JSON/msgpack-ready values, with its ``"type"`` first."""
    tag = _TAGS.get(type(x))
    if tag is None:
        raise ActionError(f"not an Action or Event: {_kind(x)}")
    out: dict[str, Any] = {"type": tag}
    for name in _FIELDS[type(x)]:
        value = getattr(x, name)
        out[name] = list(value) if isinstance(value, tuple) else value  # targets, announce
    return out


def from_dict(d: object) -> Message:
    """The Action or Event a dict of :func:`to_dict` describes; ActionError when it is not one
    (unknown ``type``, a missing required field or an extra one, a wrong type, a value out of
    range). Fields with a default (``at`` of an Event) may be left out."""
    if not isinstance(d, dict):
        raise ActionError(f"expected a dict with a 'type', got {_kind(d)}")
    tag = d.get("type")
    if not isinstance(tag, str):
        raise ActionError(f"'type' must be a str naming an Action or Event, got {_kind(tag)}")
    cls = _TYPES.get(tag)
    if cls is None:
        raise ActionError(f"unknown type {_show(tag)} (known: {', '.join(_TYPES)})")
    names = _FIELDS[cls]
    extra = [k for k in d if k != "type" and k not in names]
    if extra:
        raise ActionError(f"{tag}: unknown field(s) {', '.join(_show(k) for k in extra)}")
    missing = [k for k in _REQUIRED[cls] if k not in d]
    if missing:
        raise ActionError(f"{tag}: missing field(s) {', '.join(missing)}")
    return cls(**{k: d[k] for k in names if k in d})


def to_json(x: Message) -> str:
    """``x`` as one JSON object (compact, UTF-8 text kept as is)."""
    return json.dumps(to_dict(x), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _no_constant(name: str) -> object:
    raise ActionError(f"JSON: {name} is not allowed")


def from_json(s: str | bytes) -> Message:
    """The Action or Event of one JSON object; ActionError on anything else."""
    if not isinstance(s, str | bytes | bytearray):
        raise ActionError(f"JSON: expected str or bytes, got {_kind(s)}")
    try:
        d = json.loads(s, parse_constant=_no_constant)
    except ActionError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise ActionError(f"JSON: not readable: {e}") from None
    return from_dict(d)


def to_msgpack(x: Message) -> bytes:
    """``x`` as one msgpack map."""
    packed: bytes = msgpack.packb(to_dict(x), use_bin_type=True)
    return packed


def _unpack_error(e: BaseException) -> ActionError:
    detail = f": {e}" if str(e) else ""
    return ActionError(f"msgpack: not readable ({type(e).__name__}{detail})")


def from_msgpack(b: bytes) -> Message:
    """The Action or Event of one msgpack map; ActionError on anything else (garbage, trailing
    bytes, a truncated map)."""
    if not isinstance(b, bytes | bytearray | memoryview):
        raise ActionError(f"msgpack: expected bytes, got {_kind(b)}")
    try:
        d = msgpack.unpackb(b, raw=False, strict_map_key=True)
    except Exception as e:  # ExtraData, FormatError, StackError, ValueError, UnicodeDecodeError...
        raise _unpack_error(e) from None
    return from_dict(d)


def pack_stream(items: Iterable[Message]) -> bytes:
    """A msgpack sequence of ``items`` (one map each, back to back), for a wire or a file."""
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join(packer.pack(to_dict(x)) for x in items)


def unpack_stream(data: bytes) -> list[Message]:
    """Every Action or Event of a :func:`pack_stream` sequence, in order; ActionError on garbage
    or a truncated last item."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    if not isinstance(data, bytes | bytearray):
        raise ActionError(f"msgpack stream: expected bytes, got {_kind(data)}")
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_buffer_size=max(len(data), 1))
    raw: list[object] = []
    consumed = 0  # bytes of the whole items read so far
    try:
        unpacker.feed(data)
        while consumed < len(data):
            try:
                raw.append(unpacker.unpack())
            except msgpack.OutOfData:
                break
            consumed = unpacker.tell()
    except Exception as e:
        raise _unpack_error(e) from None
    if consumed != len(data):
        raise ActionError(
            f"msgpack stream: truncated item after {len(raw)} whole item(s) "
            f"({len(data) - consumed} bytes left)"
        )
    out: list[Message] = []
    for i, d in enumerate(raw):
        try:
            out.append(from_dict(d))
        except ActionError as e:
            raise ActionError(f"msgpack stream: item {i}: {e}") from None
    return out
