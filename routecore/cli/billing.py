"""The billing commands of ``routecore bill``: assign a package, a month's statement, a quote,
the package table (P1, P2, P3, P4)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from routecore.cli.common import EXIT_OK, JSON_HELP, Usage, flow_store, output
from routecore.rules import DEFAULT_TZ


def _month(text: str) -> Any:
    from routecore.billing.months import Month
    from routecore.errors import BillingError

    try:
        return Month.parse(text)
    except BillingError as e:
        raise Usage(str(e)) from None


def _bill_print(args: argparse.Namespace, item: Any) -> None:
    from routecore.billing.statement import to_csv, to_dict, to_text

    if args.json:
        print(json.dumps(to_dict(item), ensure_ascii=False, indent=2))
    elif args.csv:
        print(to_csv(item), end="")
    else:
        print(to_text(item))


def cmd_bill_assign(args: argparse.Namespace) -> int:
    from routecore.billing import AccountStore, load_packages

    package = load_packages(args.packages).get_package(args.package)
    start = _month(args.start)
    with AccountStore(args.store) as accounts:
        account = accounts.assign(args.number, package, start)
    output(
        args,
        {
            "number": account.did,
            "package": account.package,
            "from": str(account.start),
            "to": str(account.last),
        },
        f"{account.did}: package {package.name} ({package.id}) from {account.start} "
        f"to {account.last}",
    )
    return EXIT_OK


def cmd_bill_statement(args: argparse.Namespace) -> int:
    from routecore.billing import AccountStore, load_packages, statement, usage
    from routecore.billing.months import BILLING_TZ
    from routecore.store.calls import CallStore

    month = _month(args.month)
    table = load_packages(args.packages)
    with AccountStore(args.store) as accounts:
        account = accounts.account(args.number, month)
    package = table.get_package(account.package)
    since, until = month.bounds(BILLING_TZ)
    with CallStore(args.calls) as calls:
        rows = calls.calls(args.number, since, until)
    features = _features(args.features) | _flow_features(args, since, until)
    seats = _seats(args.seats)
    _bill_print(
        args,
        statement(args.number, package, account.start, month, usage(rows), seats, sorted(features)),
    )
    return EXIT_OK


def _features(text: str) -> set[str]:
    """``--features V2,V6``: the portal's subscriptions the flow cannot tell."""
    from routecore.billing.features import FEATURES

    found = {f.strip().upper() for f in text.split(",") if f.strip()}
    unknown = sorted(found - set(FEATURES))
    if unknown:
        raise Usage(
            f"--features: unknown feature(s) {', '.join(unknown)} (of {', '.join(FEATURES)})"
        )
    return found


def _flow_features(args: argparse.Namespace, since: float, until: float) -> set[str]:
    """V1, V3, V4 from the flow versions live in the month (none without a flow store)."""
    from routecore.billing.features import month_features

    if not os.path.exists(args.store):
        return set()
    store = flow_store(args)
    try:
        return month_features(store, args.number, since, until)
    finally:
        store.close()


def cmd_bill_quote(args: argparse.Namespace) -> int:
    from routecore.billing import load_packages, quote

    package = load_packages(args.packages).get_package(args.package)
    _bill_print(args, quote(package, _seats(args.seats)))
    return EXIT_OK


def cmd_bill_packages(args: argparse.Namespace) -> int:
    from routecore.billing import load_packages, quote
    from routecore.billing.statement import to_dict

    table = load_packages(args.packages)
    items = [to_dict(quote(p, 0)) for p in table.values()]
    lines = [
        f"{q['package']:10} {q['package_name']:10} {q['rate']} yuan/min, gift {q['gift_total']}, "
        f"feature credit {q['feature_credit']}/month, {table[q['package']].free_seats} free seats"
        for q in items
    ]
    output(args, items, "\n".join(lines))
    return EXIT_OK


def _seats(text: str) -> int:
    """``--seats``: a whole number 0-1000000, or a one-line usage error (exit 2)."""
    try:
        seats = int(text)
    except ValueError:
        raise Usage(f"--seats: not a number of seats: {text!r}") from None
    if not 0 <= seats <= 1_000_000:
        raise Usage(f"--seats: seats must be 0-1000000, not {seats}")
    return seats


def add_parsers(sub: Any, calls_default: str) -> None:
    """The ``bill`` command and its subcommands' parsers."""
    b = sub.add_parser(
        "bill",
        help="billing (P1-P4): assign packages, monthly statements, quotes",
        description="Packages, per-minute rates, gift credit and seat fees of the brief (2.3) "
        f"as monthly statements from the call records ({DEFAULT_TZ} months). Seats are not in "
        "the call records: give them with --seats.",
    )
    bsub = b.add_subparsers(dest="bill_command", required=True)
    pk_help = "an operator's package table (CSV) [the brief's 14 packages]"
    a = bsub.add_parser("assign", help="give a number a package from a month")
    a.add_argument("number", help="the 400 number")
    a.add_argument("package", help="package id or name: 5000-3y or 5000/3年")
    a.add_argument("--from", dest="start", required=True, help="first month of the term, YYYY-MM")
    a.set_defaults(run=cmd_bill_assign)
    st = bsub.add_parser("statement", help="a number's statement for a month")
    st.add_argument("number", help="the 400 number")
    st.add_argument("--month", required=True, help=f"the month, YYYY-MM ({DEFAULT_TZ})")
    st.add_argument(
        "--calls", default=calls_default, help="the call store: a file or postgresql://… [calls.db]"
    )
    st.add_argument(
        "--features",
        default="",
        help="value-added features the portal sold that month, e.g. V2,V6 (V1, V3, V4 are read"
        " from the flow versions live in the month)",
    )
    st.set_defaults(run=cmd_bill_statement)
    q = bsub.add_parser("quote", help="price a package and seat count without call records")
    q.add_argument("package", help="package id or name: 5000-3y or 5000/3年")
    q.set_defaults(run=cmd_bill_quote)
    ls = bsub.add_parser("packages", help="list the package table")
    ls.set_defaults(run=cmd_bill_packages)
    for cmd in (st, q):
        cmd.add_argument("--seats", default="0", help="seats in the month [0]")
        cmd.add_argument("--csv", action="store_true", help="CSV output (a header and one row)")
    for cmd in (a, st, q, ls):
        cmd.add_argument("--packages", help=pk_help)
        cmd.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
