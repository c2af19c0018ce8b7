"""Billing of 400 numbers (brief 2.3): packages, per-minute rates, gift credit and seat fees,
as monthly statements from the call records (P1, P2, P3, P4).

One concern per module: ``packages`` (P1, the table), ``rules`` (P2-P4 and call charges),
``usage`` (call records to minutes), ``months`` (Asia/Shanghai months), ``accounts`` (a number's
package terms in the flow store), ``statement`` (statements, quotes and their output),
``money`` (integer fen). Never imports the package root ``routecore``.
"""

from __future__ import annotations

from routecore.billing.accounts import Account, AccountStore
from routecore.billing.months import Month
from routecore.billing.packages import Package, PackageTable, builtin_packages, load_packages
from routecore.billing.statement import Quote, Statement, quote, statement
from routecore.billing.usage import Usage, usage
from routecore.errors import BillingError

__all__ = [
    "Account",
    "AccountStore",
    "BillingError",
    "Month",
    "Package",
    "PackageTable",
    "Quote",
    "Statement",
    "Usage",
    "builtin_packages",
    "load_packages",
    "quote",
    "statement",
    "usage",
]
