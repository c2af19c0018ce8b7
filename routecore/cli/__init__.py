"""The ``routecore`` command: validate and compile flows, review and publish them, show what a
published image holds, run scripted calls, export reports, purge old recordings and voicemail,
bill, deliver the SMS outbox, make a host's state file and show how full it is (B2, B3, B5, B8,
B11, B12, B15, F1, P1, P2, P3, P4).

Exit codes an operator can script against:
0 done; 1 a flow does not validate (or is not the flow of the number it is drafted under);
2 bad usage (an unknown option, a date, time or time zone that cannot be used); 3 the review
step is not allowed (wrong state, approver is the author, unknown version); 4 another routecore
error (a bad image, state file or store: not a database, another schema, locked; billing: an
unknown package, a month outside a package's term, a package table that cannot be loaded).
Every error is one line on standard error, never a traceback.
``--json`` prints machine-readable output on standard output.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence

from routecore.cli import billing, bulk, calls, flows, sms, state
from routecore.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REVIEW,
    EXIT_USAGE,
    JSON_HELP,
    Usage,
)
from routecore.errors import FlowError, ReviewError, RoutecoreError

__all__ = ["EXIT_ERROR", "EXIT_INVALID", "EXIT_OK", "EXIT_REVIEW", "EXIT_USAGE", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="routecore", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--store",
        default=os.environ.get("ROUTECORE_STORE", "routecore.db"),
        help="the flow store: an SQLite file or postgresql://… [$ROUTECORE_STORE or routecore.db]",
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    sub = p.add_subparsers(dest="command", required=True)
    image_default = os.environ.get("ROUTECORE_IMAGE", "routes.img")
    flows.add_parsers(sub, image_default)
    bulk.add_parsers(sub, image_default)
    calls_default = os.environ.get("ROUTECORE_CALLS", "calls.db")
    calls.add_parsers(sub, image_default, calls_default)
    billing.add_parsers(sub, calls_default)
    sms.add_parsers(sub, calls_default)
    state.add_parsers(sub)
    for command in sub.choices.values():  # --json after the command too
        command.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra:  # the steps of a simulation may come after its options
        if args.command != "simulate" or any(x.startswith("-") for x in extra):
            p.error(f"unrecognized arguments: {' '.join(extra)}")
        args.steps = [*args.steps, *extra]
    try:
        return int(args.run(args))
    except FlowError as e:
        for issue in e.errors:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    except ReviewError as e:
        print(f"routecore: {e}", file=sys.stderr)
        return EXIT_REVIEW
    except Usage as e:
        print(f"routecore: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (RoutecoreError, OSError) as e:
        print(f"routecore: {_one_line(e)}", file=sys.stderr)
        return EXIT_ERROR
    except sqlite3.Error as e:  # a store error the stores did not name (they name most)
        print(f"routecore: database error: {_one_line(e)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":
    sys.exit(main())
