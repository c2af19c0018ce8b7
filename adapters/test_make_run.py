"""The README's run command: ``make run`` publishes the examples through the review workflow
and starts the PBX adapter's server on the embedded defaults, saying where it listens."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("pbx", ["asterisk", "freeswitch"])
def test_make_run_publishes_the_examples_and_serves(tmp_path: Path, pbx: str) -> None:
    env = dict(
        os.environ,
        ROUTECORE_STATE=str(tmp_path / "state"),  # not the host's /dev/shm/routecore-state
        ROUTECORE_LISTEN="127.0.0.1:0",  # not 4573/8084, which may be taken here
    )
    proc = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "run",
            f"PBX={pbx}",
            f"RUN={tmp_path / 'run'}",
            f"BIN={Path(sys.executable).parent}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
        listening = [x for x in lines if "listening on" in x]
        assert listening, "".join(lines)
        assert re.search(
            rf"routecore-{pbx}: listening on 127\.0\.0\.1:\d+ \(1 worker", listening[0]
        )
        assert (tmp_path / "run" / "routes.img").is_file()
        published = [x for x in lines if "published (live)" in x]
        assert len(published) == len(list((ROOT / "examples").glob("*.yaml")))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
