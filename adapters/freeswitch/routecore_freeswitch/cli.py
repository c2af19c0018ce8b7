"""The ``routecore-freeswitch`` command: ``serve``, the ESL outbound server FreeSWITCH's
``socket 127.0.0.1:8084 async full`` connects to (docs/freeswitch.md). Options:
``routecore.adapter.config``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from routecore.adapter.config import add_options

__all__ = ["DIAL", "PORT", "main"]

PORT = 8084
"""The port of the dialplan's ``socket`` application."""
DIAL = "loopback/{number}/destinations"
"""The default dial template: the ``destinations`` context of docs/freeswitch.md."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="routecore-freeswitch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    add_options(
        sub.add_parser("serve", help="run the ESL outbound server (socket 127.0.0.1:8084)"),
        port=PORT,
        dial=DIAL,
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from routecore.adapter.server import serve_command
    from routecore_freeswitch.server import make_handler

    return serve_command(args, make_handler, name="routecore-freeswitch", control=esl_control)


async def esl_control(address: Any) -> Any:
    """The inbound event socket of ``--pbx esl://:password@host:port`` (reconciliation)."""
    from routecore_freeswitch.inbound import connect_inbound

    return await connect_inbound(address.host, address.port, address.secret)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
