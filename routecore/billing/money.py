"""Money in integer fen (分, 1/100 yuan): parsing yuan amounts exactly and printing them.

No float ever holds money: a yuan amount is read with :class:`decimal.Decimal` and must be a
whole number of fen.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["FEN_PER_YUAN", "parse_fen", "yuan"]

FEN_PER_YUAN = 100


def parse_fen(text: str) -> int:
    """The amount ``text`` (yuan, ``"0.12"``, ``"2000"``) in whole fen; ValueError when it is
    not a number, not finite, negative or not a whole number of fen (``"0.085"``)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in yuan") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount in yuan")
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    fen = value * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of fen (at most 2 decimals)")
    return int(fen)


def yuan(fen: int) -> str:
    """``fen`` printed as yuan with two decimals: ``12345`` → ``"123.45"``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"
