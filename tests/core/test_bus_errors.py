"""No SIGBUS, ever: a state file or an image truncated in place under processes that use them.

A page past the end of a file truncated under a live mapping kills the process that touches it
with SIGBUS. The compiled core catches that fault inside its own mappings (the pages become
zeros, the mapping is marked broken) and the operation that touched them raises StateError or
LayoutError; a fault anywhere else still goes to the handler before it (faulthandler, the
default). These tests truncate files under processes hammering them; every process must live,
say why, and work again once the file is recreated. The pure-Python reference (a test oracle,
not a production backend) has no such guard, so only the native core is tried.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import routecore.backend.native as native
from routecore.errors import LayoutError, StateError

CTX = mp.get_context("fork")
PROCESSES = 3
NUMBERS = [f"1380013{i:04d}" for i in range(256)]
CAUGHT = "truncated in place while this process used it"


def _until_error(step: Any, error: type[Exception], ready: Any) -> str | None:
    """Run ``step(n)`` until it raises ``error`` (its message) or 20 s pass (None); ``ready``
    is set after 300 steps."""
    deadline = time.monotonic() + 20
    ops = 0
    while time.monotonic() < deadline:
        try:
            step(ops)
        except error as e:
            return str(e)
        ops += 1
        if ops == 300:
            ready.set()
    return None


def _hammer_state(path: str, ready: Any, go: Any, out: Any) -> None:
    """Claim, look and count across the whole file until an error; then reopen when told."""
    state = native.State.open(path)

    def step(ops: int) -> None:
        number = NUMBERS[ops % len(NUMBERS)]
        claim = state.claim([number], f"call-{os.getpid()}-{ops}")
        state.destination(number)
        state.remember("4006001003", number, number, time.time())
        state.count_branch("4006001003", ops % 8, time.time())
        if claim is not None:
            state.release(claim)

    error = _until_error(step, StateError, ready)
    out.put(("error", os.getpid(), error))
    if not go.wait(20):
        return
    again = native.State.open(path)
    mine = f"139{os.getpid():08d}"
    claim = again.claim([mine], "after")
    out.put(("reopened", os.getpid(), claim is not None and again.destination(mine).busy))


def _run_until_errors(target: Any, args: tuple[Any, ...], truncate: Any, recreate: Any) -> list:
    ready = [CTX.Event() for _ in range(PROCESSES)]
    go = CTX.Event()
    out = CTX.Queue()
    procs = [CTX.Process(target=target, args=(*args, ready[i], go, out)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        for r in ready:
            assert r.wait(30), "a hammering process never got going"
        truncate()
        got = [out.get(timeout=30) for _ in procs]
        recreate()
        go.set()
        got += [out.get(timeout=30) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
            if p.exitcode is None:
                p.kill()
    codes = [p.exitcode for p in procs]
    assert codes == [0] * PROCESSES, f"exit codes {codes} (-7 is SIGBUS)"
    return got


def test_a_state_file_truncated_under_hammering_processes_is_an_error_in_each(tmp_path):
    path = str(tmp_path / "state")
    with native.State.create(path, destinations=512, memory=1024, numbers=16) as state:
        for number in NUMBERS:
            state.add_destination(number)

    def recreate() -> None:
        os.remove(path)
        native.State.create(path, destinations=512, memory=1024, numbers=16).close()

    got = _run_until_errors(_hammer_state, (path,), lambda: os.truncate(path, 0), recreate)
    errors = [message for kind, _, message in got if kind == "error"]
    assert all(m and "truncated" in m for m in errors), errors
    # The fault itself was caught at least once (not only found by the once-a-second look).
    assert any(CAUGHT in m for m in errors), errors
    assert [ok for kind, _, ok in got if kind == "reopened"] == [1] * PROCESSES


def _image_bytes(value: int) -> bytes:
    """An image of a trie over many keys and a group, several pages long."""
    keys = {f"0{i:05d}": value for i in range(20_000)}
    group = native.Group.build(NUMBERS[:8], mode="round_robin")
    return native.build_image(
        {"areas": native.Trie.build(keys).to_bytes(), "team": group.to_bytes()}
    )


def _hammer_image(path: str, ready: Any, go: Any, out: Any) -> None:
    image = native.Image.open(path)
    areas, team = image.trie("areas"), image.group("team")

    def step(ops: int) -> None:
        assert areas.lookup(f"0{(ops * 7919) % 20_000:05d}12345") == 1
        team.attempts(seed=ops)

    error = _until_error(step, LayoutError, ready)
    out.put(("error", os.getpid(), error))
    if not go.wait(20):
        return
    out.put(("reopened", os.getpid(), native.Image.open(path).trie("areas").lookup("0000019")))


def test_an_image_truncated_under_hammering_processes_is_an_error_in_each(tmp_path):
    path = tmp_path / "routes.img"
    path.write_bytes(_image_bytes(1))

    def publish() -> None:  # the right way: a new file renamed into place
        tmp = tmp_path / "routes.img.new"
        tmp.write_bytes(_image_bytes(2))
        os.replace(tmp, path)

    got = _run_until_errors(_hammer_image, (str(path),), lambda: os.truncate(path, 0), publish)
    errors = [message for kind, _, message in got if kind == "error"]
    assert all(m and CAUGHT in m and "open it again" in m for m in errors), errors
    assert [v for kind, _, v in got if kind == "reopened"] == [2] * PROCESSES


def _ask_a_broken_image(path: Path, out: Any) -> None:
    image = native.Image.open(path)
    areas, team, seg = image.trie("areas"), image.group("team"), image.segments("segments")
    classifier = native.Classifier(seg)
    os.truncate(path, 0)
    checks = {
        "trie lookup": lambda: areas.lookup("0199991"),
        "image.trie": lambda: image.trie("areas"),
        "image.names": image.names,
        "group attempts": lambda: team.attempts(seed=1),
        "segments lookup": lambda: seg.lookup(1380013),
        "classify": lambda: classifier.classify("13800138000"),
        "verify": image.verify,
    }
    answers = {}
    for name, check in checks.items():
        try:
            answers[name] = f"answered {check()!r}"
        except LayoutError as e:
            answers[name] = str(e)
    out.put(answers)


def test_every_table_of_a_broken_image_refuses_to_answer(tmp_path):
    path = tmp_path / "routes.img"
    segments = native.SegmentTable.build(None, [(1380013, "010", "北京", "北京")])
    tables = {
        "areas": native.Trie.build({f"0{i:05d}": 1 for i in range(20_000)}).to_bytes(),
        "team": native.Group.build(NUMBERS[:3]).to_bytes(),
        "segments": segments.to_bytes(),
    }
    path.write_bytes(native.build_image(tables))
    out = CTX.Queue()
    p = CTX.Process(target=_ask_a_broken_image, args=(path, out))
    p.start()
    p.join(30)
    assert p.exitcode == 0, f"exit code {p.exitcode} (-7 is SIGBUS)"
    for name, answer in out.get(timeout=1).items():
        assert CAUGHT in answer, f"{name}: {answer}"


_FOREIGN_FAULT = textwrap.dedent(
    """
    import faulthandler, mmap, os, sys
    if sys.argv[2] == "faulthandler":
        faulthandler.enable()
    import routecore._native as native
    folder = sys.argv[1]
    native.State.create(os.path.join(folder, "state"), destinations=4, memory=4, numbers=1)
    other = os.path.join(folder, "other")
    with open(other, "w+b") as f:
        f.write(b"x" * 8192)
        f.flush()
        mapped = mmap.mmap(f.fileno(), 8192)
    os.truncate(other, 0)
    print("touching", flush=True)
    mapped[5000]
    print("survived a fault that is not routecore's", flush=True)
    """
)


def _foreign_fault(folder: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _FOREIGN_FAULT, str(folder), mode],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_fault_outside_routecores_mappings_goes_to_faulthandler(tmp_path):
    done = _foreign_fault(tmp_path, "faulthandler")
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stderr)
    assert "touching" in done.stdout and "survived" not in done.stdout
    assert "Fatal Python error: Bus error" in done.stderr, done.stderr


def test_a_fault_outside_routecores_mappings_still_ends_the_process_by_default(tmp_path):
    done = _foreign_fault(tmp_path, "default")
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stderr)
    assert "survived" not in done.stdout
