"""The ``routecore-freeswitch`` command: ``serve``, the ESL outbound server FreeSWITCH's
``socket 127.0.0.1:8084 async full`` connects to (docs/freeswitch.md). Options:
``routecore.adapter.config``."""

from __future__ import annotations

import argparse
import logging
import sys

from routecore.adapter.config import add_options, config_from
from routecore.errors import RoutecoreError

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
    try:
        config = config_from(args)
    except RoutecoreError as e:
        print(f"routecore-freeswitch: {e}", file=sys.stderr)
        return 2
    from routecore.adapter.server import serve
    from routecore_freeswitch.server import make_handler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return serve(config, make_handler, name="routecore-freeswitch")
    except OSError as e:
        print(
            f"routecore-freeswitch: cannot listen on {config.host}:{config.port}: {e}",
            file=sys.stderr,
        )
        return 4


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
