"""Accounts: which package a 400 number has and from which month, in the flow store (P1).

The accounts are kept in the flow store's SQLite file.

A table ``billing_accounts`` is added to the flow store (created when missing, as the store's
own tables are). A number may have several terms (a renewal starts a new one); the term that
covers a month is the latest one that starts on or before it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from routecore.billing.months import Month
from routecore.billing.packages import Package
from routecore.errors import BillingError
from routecore.store.db import open_database
from routecore.store.sql import SCHEMA as FLOW_SCHEMA
from routecore.store.sql import TABLES as FLOW_TABLES

__all__ = ["Account", "AccountStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS billing_accounts (
    did         TEXT    NOT NULL,
    start_month TEXT    NOT NULL,
    package     TEXT    NOT NULL,
    months      INTEGER NOT NULL,
    assigned    REAL    NOT NULL,
    PRIMARY KEY (did, start_month)
);
"""
TABLES = {"billing_accounts": ("did", "start_month", "package", "months", "assigned")}


@dataclass(frozen=True)
class Account:
    """A number's package ``package`` (its id) for ``months`` months from ``start``."""

    did: str
    package: str
    start: Month
    months: int

    @property
    def last(self) -> Month:
        """The last month of the term."""
        return self.start.plus(self.months - 1)

    def month_of_term(self, month: Month) -> int:
        """``month`` as the n-th month of the term (1 = the first); BillingError outside it."""
        n = month.minus(self.start) + 1
        if not 1 <= n <= self.months:
            raise BillingError(
                f"{self.did}: {month} is outside the term of package {self.package} "
                f"({self.start} to {self.last})"
            )
        return n


def _check_did(did: str) -> str:
    if not (did.isascii() and did.isdigit() and 3 <= len(did) <= 20):
        raise BillingError(f"not a 400 number: {did!r} (3-20 digits)")
    return did


class AccountStore:
    """The package terms of numbers, in the flow store ``location`` (a file or a PostgreSQL
    database)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self._db = open_database(
            os.fspath(location),
            FLOW_SCHEMA + SCHEMA,
            synchronous="FULL",
            what="flow store",
            tables={**FLOW_TABLES, **TABLES},
        )
        self.path = self._db.location

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AccountStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def assign(self, did: str, package: Package, start: Month) -> Account:
        """Give ``did`` the package from the month ``start`` (the same number and start month
        again replaces that term)."""
        _check_did(did)
        with self._db.transaction(serial=True):
            self._db.execute(
                "INSERT INTO billing_accounts"
                " (did, start_month, package, months, assigned) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (did, start_month) DO UPDATE SET package = excluded.package,"
                " months = excluded.months, assigned = excluded.assigned",
                (did, str(start), package.id, package.months, time.time()),
            )
        return Account(did, package.id, start, package.months)

    def terms(self, did: str) -> list[Account]:
        """Every term of ``did``, oldest first."""
        rows = self._db.execute(
            "SELECT did, start_month, package, months FROM billing_accounts"
            " WHERE did = ? ORDER BY start_month",
            (did,),
        ).fetchall()
        return [
            Account(
                str(r["did"]),
                str(r["package"]),
                Month.parse(str(r["start_month"])),
                int(r["months"]),
            )
            for r in rows
        ]

    def account(self, did: str, month: Month) -> Account:
        """The term of ``did`` that covers ``month``; BillingError when it has no package, or
        when ``month`` is before its first term or after the term that started last."""
        _check_did(did)
        terms = self.terms(did)
        if not terms:
            raise BillingError(
                f"{did}: no package (routecore bill assign {did} PACKAGE --from YYYY-MM)"
            )
        started = [t for t in terms if t.start <= month]
        if not started:
            first = terms[0]
            raise BillingError(
                f"{did}: {month} is outside the term of package {first.package} "
                f"({first.start} to {first.last})"
            )
        term = started[-1]
        term.month_of_term(month)
        return term
