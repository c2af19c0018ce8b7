"""The ``routecore`` command: validate and compile flows, review and publish them, show what a
published image holds, run scripted calls, export reports, purge old recordings and voicemail,
bill (B5, B8, B11, B12, B15, F1, P1, P2, P3, P4).

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
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from routecore.errors import ActionError, FlowError, ReviewError, RoutecoreError
from routecore.rules import DEFAULT_TZ

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REVIEW, EXIT_ERROR = 0, 1, 2, 3, 4


def _store(args: argparse.Namespace) -> Any:
    from routecore.flow import loads_flow
    from routecore.store import FlowStore

    def validate(content: str, source: str) -> Any:
        flow, _warnings = loads_flow(
            content, source=source, json_format=content.lstrip().startswith("{")
        )
        return flow

    return FlowStore(args.store, validate=validate)


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else text)


def _progress(total: int, label: str) -> Any:
    """A progress bar on standard error for long work (none when it is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="flow", disable=not sys.stderr.isatty() or total < 2)


def cmd_validate(args: argparse.Namespace) -> int:
    from routecore.flow import validate_flow
    from routecore.flow.loader import read_flow_file

    report = []
    failed = False
    with _progress(len(args.files), "validate") as bar:
        for path in args.files:
            data, issues = read_flow_file(path)
            warnings: list[Any] = []
            if data is not None:
                try:
                    _, warnings = validate_flow(data, source=str(path))
                except FlowError as e:
                    issues, warnings = issues + e.errors, e.warnings
            failed |= bool(issues)
            report.append(
                {
                    "file": str(path),
                    "errors": [str(i) for i in issues],
                    "warnings": [str(w) for w in warnings],
                }
            )
            bar.update(1)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for r in report:
            for line in r["errors"]:
                print(line)
            for line in r["warnings"]:
                print(f"{line} (warning)")
            if not r["errors"]:
                print(f"{r['file']}: ok")
    return EXIT_INVALID if failed else EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from routecore.flow import load_flow
    from routecore.flow.compile import compile_flows
    from routecore.store import publish_image
    from routecore.store.publish import image_lock

    flows = []
    with _progress(len(args.files), "validate") as bar:
        for path in args.files:
            flows.append(load_flow(path))
            bar.update(1)
    with _progress(len(flows), "compile") as bar:
        image = compile_flows(flows, progress=lambda n: bar.update(1))
    with image_lock(args.output):  # never interleaved with a publish to the same file
        publish_image(args.output, image)
    _print(
        args,
        {"image": args.output, "numbers": len(flows), "bytes": len(image)},
        f"{args.output}: {len(flows)} flows, {len(image)} bytes",
    )
    return EXIT_OK


def _version_dict(v: Any) -> dict[str, Any]:
    return {
        "number": v.did,
        "version": v.version,
        "state": v.state,
        "author": v.author,
        "reviewer": v.reviewer,
        "note": v.note,
        "live": v.live,
    }


def _version_text(v: Any) -> str:
    who = f" by {v.author}" + (f", reviewed by {v.reviewer}" if v.reviewer else "")
    return f"{v.did} v{v.version}: {v.state}{' (live)' if v.live else ''}{who}"


def cmd_draft(args: argparse.Namespace) -> int:
    from routecore.flow.issues import FlowIssue
    from routecore.flow.loader import parse_text, read_flow_text

    content, issues = read_flow_text(args.file)
    if content is None:
        raise FlowError(issues)
    data, _ = parse_text(
        content, source=str(args.file), json_format=content.lstrip().startswith("{")
    )
    named = data.get("number") if isinstance(data, dict) else None
    named = None if named in (None, "") else str(named)
    if args.number is not None and named is not None and named != args.number:
        raise FlowError(
            [
                FlowIssue(
                    str(args.file),
                    "number",
                    f"this is the flow of {named}, not of {args.number} (--number): "
                    "a flow is drafted under its own number",
                )
            ]
        )
    did = args.number or named or Path(args.file).stem
    v = _store(args).draft(did, content, args.author)
    _print(args, _version_dict(v), _version_text(v))
    return EXIT_OK


