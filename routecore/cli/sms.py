"""``routecore sms``: deliver the outbox of a call store through an SMS provider, and show
what became of its messages (B2, B3)."""

from __future__ import annotations

import argparse
import os
import signal
from typing import Any

from routecore.cli.common import EXIT_OK, JSON_HELP, Usage, output

__all__ = ["add_parsers"]


def _provider(url: str) -> Any:
    if not url:
        raise Usage("--provider: give the SMS provider (smpp://…) or set $ROUTECORE_SMS_PROVIDER")
    if url.startswith("smpp://"):
        from routecore.sms.smpp import SmppProvider

        return SmppProvider.from_url(url)
    if url.startswith("aliyun://"):
        from routecore.sms.aliyun import AliyunProvider

        return AliyunProvider.from_url(url)
    scheme = url.split(":", 1)[0]
    raise Usage(f"--provider: unknown SMS provider {scheme!r} (smpp://… or aliyun://…)")


def _quiet(text: str) -> tuple[int, int]:
    """``--quiet-hours 21-8``: no marketing message from 21:00 to 08:00."""
    start, _, end = text.partition("-")
    if not (start.isdigit() and end.isdigit() and 0 <= int(end) < int(start) <= 23):
        raise Usage(f"--quiet-hours: HH-HH with the evening hour first (21-8), not {text!r}")
    return int(start), int(end)


def cmd_sms_send(args: argparse.Namespace) -> int:
    from routecore.sms.sender import Sender

    sender = Sender(args.calls, _provider(args.provider), quiet=_quiet(args.quiet_hours))
    if args.once:
        done = sender.run_once()
        sender.provider.close()
        sender.deliveries.close()
        output(args, done, " ".join(f"{k} {v}" for k, v in done.items()))
        return EXIT_OK
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop after the message in hand
        signal.signal(sig, lambda *_: sender.stop.set())
    sender.run()
    return EXIT_OK


def cmd_sms_status(args: argparse.Namespace) -> int:
    from routecore.store import CallStore
    from routecore.store.sms_delivery import Deliveries

    CallStore(args.calls).close()
    with Deliveries(args.calls) as deliveries:
        counts = deliveries.counts()
    output(args, counts, " ".join(f"{k} {v}" for k, v in counts.items()))
    return EXIT_OK


def add_parsers(sub: Any, calls_default: str) -> None:
    """The ``sms`` command and its subcommands' parsers."""
    s = sub.add_parser(
        "sms",
        help="deliver the outbox (hang-up and missed-call SMS) through a provider",
        description="The engine queues the hang-up (B2) and missed-call (B3) SMS in the call "
        "store's outbox; this delivers them in order, at the provider's rate, each attempt "
        "and the final status kept; a message left in doubt by a crash is never sent twice.",
    )
    ssub = s.add_subparsers(dest="sms_command", required=True)
    send = ssub.add_parser("send", help="deliver the outbox until stopped (or --once)")
    send.add_argument(
        "--provider",
        default=os.environ.get("ROUTECORE_SMS_PROVIDER", ""),
        help="smpp://system_id:password@host:port?source=<number>&rate=<per s>, or"
        " aliyun://AccessKeyId:Secret@endpoint?hangup=SMS_…&missed_call=SMS_…"
        " [$ROUTECORE_SMS_PROVIDER]",
    )
    send.add_argument("--once", action="store_true", help="send what is due now, then stop")
    send.add_argument(
        "--quiet-hours",
        default="21-8",
        help="no marketing (bulk) message in these hours, the recipient's time [21-8]",
    )
    send.set_defaults(run=cmd_sms_send)
    status = ssub.add_parser("status", help="the outbox's messages by delivery state")
    status.set_defaults(run=cmd_sms_status)
    for cmd in (send, status):
        cmd.add_argument(
            "--calls",
            default=calls_default,
            help="the call store: a file or postgresql://… [calls.db]",
        )
        cmd.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
