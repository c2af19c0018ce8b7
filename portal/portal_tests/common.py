"""What the portal's tests share: the numbers, the password, records and example flows."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from django.test import Client

from routecore.engine import CallRecord
from routecore.store import CallStore
from routecore.store.journal import OpenCall

ROOT = Path(__file__).resolve().parents[2]
A_DID, B_DID = "4006001003", "4006001001"
PASSWORD = "a-long-test-password-1"
T0 = 1_790_000_000.0  # 2026-09-21 22:13 Asia/Shanghai


def add_calls(path: str, did: str, n: int, *, start: float = T0, recording: bool = False) -> None:
    with CallStore(path) as calls:
        calls.add_many(
            CallRecord(
                f"{did}-c{i:04d}",
                did,
                f"1390000{i:04d}",
                start=start + 60 * i,
                answer=start + 60 * i + 5 if i % 2 == 0 else None,
                end=start + 60 * i + 50,
                branches=[f"menu.{1 + i % 3}"],
                answered_by="13800138001" if i % 2 == 0 else None,
                talk_seconds=45 if i % 2 == 0 else 0,
                outcome="answered" if i % 2 == 0 else "no_answer",
                recording=f"rec-{did}-{i}" if recording and i % 2 == 0 else None,
            )
            for i in range(n)
        )


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user, backend="routecore_portal.auth.NumberOrNameBackend")
    return c


def example(did: str) -> str:
    return (ROOT / "examples" / f"{did}.yaml").read_text(encoding="utf-8")


def copy_example_prompts(prompts: str) -> None:
    for wav in (ROOT / "examples").glob("*.wav"):
        shutil.copy(wav, prompts)


def open_call(
    call_id: str,
    claimed: tuple[str, ...],
    answered_by: str | None = None,
    *,
    channel: str | None = None,
    did: str | None = None,
) -> OpenCall:
    """A journal row as an adapter writes it for a call in progress on ``A_DID``."""
    record = CallRecord(call_id, did or A_DID, "13900000042", start=time.time(), caller_area="010")
    return OpenCall(
        call_id,
        channel or call_id,
        "agi",
        "host",
        os.getpid(),
        None,
        record,
        claimed,
        answered_by,
        time.time() if answered_by else None,
        time.time(),
    )
