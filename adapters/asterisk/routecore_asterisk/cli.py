"""The ``routecore-asterisk`` command: ``serve`` (the FastAGI server), ``agi`` (one call on
stdin/stdout, for ``AGI(routecore-asterisk,agi)``) and ``reconcile`` (where calls run only in
processes of their own: the calls of those that die are held and completed with the PBX's
help). Options: ``routecore.adapter.config``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from routecore.adapter.config import config_from
from routecore.errors import RoutecoreError

if TYPE_CHECKING:
    import argparse

__all__ = ["main"]

PORT = 4573
"""Asterisk's FastAGI port."""
DIAL = "Local/{number}@destinations"
"""The default dial template: the ``destinations`` context of docs/asterisk.md."""


def _agi(args: Any = None) -> int:
    """``routecore-asterisk agi [args…]``: Asterisk runs it with the AGI's arguments, which the
    call also reads from its environment block (``agi_arg_N``). Without options on the command
    line its options come from the environment, and nothing parses the command line."""
    from routecore.adapter.config import env_options
    from routecore_asterisk.agi import run_agi, stderr_logging

    stderr_logging()
    try:
        options = env_options(port=PORT, dial=DIAL) if args is None else args
        config = config_from(options, serving=False)
    except RoutecoreError as e:
        print(f"routecore-asterisk agi: {e}", file=sys.stderr)
        return 2
    return run_agi(config)


def parser() -> argparse.ArgumentParser:
    import argparse

    from routecore.adapter.config import add_options

    p = argparse.ArgumentParser(prog="routecore-asterisk", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "run the FastAGI server (agi://127.0.0.1:4573/route)"),
        ("agi", "route the one call on stdin/stdout (process-per-call AGI)"),
        ("reconcile", "hold and complete the calls of process-per-call AGIs that died (--pbx)"),
    ):
        command = sub.add_parser(name, help=helptext)
        add_options(command, port=PORT, dial=DIAL)
        if name == "agi":
            command.add_argument("args", nargs="*", help="the AGI's arguments (also in agi_arg_N)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["agi"] and not any(a.startswith("-") for a in argv[1:]):
        return _agi()  # a process per call, its options from the environment: no argparse
    args = parser().parse_args(argv)
    if args.command == "agi":
        return _agi(args)
    if args.command == "reconcile":
        from routecore.adapter.server import reconcile_command

        return reconcile_command(args, name="routecore-asterisk", control=ami_control)
    from routecore.adapter.server import serve_command
    from routecore_asterisk.fastagi import make_handler

    return serve_command(args, make_handler, name="routecore-asterisk", control=ami_control)


async def ami_control(address: Any) -> Any:
    """The Manager interface of ``--pbx ami://user:secret@host:port`` (reconciliation)."""
    from routecore_asterisk.ami import connect_ami

    return await connect_ami(address.host, address.port, address.user, address.secret)


if __name__ == "__main__":
    raise SystemExit(main())
