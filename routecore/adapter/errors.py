"""The errors of the PBX adapters' protocol-neutral base (``routecore.adapter``)."""

from __future__ import annotations

from routecore.errors import RoutecoreError

__all__ = ["AdapterError", "ChannelGone", "ProtocolError", "UnsafeValue"]


class AdapterError(RoutecoreError):
    """Base class of the errors an adapter raises on purpose."""


class ProtocolError(AdapterError):
    """The PBX sent something the protocol does not allow: a malformed, truncated or oversized
    line or frame, too many headers, an unexpected reply, or nothing within the timeout. The call
    on that connection ends cleanly (its claims released); the server keeps serving the others."""


class ChannelGone(AdapterError):
    """The caller's channel is gone (hung up, dead channel, socket closed): the call ends now."""


class UnsafeValue(AdapterError, ValueError):
    """A value meant for a PBX command (dial string, file name, variable) carries a character
    that could inject a command, an application, a variable or a dial target."""
