"""Monthly statements and quotes, and how they are printed: text, JSON, CSV (P1, P2, P3, P4).

A statement is one 400 number's month: the package and its rate, the connected calls and their
billable minutes, the inbound charges paid first by the month's gift credit, the outbound
charges, the seat fees after the free seats and the feature credit, the value-added features
the number had that month (``routecore.billing.features``: whole months), and the total charged
to the balance. Money is integer fen; printed as yuan with two decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from routecore.billing.features import fees as feature_fees
from routecore.billing.money import yuan
from routecore.billing.months import BILLING_TZ, Month
from routecore.billing.packages import Package
from routecore.billing.rules import (
    SeatFees,
    gift_needs_approval,
    gift_part_fen,
    gift_parts_fen,
    gift_total_fen,
    gift_use_fen,
    low_price_rule_applies,
    rate_fen,
    seat_fees,
)
from routecore.billing.usage import Usage

__all__ = ["Quote", "Statement", "quote", "statement", "to_csv", "to_dict", "to_text"]

APPROVAL = "gift above 20000.00 needs a director's approval; the cap applies"


@dataclass(frozen=True)
class Statement:
    """One number's month; amounts in fen."""

    number: str
    month: str
    package: str
    package_name: str
    term_start: str
    term_end: str
    month_of_term: int
    months: int
    printed_rate: int
    rate: int
    low_price_rule: bool
    inbound_calls: int
    inbound_minutes: int
    inbound_charges: int
    outbound_calls: int
    outbound_minutes: int
    outbound_charges: int
    gift_total: int
    gift_needs_approval: bool
    gift_available: int
    gift_used: int
    gift_left: int
    inbound_to_balance: int
    seats: int
    free_seats: int
    credit_seats: int
    paid_seats: int
    seat_price: int
    seat_fees: int
    feature_credit: int
    feature_credit_applied: int
    total: int
    # added after the first release: last, so CSV columns of earlier releases keep their place
    features: str = ""
    feature_fees: int = 0


@dataclass(frozen=True)
class Quote:
    """A package and a seat count priced without call records; amounts in fen."""

    package: str
    package_name: str
    price: int
    years: int
    months: int
    number_class: str
    printed_rate: int
    rate: int
    low_price_rule: bool
    gift_total: int
    gift_needs_approval: bool
    gift_first_month: int
    gift_last_month: int
    seats: int
    free_seats: int
    credit_seats: int
    paid_seats: int
    seat_price: int
    seat_fees: int
    feature_credit: int
    feature_credit_applied: int
    seat_fees_term: int


def _rate_fields(package: Package) -> dict[str, Any]:
    """The rate of a statement and of a quote: printed, charged (P2), and whether P2 set it."""
    return {
        "printed_rate": package.printed_rate_fen,
        "rate": rate_fen(package),
        "low_price_rule": low_price_rule_applies(package),
    }


def _seat_fields(seats: int, seat: SeatFees) -> dict[str, Any]:
    """The seats of a statement and of a quote (P4), from ``seat_fees``'s answer."""
    return {
        "seats": seats,
        "free_seats": seat.free,
        "credit_seats": seat.credit_seats,
        "paid_seats": seat.paid,
        "seat_price": seat.price,
        "seat_fees": seat.fees,
        "feature_credit": seat.credit_available,
        "feature_credit_applied": seat.credit_applied,
    }


def statement(
    number: str,
    package: Package,
    start: Month,
    month: Month,
    usage: Usage,
    seats: int,
    features: Sequence[str] = (),
) -> Statement:
    """The statement of ``number`` for ``month`` under ``package`` taken from ``start``
    (BillingError when ``month`` is outside the term), for the month's ``usage``, ``seats`` and
    value-added ``features`` (``V1``, ``V2``, ``V3``, ``V4``, ``V6``: each a month's fee)."""
    billed, extra = feature_fees(features)
    n = month.minus(start) + 1
    available = gift_part_fen(package, n)  # BillingError outside the term
    rate = rate_fen(package)
    inbound = usage.inbound_minutes * rate
    outbound = usage.outbound_minutes * rate
    used = gift_use_fen(available, inbound)
    seat = seat_fees(package, seats)
    return Statement(
        number=number,
        month=str(month),
        package=package.id,
        package_name=package.name,
        term_start=str(start),
        term_end=str(start.plus(package.months - 1)),
        month_of_term=n,
        months=package.months,
        **_rate_fields(package),
        inbound_calls=usage.inbound_calls,
        inbound_minutes=usage.inbound_minutes,
        inbound_charges=inbound,
        outbound_calls=usage.outbound_calls,
        outbound_minutes=usage.outbound_minutes,
        outbound_charges=outbound,
        gift_total=gift_total_fen(package),
        gift_needs_approval=gift_needs_approval(package),
        gift_available=available,
        gift_used=used,
        gift_left=available - used,
        inbound_to_balance=inbound - used,
        **_seat_fields(seats, seat),
        total=inbound - used + outbound + seat.fees + extra,
        features=",".join(billed),
        feature_fees=extra,
    )


