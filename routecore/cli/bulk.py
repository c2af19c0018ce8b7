"""``routecore import``: a platform's flow files drafted, submitted, approved and published in one
process, many to a transaction, one image at the end (F1).

Each file is validated once for its submission and approval, and compiled then (its sections
kept for the publish), so importing costs one validation and one compile a flow. Files are read
in batches (``--batch``, one transaction each); a file that cannot be read or does not validate
is reported (file and rule) and the others go on (exit 1 at the end). A progress bar on a
terminal, a plain line a batch otherwise. Ctrl-C stops between statements: the batches done are
committed, nothing is published, and the command says how far it got (exit 130).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from routecore.cli.common import EXIT_INVALID, EXIT_OK, Usage, flow_store, output, progress

__all__ = ["EXIT_INTERRUPTED", "add_parsers", "cmd_import"]

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (what was done is committed)."""
SUFFIXES = (".yaml", ".yml", ".json")


def flow_files(paths: list[str]) -> list[Path]:
    """The flow files named or inside the folders named, in order (a Usage error for a path
    that is neither)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise Usage(f"{name}: no such file or folder")
    return files


def _number(path: Path, content: str) -> str:
    """The number a file is drafted under: its name when that is a number (the convention),
    else the flow's own ``number``, else its name."""
    if path.stem.isdigit() and 3 <= len(path.stem) <= 20:
        return path.stem
    from routecore.flow.loader import parse_text

    data, _ = parse_text(content, source=str(path), json_format=content.lstrip().startswith("{"))
    named = data.get("number") if isinstance(data, dict) else None
    return str(named) if named not in (None, "") else path.stem


def cmd_import(args: argparse.Namespace) -> int:
    from routecore.flow.loader import read_flow_text

    if args.publish_by and not args.approve_by:
        raise Usage("--publish-by needs --approve-by (only approved versions are published)")
    if not 1 <= args.batch <= 100_000:
        raise Usage(f"--batch: 1-100000, got {args.batch}")
    files = flow_files(args.paths)
    if not files:
        raise Usage("no flow files (*.yaml, *.yml, *.json) there")
    store = flow_store(args)
    submit = bool(args.submit or args.approve_by)
    done = invalid = 0
    approved: dict[str, int] = {}
    started = time.monotonic()
    bar = progress(len(files), "import")
    plain = not sys.stderr.isatty()
    try:
        for at in range(0, len(files), args.batch):
            items = []
            for path in files[at : at + args.batch]:
                content, issues = read_flow_text(path)
                if content is None:
                    invalid += 1
                    for issue in issues:
                        print(issue, file=sys.stderr)
                    continue
                items.append((_number(path, content), content))
            for did, version, state, error in store.add_many(
                items, args.author, submit=submit, approver=args.approve_by
            ):
                if error is not None:
                    invalid += 1
                    for issue in error.errors:
                        print(issue, file=sys.stderr)
                elif state == "approved":
                    approved[did] = version  # a number twice: its last file
            done = min(at + args.batch, len(files))
            bar.update(done - bar.n)
            if plain:
                print(f"imported {done}/{len(files)} files", file=sys.stderr, flush=True)
        bar.close()
        published = 0
        if args.publish_by and approved:
            from routecore.cli.flows import _bump
            from routecore.flow.compile import compile_texts

            published = store.publish_many(
                approved.items(),
                args.publish_by,
                image_path=args.image,
                compile=compile_texts,
                on_published=lambda: _bump(args, list(approved)),
            )
    except KeyboardInterrupt:
        bar.close()
        print(
            f"routecore: interrupted: {done} of {len(files)} files imported (committed), "
            "nothing published",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        store.close()
    seconds = time.monotonic() - started
    result: dict[str, Any] = {
        "files": len(files),
        "invalid": invalid,
        "approved": len(approved),
        "published": published,
        "seconds": round(seconds, 3),
    }
    text = f"{len(files)} files imported in {seconds:.1f} s: {invalid} invalid"
    if submit:
        text += f", {len(approved)} approved" if args.approve_by else ", submitted"
    if published:
        text += f", {published} published into {args.image}"
    output(args, result, text)
    return EXIT_INVALID if invalid else EXIT_OK


def add_parsers(sub: Any, image_default: str) -> None:
    """The import command's parser."""
    p = sub.add_parser(
        "import",
        help="draft (and submit, approve, publish) a folder of flow files in one process",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("paths", nargs="+", help="flow files or folders of them")
    p.add_argument("--author", required=True)
    p.add_argument("--submit", action="store_true", help="submit each flow that validates")
    p.add_argument("--approve-by", help="approve each as this reviewer (not the author)")
    p.add_argument("--publish-by", help="then publish every approved version: one image")
    p.add_argument("--image", default=image_default)
    p.add_argument("--state", help="the state (file or redis:// URL) whose generation to bump")
    p.add_argument("--batch", type=int, default=500, help="files a transaction [500]")
    p.set_defaults(run=cmd_import)
