"""``routecore state``: make a host's state file of the sizes its platform needs, and show how
full it is.

A routing process makes the default file (4,096 destinations, 1,024 numbers) when none is there;
a carrier's host makes its own first, e.g. ``routecore state create --destinations 400000
--numbers 133334 --memory 2000000``. ``show`` reads the sizes and the use of a file: destination
slots and counter rows taken, lease records and counter blocks handed out from the pools — the
figures to watch before a pool is full.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from routecore.cli.common import EXIT_OK, JSON_HELP, Usage, output

__all__ = ["add_parsers"]

DEFAULTS = {"destinations": 4096, "memory": 65536, "numbers": 1024}


def _path(args: argparse.Namespace) -> str:
    from routecore.state import is_url, resolve

    where = resolve(args.state or None)
    if is_url(where):
        raise Usage(
            f"--state: {where.split('://', 1)[0]}:// is a Redis store: its keys grow as needed;"
            " this command makes and reads state files"
        )
    return where


def _report(state: Any) -> dict[str, Any]:
    """The sizes of an open state file and how much of each is in use."""
    destinations = len(state.destinations_now())
    leases, blocks = state.pool_use()
    return {
        "path": state.path,
        "bytes": os.path.getsize(state.path),
        "generation": state.generation,
        "destinations": {"used": destinations, "size": state.destinations},
        "lease_records": {"used": leases, "size": state.leases},
        "memory": {"size": state.memory},
        "numbers": {"size": state.numbers},
        "counter_blocks": {"used": blocks, "size": state.counter_blocks},
    }


def _text(report: dict[str, Any]) -> str:
    lines = [f"{report['path']}: {report['bytes']:,} bytes, generation {report['generation']}"]
    for key in ("destinations", "lease_records", "counter_blocks"):
        used, size = report[key]["used"], report[key]["size"]
        lines.append(f"{key.replace('_', ' ')}: {used:,} of {size:,} ({100 * used / size:.1f} %)")
    lines.append(f"call memory entries: {report['memory']['size']:,}")
    lines.append(f"counter rows (400 numbers): {report['numbers']['size']:,}")
    return "\n".join(lines)


def cmd_state_create(args: argparse.Namespace) -> int:
    from routecore.backend import get_backend

    path = _path(args)
    sizes = {
        "destinations": args.destinations,
        "memory": args.memory,
        "numbers": args.numbers,
        "leases": args.leases,
        "counter_blocks": args.counter_blocks,
    }
    with get_backend().State.create(path, **sizes) as state:
        report = _report(state)
    output(args, report, _text(report))
    return EXIT_OK


def cmd_state_show(args: argparse.Namespace) -> int:
    from routecore.backend import get_backend

    with get_backend().State.open(_path(args)) as state:
        report = _report(state)
    output(args, report, _text(report))
    return EXIT_OK


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {value}")
    return value


def add_parsers(sub: Any) -> None:
    """The ``state`` command and its subcommands' parsers."""
    s = sub.add_parser(
        "state",
        help="make a host's state file of the sizes it needs, show how full it is",
        description="The state file of one host (docs/state-format.md): destination slots and "
        "lease records, call memory, counters and round-robin cursors, fixed at creation.",
    )
    ssub = s.add_subparsers(dest="state_command", required=True)
    create = ssub.add_parser(
        "create",
        help="make the file (an existing one must have these sizes)",
        description="Make the state file with these sizes; an existing file is opened and must "
        "have them (a state file is never resized: stop its processes, remove it, create it).",
    )
    for name, what in (
        ("destinations", "destination slots: the phones and trunks it may know (~4/3 of them)"),
        ("memory", "call-memory entries: callers remembered for the day (V3)"),
        ("numbers", "counter rows: the 400 numbers counting branches (~4/3 of them)"),
    ):
        create.add_argument(f"--{name}", type=_count, default=DEFAULTS[name], help=what)
    create.add_argument(
        "--leases",
        type=_count,
        help="lease records in the pool beyond each slot's own [destinations + 100]",
    )
    create.add_argument(
        "--counter-blocks",
        type=_count,
        help="counter blocks of 8 branches in the pool [2 × numbers + 32]",
    )
    create.set_defaults(run=cmd_state_create)
    show = ssub.add_parser("show", help="the file's sizes and how much of each is in use")
    show.set_defaults(run=cmd_state_show)
    for cmd in (create, show):
        cmd.add_argument(
            "--state", help="the state file [$ROUTECORE_STATE or /dev/shm/routecore-state]"
        )
        cmd.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