def quote(package: Package, seats: int) -> Quote:
    """``package`` with ``seats`` seats a month, priced without call records."""
    parts = gift_parts_fen(package)
    seat = seat_fees(package, seats)
    return Quote(
        package=package.id,
        package_name=package.name,
        price=package.price_fen,
        years=package.years,
        months=package.months,
        number_class=package.number_class,
        **_rate_fields(package),
        gift_total=gift_total_fen(package),
        gift_needs_approval=gift_needs_approval(package),
        gift_first_month=parts[0],
        gift_last_month=parts[-1],
        **_seat_fields(seats, seat),
        seat_fees_term=seat.fees * package.months,
    )


_NOT_MONEY = {
    "month_of_term", "months", "years", "seats", "free_seats", "credit_seats", "paid_seats",
    "inbound_calls", "inbound_minutes", "outbound_calls", "outbound_minutes",
}  # fmt: skip


def to_dict(item: Statement | Quote) -> dict[str, Any]:
    """A statement or quote for JSON and CSV: money as yuan strings with two decimals
    (``"138.89"``, exact), counts as numbers, flags as booleans."""
    out: dict[str, Any] = {}
    for key, value in asdict(item).items():
        money = isinstance(value, int) and not isinstance(value, bool) and key not in _NOT_MONEY
        out[key] = yuan(value) if money else value
    return out


def to_csv(item: Statement | Quote) -> str:
    """A header line and one row (the columns of :func:`to_dict`)."""
    data = to_dict(item)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(data)
    writer.writerow(["true" if v is True else "false" if v is False else v for v in data.values()])
    return buffer.getvalue()


def _rate_text(item: Statement | Quote) -> str:
    if item.low_price_rule:
        return f"{yuan(item.rate)} yuan/min (P2: average yearly price below 1000 yuan)"
    return f"{yuan(item.rate)} yuan/min"


def _seat_lines(item: Statement | Quote) -> list[str]:
    return [
        f"seats               {item.seats}: {item.free_seats} free, {item.credit_seats} paid by "
        f"the feature credit, {item.paid_seats} at {yuan(item.seat_price)}",
        f"feature credit      {yuan(item.feature_credit)} a month, "
        f"{yuan(item.feature_credit_applied)} applied",
        f"seat fees           {yuan(item.seat_fees)}",
    ]


def to_text(item: Statement | Quote) -> str:
    """The statement or quote as an operator reads it (yuan, two decimals)."""
    if isinstance(item, Quote):
        lines = [
            f"package             {item.package_name} ({item.package}), {yuan(item.price)} yuan "
            f"for {item.years} year(s), {item.number_class} number",
            f"rate                {_rate_text(item)}",
            f"gift credit         {yuan(item.gift_total)} over {item.months} months "
            f"({yuan(item.gift_first_month)} to {yuan(item.gift_last_month)} a month), "
            "inbound calls only",
            *_seat_lines(item),
            f"seat fees, term     {yuan(item.seat_fees_term)}",
        ]
    else:
        lines = [
            f"statement           {item.number} {item.month} ({BILLING_TZ})",
            f"package             {item.package_name} ({item.package}), month {item.month_of_term} "
            f"of {item.months} ({item.term_start} to {item.term_end})",
            f"rate                {_rate_text(item)}",
            f"inbound calls       {item.inbound_calls}, {item.inbound_minutes} min: "
            f"{yuan(item.inbound_charges)}",
            f"gift credit         {yuan(item.gift_available)} available, "
            f"{yuan(item.gift_used)} used, {yuan(item.gift_left)} left (lapses)",
            f"inbound to balance  {yuan(item.inbound_to_balance)}",
            f"outbound calls      {item.outbound_calls}, {item.outbound_minutes} min: "
            f"{yuan(item.outbound_charges)} (no gift credit)",
            *_seat_lines(item),
            f"features            {item.features or 'none'}: {yuan(item.feature_fees)}"
            " (whole months)",
            f"total               {yuan(item.total)} yuan charged to the balance",
        ]
    if item.gift_needs_approval:
        lines.append(f"note                {APPROVAL}")
    return "\n".join(lines)
