"""What a call session waits for, and what it rings: the attempts of one group, extension or
transfer with the answer moment, and a seat's transfer as something to ring (B9, V1, V5)."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["DIGITS_WAITS", "TRANSFERRED", "TRANSFER_RING_TIMEOUT", "Ringing", "Transferred", "Wait"]

TRANSFER_RING_TIMEOUT = 30  # V5: seconds a transfer rings its target (then the seat that sent it)


class Wait(enum.Enum):
    """What a session waits for: the Event that moves it on."""

    MENU = "a menu key (Digits)"
    OFFER = "1 leave a message / 2 keep waiting (Digits)"
    PASSWORD = "a conference password (Digits)"
    EXTENSION = "an extension (Digits)"
    DIAL = "the end of a Dial attempt (Answered, DialResult)"
    OUTBOUND = "the end of the outbound Dial (Answered, DialResult)"
    VOICEMAIL = "the message (VoicemailResult)"
    CONFERENCE = "the conference (ConferenceResult)"
    SURVEY = "the rating (SurveyResult)"


DIGITS_WAITS = frozenset({Wait.MENU, Wait.OFFER, Wait.PASSWORD, Wait.EXTENSION})


class Ringing:
    """The attempts of one group, extension or transfer being dialled: ``order`` the attempts
    (numbers), ``index`` the current one, ``targets`` what it rings, ``winner`` the target that
    answered and ``answered_at`` when (the answer moment), ``busy_only`` whether every attempt
    so far found everyone busy."""

    __slots__ = ("answered_at", "busy_only", "index", "node", "order", "targets", "winner")

    def __init__(self, node: Any, order: list[tuple[str, ...]]) -> None:
        self.node = node
        self.order = order
        self.index = -1
        self.targets: tuple[str, ...] = ()
        self.winner: str | None = None
        self.answered_at: float | None = None
        self.busy_only = True


class Transferred:
    """What a seat's transfer dials (V5): the number it sent the caller to, then (when that one
    is busy or does not answer) the seat that transferred, so no caller is dropped by a
    transfer nobody took."""

    __slots__ = ()
    ring_timeout = TRANSFER_RING_TIMEOUT


TRANSFERRED = Transferred()
