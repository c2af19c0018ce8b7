"""What the ``routecore`` command's groups share: exit codes, output, the flow store, dates,
times and time zones, the existing state."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from routecore.rules import DEFAULT_TZ

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REVIEW, EXIT_ERROR = 0, 1, 2, 3, 4


class Usage(Exception):
    """A command-line value that cannot be used (exit code 2)."""


JSON_HELP = "machine-readable output"


def flow_store(args: argparse.Namespace) -> Any:
    """The flow store of ``--store``, validating with the flow models and compiling one number
    at a time (the compiled sections of the live versions reused)."""
    from routecore.flow import loads_flow
    from routecore.flow.compile import COMPILER, compile_text, image_of
    from routecore.store import FlowStore
    from routecore.store.flows import Sections

    def validate(content: str, source: str) -> Any:
        flow, _warnings = loads_flow(
            content, source=source, json_format=content.lstrip().startswith("{")
        )
        return flow

    shards = os.environ.get("ROUTECORE_IMAGE_SHARDS", "").strip() or "0"
    if not shards.isdigit() or not 0 <= int(shards) <= 65536:
        raise Usage(f"ROUTECORE_IMAGE_SHARDS: a number of shards 0-65536, not {shards!r}")
    return FlowStore(
        args.store,
        validate=validate,
        sections=Sections(COMPILER, compile_text, image_of),
        shards=int(shards),
    )


def output(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else text)


def progress(total: int, label: str) -> Any:
    """A progress bar on standard error for long work (none when it is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="flow", disable=not sys.stderr.isatty() or total < 2)


def open_existing_state(location: str) -> Any:
    """The existing state at ``location``: a state file (StateError when missing) or a Redis
    store (``redis://…``, ``rediss://…``, ``unix://…``)."""
    from routecore.backend import get_backend
    from routecore.state import is_url, open_state

    return open_state(location) if is_url(location) else get_backend().State.open(location)


def time_zone(name: str) -> Any:
    """The time zone ``name`` (``--tz``), or a usage error naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Usage(f"unknown time zone: {name!r} (an IANA name: {DEFAULT_TZ})") from None


def when(text: str | None, tz: str) -> float:
    """``text`` (ISO date or date and time, in ``tz``) as unix seconds; now when None."""
    import time
    from datetime import datetime

    zone = time_zone(tz)
    if text is None:
        return time.time()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Usage(f"not a date or time: {text!r} (2026-11-23 or 2026-11-23T10:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):  # pragma: no cover - depends on the platform
        raise Usage(f"time out of range: {text!r}") from None


def day(text: str | None) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Usage(f"not a date: {text!r} (2026-11-23)") from None
