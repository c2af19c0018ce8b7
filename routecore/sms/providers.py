"""What an SMS provider is to the sender: it sends one message (its ids back, one per part),
tells temporary refusals (try again later) from permanent ones (never again), and hands over
the delivery receipts that came in (B2, B3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from routecore.errors import RoutecoreError

__all__ = ["InDoubt", "Permanent", "Provider", "Receipt", "Reply", "SmsError", "Temporary"]


class SmsError(RoutecoreError):
    """A provider refused or could not take a message: ``code`` is the provider's."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class Temporary(SmsError):
    """Worth trying again later: throttled, the gateway's queue full, the gateway down."""


class Permanent(SmsError):
    """Never worth trying again: a bad number, a signature or template not approved."""


class InDoubt(SmsError):
    """The request may have reached the provider but its answer never came (a connection lost
    after sending): sending again could deliver it twice, so it is not."""


@dataclass(frozen=True)
class Reply:
    """A message a phone sent back (SMPP's mobile-originated ``deliver_sm``): ``T``/``TD``
    opts it out of the number it answers."""

    number: str
    text: str


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: the provider's message id, whether it reached the phone, its code."""

    message_id: str
    delivered: bool
    code: str


class Provider(Protocol):
    """An SMS provider as the sender drives it."""

    name: str
    rate: float
    """Messages a second it may be given."""

    def send(self, to: str, text: str, reference: str, kind: str) -> tuple[str, ...]:
        """Send ``text`` to ``to``; the provider's message ids. Temporary, Permanent or InDoubt
        when it cannot; ``reference`` names the outbox row (for providers that keep one),
        ``kind`` the message's (``hangup``, ``missed_call``: a template per kind)."""
        ...

    def receipts(self) -> list[Receipt]:
        """The delivery receipts that arrived since the last call (without waiting)."""
        ...

    def close(self) -> None: ...
