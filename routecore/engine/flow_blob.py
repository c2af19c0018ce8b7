"""A flow as the routing image keeps it: its JSON, compressed (zlib), in a blob section
``{did}/flow``; an image compiled before compression (plain JSON) reads the same.

The compressed form is about a third of the JSON (a flow's keys and names repeat), which is the
largest part of a number's sections; it is decompressed once a number and image, when the
number's routing plan is built (``routecore.engine.plan``)."""

from __future__ import annotations

import json
import zlib
from typing import Any

__all__ = ["decode", "encode"]

LEVEL = 9
"""zlib's level: the image is written once a publish and read once a number."""


def encode(text: bytes) -> bytes:
    """The flow's JSON ``text`` as the image keeps it."""
    return zlib.compress(text, LEVEL)


def decode(data: bytes) -> Any:
    """The flow of a ``{did}/flow`` blob (compressed, or plain JSON from an older image)."""
    raw = bytes(data)
    if raw[:1] != b"{":
        raw = zlib.decompress(raw)
    return json.loads(raw)
