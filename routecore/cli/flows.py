"""The flow commands of ``routecore``: validate, compile, draft, the review (submit, approve,
reject, publish, rollback), sync, history, diff, show (F1)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from routecore.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    Usage,
    flow_store,
    open_existing_state,
    output,
    progress,
)
from routecore.errors import FlowError


def cmd_validate(args: argparse.Namespace) -> int:
    from routecore.flow import validate_flow
    from routecore.flow.loader import read_flow_file

    report = []
    failed = False
    with progress(len(args.files), "validate") as bar:
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
    with progress(len(args.files), "validate") as bar:
        for path in args.files:
            flows.append(load_flow(path))
            bar.update(1)
    with progress(len(flows), "compile") as bar:
        image = compile_flows(flows, progress=lambda n: bar.update(1))
    with image_lock(args.output):  # never interleaved with a publish to the same file
        publish_image(args.output, image)
    output(
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
    v = flow_store(args).draft(did, content, args.author)
    output(args, _version_dict(v), _version_text(v))
    return EXIT_OK


def _review(args: argparse.Namespace) -> int:
    store = flow_store(args)
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
            on_published=lambda: _bump(args, [args.number]),
        )
    output(args, _version_dict(v), _version_text(v))
    return EXIT_OK


def _bump(args: argparse.Namespace, numbers: list[str] | None = None) -> None:
    """Give the destinations the host's state knows the published capacities, then tell every
    routing process on this host to map the new image at its next call. ``numbers``: the
    numbers just published, whose flows alone are read when the image is a set in shards."""
    from routecore.backend import get_backend
    from routecore.engine.dialer import write_capacities
    from routecore.state import is_url, resolve
    from routecore.state.image_set import ImageSet, open_image

    path = resolve(args.state or None)  # --state, else $ROUTECORE_STATE, else the default file
    if args.state or is_url(path) or os.path.exists(path):
        with open_existing_state(path) as state:
            image = open_image(args.image, get_backend().Image)
            if isinstance(image, ImageSet):  # the published numbers' flows, the store's largest
                store = flow_store(args)
                try:
                    write_capacities(state, image, numbers, store.capacities)
                finally:
                    store.close()
            else:
                write_capacities(state, image)
            state.bump_generation()


def cmd_sync(args: argparse.Namespace) -> int:
    from routecore.flow.compile import compile_texts

    if args.watch:
        return _watch(args)
    store = flow_store(args)
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
    output(args, {"image": args.image, "rewritten": wrote, "live": live}, text)
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    """Follow the store: each image published on any host written here within ``--poll`` s
    (at once on PostgreSQL), until SIGTERM or Ctrl-C (``routecore.store.image_sync``)."""
    import signal
    import threading

    from routecore.store.image_sync import ImageFollower, serve_metrics

    if not 0.05 <= args.poll <= 3600:
        raise Usage(f"--poll: 0.05-3600 seconds, got {args.poll:g}")
    follower = ImageFollower(
        args.store,
        args.image,
        on_new=lambda _data: _bump(args),
        poll=args.poll,
        listen=not args.no_listen,
    )
    if args.metrics:
        host, _, port = args.metrics.rpartition(":")
        if not port.isdigit():
            raise Usage(f"--metrics: host:port, got {args.metrics!r}")
        serve_metrics(follower, host or "127.0.0.1", int(port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"{args.image}: following the store's published images", flush=True)
    try:
        follower.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    history = flow_store(args).history(args.number)
    output(args, [_version_dict(v) for v in history], "\n".join(map(_version_text, history)))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    print(flow_store(args).diff(args.number, args.a, args.b), end="")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from routecore.backend import get_backend
    from routecore.flow.compile import describe
    from routecore.state.image_set import open_image

    image = open_image(args.image, get_backend().Image)  # an image, or a set in shards
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
    output(args, d, "\n".join(lines))
    return EXIT_OK


def add_parsers(sub: Any, image_default: str) -> None:
    """The flow commands' parsers."""
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
    sy.add_argument(
        "--watch",
        action="store_true",
        help="keep following the store: write each image published on any host (a routing "
        "host's service; PostgreSQL notifies at once, else every --poll seconds)",
    )
    sy.add_argument("--poll", type=float, default=1.0, help="seconds between looks [1]")
    sy.add_argument(
        "--no-listen",
        action="store_true",
        help="poll only, never wait for PostgreSQL's notification (a network that drops "
        "long-lived connections)",
    )
    sy.add_argument("--metrics", help="host:port of a Prometheus endpoint for --watch")
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