def _review(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.command == "submit":
        v = store.submit(args.number, args.version, args.by)
    elif args.command == "approve":
        v = store.approve(args.number, args.version, args.by)
    elif args.command == "reject":
        v = store.reject(args.number, args.version, args.by, args.reason)
    else:
        from routecore.flow.compile import compile_texts

        step = store.publish if args.command == "publish" else store.rollback
        v = step(
            args.number,
            args.version,
            args.by,
            image_path=args.image,
            compile=compile_texts,
            on_published=lambda: _bump(args),
        )
    _print(args, _version_dict(v), _version_text(v))
    return EXIT_OK


def _bump(args: argparse.Namespace) -> None:
    """Give the destinations the host's state knows the published capacities, then tell every
    routing process on this host to map the new image at its next call."""
    from routecore import Image
    from routecore.engine.dialer import write_capacities
    from routecore.state import is_url

    path = args.state or os.environ.get("ROUTECORE_STATE") or "/dev/shm/routecore-state"
    if args.state or is_url(path) or os.path.exists(path):
        with _open_state(path) as state:
            write_capacities(state, Image.open(args.image))
            state.bump_generation()


def _open_state(location: str) -> Any:
    """The existing state at ``location``: a state file (StateError when missing) or a Redis
    store (``redis://…``, ``rediss://…``, ``unix://…``)."""
    from routecore import State
    from routecore.state import is_url, open_state

    return open_state(location) if is_url(location) else State.open(location)


def cmd_sync(args: argparse.Namespace) -> int:
    from routecore.flow.compile import compile_texts

    store = _store(args)
    wrote = store.sync_image(args.image, compile=compile_texts)
    live = store.live()
    if live:
        _bump(args)
    if not live:
        text = f"{args.image}: nothing is live"
    elif wrote:
        text = f"{args.image}: rewritten from the store's live versions"
    else:
        text = f"{args.image}: agrees with the store's live versions"
    _print(args, {"image": args.image, "rewritten": wrote, "live": live}, text)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    history = _store(args).history(args.number)
    _print(args, [_version_dict(v) for v in history], "\n".join(map(_version_text, history)))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    print(_store(args).diff(args.number, args.a, args.b), end="")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from routecore import Image
    from routecore.flow.compile import describe

    image = Image.open(args.image)
    if f"{args.number}/flow" not in image:
        print(f"{args.image}: no flow for {args.number}", file=sys.stderr)
        return EXIT_ERROR
    d = describe(image, args.number)
    lines = [f"{d['number']}: start -> {d['start']}"]
    for name, g in d["groups"].items():
        lines.append(
            f"  group {name}: {g['mode']}{', idle first' if g['idle_first'] else ''}, "
            f"ring {g['ring_timeout']} s: {', '.join(g['numbers'])}"
        )
    for name, t in d["time_routes"].items():
        lines.append(f"  time route {name} ({t['tz']}): {', '.join(t['slots'])}")
    lines.append(f"  sections: {', '.join(d['sections'])}")
    _print(args, d, "\n".join(lines))
    return EXIT_OK


def _zone(name: str) -> Any:
    """The time zone ``name`` (``--tz``), or a usage error naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Usage(f"unknown time zone: {name!r} (an IANA name: {DEFAULT_TZ})") from None


def _when(text: str | None, tz: str) -> float:
    """``text`` (ISO date or date and time, in ``tz``) as unix seconds; now when None."""
    import time
    from datetime import datetime

    zone = _zone(tz)
    if text is None:
        return time.time()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Usage(f"not a date or time: {text!r} (2026-11-23 or 2026-11-23T10:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):  # pragma: no cover - depends on the platform
        raise _Usage(f"time out of range: {text!r}") from None


def _day(text: str | None) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Usage(f"not a date: {text!r} (2026-11-23)") from None


class _Usage(Exception):
    """A command-line value that cannot be used (exit code 2)."""


def cmd_simulate(args: argparse.Namespace) -> int:
    from routecore import Image
    from routecore.engine.actions import CallStarted, OutboundStarted
    from routecore.engine.simulate import json_lines, simulate, text_lines

    if args.flow:
        from routecore.flow import load_flow
        from routecore.flow.compile import compile_flows

        image = Image.from_buffer(compile_flows([load_flow(f) for f in args.flow]))
    else:
        image = Image.open(args.image)
    script = list(args.steps)
    if args.script:
        try:
            if args.script == "-":
                text = sys.stdin.read()
            else:
                text = Path(args.script).read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Usage(
                f"--script {args.script}: not UTF-8 text ({e.reason} at byte {e.start})"
            ) from None
        for line in text.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                script.append(line)
    at = _when(args.at, args.tz)
    state = _open_state(args.state) if args.state else None
    try:
        start: Any = (
            OutboundStarted(args.number, args.outbound, args.caller, at, args.call_id)
            if args.outbound
            else CallStarted(args.number, args.caller, at, args.call_id)
        )
        sim = simulate(image, start, script, state=state, seed=args.seed)
    except ActionError as e:  # a bad number, call id or script step
        raise _Usage(str(e)) from None
    for line in json_lines(sim) if args.json else text_lines(sim, args.tz):
        print(line)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from routecore.store import CallStore, day_range, report_rows, write_csv

    _zone(args.tz)
    since, until = day_range(_day(args.since), _day(args.until), args.tz)
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

    now = _when(args.now, args.tz)
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
    zone = _zone(args.tz)
    lines = [
        f"{'would remove' if args.dry_run else 'removed'} {p.kind} {p.reference} of {p.did} "
        f"call {p.call_id} ({iso_time(p.start, zone)[:16].replace('T', ' ')}): "
        f"{len(p.files)} file(s)"
        for p in purged
    ]
    _print(args, [asdict(p) for p in purged], "\n".join(lines) or "nothing to purge")
    return EXIT_OK


def _month(text: str) -> Any:
    from routecore.billing.months import Month
    from routecore.errors import BillingError

    try:
        return Month.parse(text)
    except BillingError as e:
        raise _Usage(str(e)) from None


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
    _print(
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
    _bill_print(
        args, statement(args.number, package, account.start, month, usage(rows), _seats(args.seats))
    )
    return EXIT_OK


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
    _print(args, items, "\n".join(lines))
    return EXIT_OK


def _seats(text: str) -> int:
    """``--seats``: a whole number 0-1000000, or a one-line usage error (exit 2)."""
    try:
        seats = int(text)
    except ValueError:
        raise _Usage(f"--seats: not a number of seats: {text!r}") from None
    if not 0 <= seats <= 1_000_000:
        raise _Usage(f"--seats: seats must be 0-1000000, not {seats}")
    return seats


def _bill_parser(sub: Any, calls_default: str) -> None:
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
    st.add_argument("--calls", default=calls_default, help="the call store [calls.db]")
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
        cmd.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="routecore", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--store",
        default=os.environ.get("ROUTECORE_STORE", "routecore.db"),
        help="the flow store (SQLite file) [$ROUTECORE_STORE or routecore.db]",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="command", required=True)
    image_default = os.environ.get("ROUTECORE_IMAGE", "routes.img")

    v = sub.add_parser("validate", help="check flow files, report every error")
    v.add_argument("files", nargs="+")
    v.set_defaults(run=cmd_validate)
    c = sub.add_parser(
        "compile",
        help="compile flow files into a routing image (outside the review: for tests and images "
        "no store manages; never point it at a published image, publish instead)",
    )
    c.add_argument("files", nargs="+")
    c.add_argument("-o", "--output", default=image_default)
    c.set_defaults(run=cmd_compile)
    d = sub.add_parser("draft", help="save a flow file as a new draft version")
    d.add_argument("file")
    d.add_argument("--author", required=True)
    d.add_argument(
        "--number", help="the 400 number: must be the flow's own (exit 1 if not) [the flow's own]"
    )
    d.set_defaults(run=cmd_draft)
    for name, helptext in (
        ("submit", "submit a draft for review"),
        ("approve", "approve a submitted version"),
        ("reject", "reject a submitted version"),
        ("publish", "put an approved version live"),
        ("rollback", "put an earlier published version live again"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("number")
        s.add_argument("version", type=int)
        s.add_argument("--by", required=True, help="who does it")
        if name == "reject":
            s.add_argument("--reason", required=True)
        if name in ("publish", "rollback"):
            s.add_argument("--image", default=image_default)
            s.add_argument(
                "--state", help="the state (file or redis:// URL) whose generation to bump"
            )
        s.set_defaults(run=_review)
    sy = sub.add_parser(
        "sync",
        help="rewrite the image from the store's live versions when they differ",
        description="Compile the store's live versions and, when the image differs (a "
        "publisher killed after its commit), write it atomically; then bump the state's "
        "generation so that routing processes map it.",
    )
    sy.add_argument("--image", default=image_default)
    sy.add_argument("--state", help="the state (file or redis:// URL) whose generation to bump")
    sy.set_defaults(run=cmd_sync)
    h = sub.add_parser("history", help="every version of a number's flow")
    h.add_argument("number")
    h.set_defaults(run=cmd_history)
    df = sub.add_parser("diff", help="a unified diff of two versions")
    df.add_argument("number")
    df.add_argument("a", type=int)
    df.add_argument("b", type=int)
    df.set_defaults(run=cmd_diff)
    sh = sub.add_parser("show", help="the compiled routes of one number in an image")
    sh.add_argument("number")
    sh.add_argument("--image", default=image_default)
    sh.set_defaults(run=cmd_show)

    calls_default = os.environ.get("ROUTECORE_CALLS", "calls.db")
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
    rep.add_argument("--calls", default=calls_default, help="the call store [calls.db]")
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
    pg.add_argument("--calls", default=calls_default, help="the call store [calls.db]")
    pg.add_argument("--recordings", help="directory of the recording files")
    pg.add_argument("--voicemail", help="directory of the voicemail files")
    pg.add_argument("--recording-months", type=int, default=6, help="keep recordings [6]")
    pg.add_argument("--voicemail-days", type=int, default=30, help="keep voicemail [30]")
    pg.add_argument("--now", help="purge as of this time [now]")
    pg.add_argument("--tz", default=DEFAULT_TZ, help=tz_help)
    pg.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    pg.set_defaults(run=cmd_purge)
    _bill_parser(sub, calls_default)
    for command in sub.choices.values():  # --json after the command too
        command.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
        )
    return p


def _simulate_doc() -> str:
    from routecore.engine import simulate

    return (
        "Run one scripted call through the flows and print each Action.\n\n"
        + ((simulate.__doc__ or "").split("\n\n", 1)[1])
    )


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
    except _Usage as e:
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
