"""The charging rules of the brief (2.3, 注意事项 1-4), money in fen (P2, P3, P4).

The rate (P2), the gift credit (P3), the seat fees (P4) and the call charges, one function each.
Every function is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from routecore.billing.packages import Package
from routecore.errors import BillingError

__all__ = [
    "GIFT_CAP_FEN",
    "LOW_PRICE_RATE_FEN",
    "LOW_YEARLY_PRICE_FEN",
    "SEAT_BASE_FEN",
    "SeatFees",
    "billable_minutes",
    "call_charge_fen",
    "gift_needs_approval",
    "gift_part_fen",
    "gift_parts_fen",
    "gift_total_fen",
    "gift_use_fen",
    "low_price_rule_applies",
    "rate_fen",
    "seat_fees",
    "seat_price_fen",
]

LOW_YEARLY_PRICE_FEN = 1000_00
"""P2: an average yearly price below this (not included) gets ``LOW_PRICE_RATE_FEN``."""
LOW_PRICE_RATE_FEN = 12
"""P2: 0.12 yuan a minute."""
GIFT_CAP_FEN = 20000_00
"""P3: the gift credit of a package is at most 20,000 yuan in total."""
SEAT_BASE_FEN = 20_00
"""P4: the standard seat fee, 20 yuan a month; also what the feature credit pays per seat."""
SEAT_TIERS: tuple[tuple[int, int], ...] = ((101, 12_00), (51, 15_00), (10, 18_00), (0, 20_00))
"""P4: (least seats of the month, fee per seat a month), highest first."""


def low_price_rule_applies(package: Package) -> bool:
    """P2 (注意事项 1): whether the average yearly price is below 1000 yuan (not included).

    "平均单年套餐金额低于 1000 元（不含），资费为 0.12 元/分钟" — e.g. 2000/3 年 = 666 a year.
    Exact: ``price < 1000 × years`` (no rounding of the average; 2000/2 年, 1000 a year, does
    not apply).
    """
    return package.price_fen < LOW_YEARLY_PRICE_FEN * package.years


def rate_fen(package: Package) -> int:
    """P2: the per-minute rate (fen) charged for a package.

    When :func:`low_price_rule_applies`, the rate is 0.12 yuan/min whatever the table prints
    (the rule is general and wins over a printed rate, also in an operator's own table; the
    brief's own table prints 0.12 for the two packages it applies to, 1500/2 年 and 1800/3 年).
    Otherwise the printed rate.
    """
    return LOW_PRICE_RATE_FEN if low_price_rule_applies(package) else package.printed_rate_fen


def billable_minutes(talk_seconds: int) -> int:
    """The billable minutes of a connected time: started minutes, rounded up (61 s = 2 min,
    60 s = 1 min, 0 s = 0). Negative times count as 0."""
    return max(0, -(-talk_seconds // 60))


def call_charge_fen(talk_seconds: int, rate: int) -> int:
    """The charge of one connected call: billable minutes × rate (fen a minute)."""
    return billable_minutes(talk_seconds) * rate


def gift_total_fen(package: Package) -> int:
    """P3 (注意事项 2): the gift credit (赠送话费) of a package: its price, at most 20,000 yuan.

    "赠送话费总金额最高不超过 20000 元 … 超过 20000 需提邮件由部门总监审批": above the cap the cap
    applies and the statement flags that a director's approval is needed
    (:func:`gift_needs_approval`).
    """
    return min(package.price_fen, GIFT_CAP_FEN)


def gift_needs_approval(package: Package) -> bool:
    """P3: whether the package's price exceeds the 20,000 yuan gift cap (a director approves
    any larger gift; until then the capped gift applies)."""
    return package.price_fen > GIFT_CAP_FEN


def gift_parts_fen(package: Package) -> list[int]:
    """P3 (注意事项 3): the gift credit paid back month by month over the package's 12 × years
    months ("5000/3 年 … 赠送 5000 话费，该话费分 3 年即 36 个月返还").

    The parts add up to :func:`gift_total_fen` to the fen: each month gets ``total // months``
    and the first ``total % months`` months one fen more (5000 yuan / 36 = 138.89 for the first
    32 months, 138.88 for the last 4).
    """
    total, months = gift_total_fen(package), package.months
    base, extra = divmod(total, months)
    return [base + (1 if i < extra else 0) for i in range(months)]


def gift_part_fen(package: Package, month_of_term: int) -> int:
    """P3: the gift credit of the ``month_of_term``-th month of the term (1 = its first)."""
    if not 1 <= month_of_term <= package.months:
        raise BillingError(
            f"month {month_of_term} is outside the {package.months} months of {package.name}"
        )
    total, months = gift_total_fen(package), package.months
    base, extra = divmod(total, months)
    return base + (1 if month_of_term <= extra else 0)


def gift_use_fen(available: int, inbound_charges: int) -> int:
    """P3: the gift credit used in a month: it pays the month's inbound call charges first
    ("优先使用赠送费用"), only the excess goes to the balance. Only inbound charges (注意事项 2:
    只能用于抵扣呼入通话费). What is not used in its month lapses at the month's end (it is not
    carried over: the brief pays the gift back month by month, 按月返还)."""
    return max(0, min(available, inbound_charges))


def seat_price_fen(seats: int) -> int:
    """P4 (移动云坐席收费标准): the fee per seat a month for ``seats`` seats in the month:
    20 yuan standard (1-9 seats), 10-50 seats 18, 51-100 seats 15, over 100 seats 12.

    Reading: the tier is chosen by all the seats of the month (the free ones included: they are
    seats the customer has) and its price applies to every seat paid for (not marginal tiers).
    """
    if seats < 0:
        raise BillingError(f"seats must be 0 or more, not {seats}")
    for least, price in SEAT_TIERS:
        if seats >= least:
            return price
    raise AssertionError("unreachable: the last tier starts at 0")


@dataclass(frozen=True)
class SeatFees:
    """The seat fees of a month: ``seats`` in all, ``free`` of them the package's free seats,
    ``credit_seats`` paid by the feature credit (``credit_applied`` fen of it, the rest of
    ``credit_available`` lapses), ``paid`` at ``price`` each: ``fees`` fen."""

    seats: int
    free: int
    credit_seats: int
    credit_available: int
    credit_applied: int
    paid: int
    price: int
    fees: int


def seat_fees(package: Package, seats: int) -> SeatFees:
    """P4 (注意事项 4): a month's seat fees for ``seats`` seats under ``package``.

    First the package's free seats (赠送云坐席数量), then the feature credit (优音功能礼包) pays
    whole seats at 20 yuan each ("100 元/月 … 可换购 5 个移动云坐席"; 150 yuan pays 7 seats, the
    10 yuan left lapses, as does credit beyond the seats there are), the rest are paid at the
    tier price of :func:`seat_price_fen` for all ``seats``.
    """
    price = seat_price_fen(seats)
    free = min(seats, package.free_seats)
    credit_seats = min(seats - free, package.feature_credit_fen // SEAT_BASE_FEN)
    paid = seats - free - credit_seats
    return SeatFees(
        seats=seats,
        free=free,
        credit_seats=credit_seats,
        credit_available=package.feature_credit_fen,
        credit_applied=credit_seats * SEAT_BASE_FEN,
        paid=paid,
        price=price,
        fees=paid * price,
    )
