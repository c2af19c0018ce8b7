"""The call commands of ``routecore``: scripted calls (simulate), reports of the call records
(report), purging old recordings and voicemail (purge) (B5, B8, B11, B12, B15)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from routecore.cli.common import EXIT_OK, Usage, day, open_existing_state, output, time_zone, when
from routecore.errors import ActionError
from routecore.rules import DEFAULT_TZ


def cmd_simulate(args: argparse.Namespace) -> int:
    from routecore.backend import get_backend
    from routecore.engine.actions import CallStarted, OutboundStarted
    from routecore.engine.simulate import json_lines, simulate, text_lines

    if args.flow:
        from routecore.flow import load_flow
        from routecore.flow.compile import compile_flows

        image = get_backend().Image.from_buffer(compile_flows([load_flow(f) for f in args.flow]))
    else:
        from routecore.state.image_set import open_image

        image = open_image(args.image, get_backend().Image)  # an image, or a set in shards
    script = list(args.steps)
    if args.script:
        try:
            if args.script == "-":
                text = sys.stdin.read()
            else:
                text = Path(args.script).read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise Usage(
                f"--script {args.script}: not UTF-8 text ({e.reason} at byte {e.start})"
            ) from None
        for line in text.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                script.append(line)
    at = when(args.at, args.tz)
    state = open_existing_state(args.state) if args.state else None
    try:
        start: Any = (
            OutboundStarted(args.number, args.outbound, args.caller, at, args.call_id)
            if args.outbound
            else CallStarted(args.number, args.caller, at, args.call_id)
        )
        sim = simulate(image, start, script, state=state, seed=args.seed)
    except ActionError as e:  # a bad number, call id or script step
        raise Usage(str(e)) from None
    for line in json_lines(sim) if args.json else text_lines(sim, args.tz):
        print(line)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from routecore.store import CallStore, day_range, report_rows, write_csv

    time_zone(args.tz)
    since, until = day_range(day(args.since), day(args.until), args.tz)
    with CallStore(args.calls) as store:
        rows = report_rows(store, args.report, args.number, since, until, tz=args.tz)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = write_csv(rows, out)
        print(f"{args.output}: {count} rows", file=sys.stderr)
    else:
        write_csv(rows, sys.stdout)
    return EXIT_OK


def cmd_purge(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from routecore.store import CallStore
    from routecore.store.reports import iso_time

    now = when(args.now, args.tz)
    with CallStore(args.calls) as store:
        purged = store.purge(
            now,
            recordings_dir=args.recordings,
            voicemail_dir=args.voicemail,
            recording_months=args.recording_months,
            voicemail_days=args.voicemail_days,
            tz=args.tz,
            dry_run=args.dry_run,
        )
    zone = time_zone(args.tz)
    lines = [
        f"{'would remove' if args.dry_run else 'removed'} {p.kind} {p.reference} of {p.did} "
        f"call {p.call_id} ({iso_time(p.start, zone)[:16].replace('T', ' ')}): "
        f"{len(p.files)} file(s)"
        for p in purged
    ]
    output(args, [asdict(p) for p in purged], "\n".join(lines) or "nothing to purge")
    return EXIT_OK


def add_parsers(sub: Any, image_default: str, calls_default: str) -> None:
    """The call commands' parsers."""
    tz_help = f"time zone of dates and times [{DEFAULT_TZ}]"
    sim = sub.add_parser(
        "simulate",
        help="run a scripted call and print each Action",
        description=_simulate_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("number", help="the 400 number called")
    sim.add_argument("caller", help="the caller's number ('' when withheld; the customer's "
                     "with --outbound)")  # fmt: skip
    sim.add_argument("steps", nargs="*", help="the script: keys, answer, busy, hangup...")
    sim.add_argument("--script", help="read more steps from this file ('-': standard input)")
    src = sim.add_mutually_exclusive_group()
    src.add_argument("--image", default=image_default, help="a published image [routes.img]")
    src.add_argument(
        "--flow", action="append", help="a flow file to try before publishing (repeatable)"
    )
    sim.add_argument("--at", help="when the call starts [now]")
    sim.add_argument("--tz", default=DEFAULT_TZ, help=tz_help)
    sim.add_argument("--state", help="a state to use (a file or a redis:// URL) [a temporary file]")
    sim.add_argument("--seed", type=int, default=1, help="selection seed [1]")
    sim.add_argument("--call-id", default="sim-1")
    sim.add_argument("--outbound", metavar="AGENT", help="B3: an agent's call to the customer")
    sim.set_defaults(run=cmd_simulate)

    from routecore.store.calls import AUDIO_EXTENSIONS
    from routecore.store.reports import REPORTS

    rep = sub.add_parser("report", help="export a report of the call records as CSV")
    rep.add_argument("report", choices=list(REPORTS))
    rep.add_argument("--number", help="one 400 number [all]")
    rep.add_argument("--from", dest="since", help="first day, 2026-11-01 [the first call]")
    rep.add_argument("--to", dest="until", help="last day, included [the last call]")
    rep.add_argument("--tz", default=DEFAULT_TZ, help=tz_help)
    rep.add_argument(
        "--calls", default=calls_default, help="the call store: a file or postgresql://… [calls.db]"
    )
    rep.add_argument("-o", "--output", help="CSV file [standard output]")
    rep.set_defaults(run=cmd_report)

    pg = sub.add_parser(
        "purge",
        help="remove recordings over 6 months and expired voicemail",
        description="Delete the files of recordings older than --recording-months and of "
        "voicemail older than --voicemail-days, and mark them purged. Only the kinds whose "
        "folder is given are purged (nor marked). The files of a reference REF are exactly "
        f"REF and REF.EXT for EXT in {', '.join(AUDIO_EXTENSIONS)}, regular files directly in "
        "the folder: nothing is globbed and no symlink is followed.",
    )
    pg.add_argument(
        "--calls", default=calls_default, help="the call store: a file or postgresql://… [calls.db]"
    )
    pg.add_argument("--recordings", help="directory of the recording files")
    pg.add_argument("--voicemail", help="directory of the voicemail files")
    pg.add_argument("--recording-months", type=int, default=6, help="keep recordings [6]")
    pg.add_argument("--voicemail-days", type=int, default=30, help="keep voicemail [30]")
    pg.add_argument("--now", help="purge as of this time [now]")
    pg.add_argument("--tz", default=DEFAULT_TZ, help=tz_help)
    pg.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    pg.set_defaults(run=cmd_purge)


def _simulate_doc() -> str:
    from routecore.engine import simulate

    return (
        "Run one scripted call through the flows and print each Action.\n\n"
        + ((simulate.__doc__ or "").split("\n\n", 1)[1])
    )
