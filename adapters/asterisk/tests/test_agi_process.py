"""The process-per-call AGI as Asterisk runs it: ``AGI(routecore-asterisk,agi)`` starts
``routecore-asterisk agi`` with the environment on stdin (``agi_arg_1: agi``), commands come
on stdout, and a hang-up is SIGHUP (no ``HANGUP`` line), then 511 for every command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakeast import FakeAsterisk, Ring, Scenario, busy, check_call, environment, records, run

from routecore.adapter.runtime import Runtime

SCRIPT = shutil.which("routecore-asterisk", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(SCRIPT is None, reason="routecore-asterisk is not installed")
DIAL = 5  # ANSWER, welcome, main menu, sales menu, transfer, Dial


def agi_environ(host: Runtime) -> dict[str, str]:
    c = host.config
    keep = ("ROUTECORE_CACHE_DIR",)  # the others would bend the call: set below or dropped
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTECORE_") or k in keep}
    env.update(
        ROUTECORE_IMAGE=c.image,
        ROUTECORE_STATE=c.state,
        ROUTECORE_CALLS=str(c.calls),
        ROUTECORE_PROMPTS=c.prompts,
        ROUTECORE_RECORDINGS=c.recordings,
        ROUTECORE_LOG_LEVEL="WARNING",
    )
    return env


def agi_call(
    host: Runtime,
    scenario: Scenario,
    block: bytes,
    *,
    sighup: bool = False,
    argv: tuple[str, ...] = ("agi",),
) -> tuple[FakeAsterisk, int, str]:
    """Run ``routecore-asterisk agi`` for one call; the fake, the exit status, stderr. ``argv``:
    the command line Asterisk gives it (the AGI's arguments after the script)."""

    async def body() -> tuple[FakeAsterisk, int, str]:
        assert SCRIPT is not None
        proc = await asyncio.create_subprocess_exec(
            SCRIPT,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=agi_environ(host),
        )
        fake = FakeAsterisk(scenario, block)
        if sighup:
            fake.hangup = lambda: proc.send_signal(signal.SIGHUP)
        assert proc.stdout is not None and proc.stderr is not None
        try:
            await fake.play(proc.stdout, proc.stdin)
            code = await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return fake, code, (await proc.stderr.read()).decode()

    fake, code, err = run(body())
    check_call(fake)
    return fake, code, err


def process_env(**kw: Any) -> bytes:
    """The environment of ``AGI(routecore-asterisk,agi[,…])``: no ``agi_network`` lines; the
    script's arguments as ``agi_arg_N``."""
    kw.setdefault("args", ("agi",))
    return environment(script=None, request="routecore-asterisk", **kw)


def test_a_complete_call(host: Runtime) -> None:
    """Talk time is the conversation: from the answer moment ``[rc-answer-time]`` returns to
    the end of the Dial — not Asterisk's ANSWEREDTIME, the caller's up time with the prompts
    (here 1 + 7 s)."""
    p = host.media.prompts
    ring = Ring(talk=1, delay=1.2, up=7)
    fake, code, err = agi_call(
        host, Scenario(digits=["1", "1"], rings=[ring]), process_env(uniqueid="p-1")
    )
    assert code == 0, err
    target = fake.dials()[0].split("/")[1].split("@")[0]
    assert fake.commands() == [
        "ANSWER",
        f'STREAM FILE {p}/4006001003/welcome ""',
        f"GET DATA {p}/main_menu 5000 1",
        f"GET DATA {p}/sales_menu 5000 1",
        f'STREAM FILE {p}/sys_transfer ""',
        f"EXEC Dial Local/{target}@destinations,20,gU(rc-answer-time)",  # the answer's time
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        "GET VARIABLE GOSUB_RETVAL",
        "EXEC Hangup 16",
    ]
    (rec,) = records(host, "p-1")
    assert rec["outcome"] == "answered" and rec["answered_by"] == target
    assert rec["talk_seconds"] == 1
    assert rec["end"] - rec["answer"] == 1 and rec["end"] - rec["start"] >= 1.2
    assert busy(host) == {}


def test_a_dialplan_without_the_answer_time_context(host: Runtime) -> None:
    """No ``[rc-answer-time]``: Dial carries on without its subroutine and the talk time
    falls back to ANSWEREDTIME less the time the caller was up before the Dial."""
    ring = Ring(talk=21, subroutine=False, up=0)
    fake, code, err = agi_call(
        host, Scenario(digits=["1", "1"], rings=[ring]), process_env(uniqueid="p-1b")
    )
    assert code == 0, err
    assert "GET VARIABLE ANSWEREDTIME_MS" in fake.commands()
    (rec,) = records(host, "p-1b")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] in (20, 21)  # less the prompts
    assert "rc-answer-time" in err  # the operator is told what is missing


def test_the_400_number_as_the_argument_after_agi(host: Runtime) -> None:
    block = process_env(uniqueid="p-2", args=("agi", "8006001007"))
    scenario = Scenario(digits=["1", "1"], rings=[Ring()])
    # Asterisk runs AGI(routecore-asterisk,agi,8006001007) as `routecore-asterisk agi 8006001007`
    _, code, err = agi_call(host, scenario, block, argv=("agi", "8006001007"))
    assert code == 0, err
    (rec,) = records(host, "p-2")
    assert rec["did"] == "8006001007"


def test_a_wrapper_without_the_agi_argument(host: Runtime) -> None:
    block = process_env(uniqueid="p-3", args=())
    _, code, err = agi_call(host, Scenario(digits=["2"], rings=[Ring()]), block)
    assert code == 0, err
    (rec,) = records(host, "p-3")
    assert rec["did"] == "4006001003" and rec["outcome"] == "answered"


def test_sighup_mid_dial_ends_the_call(host: Runtime) -> None:
    seen: dict[str, Any] = {}

    def look(k: int, line: bytes, fake: FakeAsterisk) -> None:
        if k == DIAL:
            seen["ringing"] = busy(host)

    scenario = Scenario(
        digits=["1", "1"], rings=[Ring()], hangup_at=DIAL, inflight="none", on_step=look
    )
    fake, code, err = agi_call(host, scenario, process_env(uniqueid="p-4"), sighup=True)
    assert code == 0, err
    assert len(fake.lines) == DIAL + 1  # nothing after the Dial: the process exited
    assert list(seen["ringing"].values()) == [1]  # the Dial held its claim while ringing
    assert busy(host) == {}
    (rec,) = records(host, "p-4")
    assert rec["outcome"] == "caller_hung_up" and rec["answered_by"] is None


def test_sighup_after_dial_returns_as_asterisk_orders_it(host: Runtime) -> None:
    # Asterisk's order: Dial ends (-1), then SIGHUP; GET VARIABLE still works on a dead channel
    scenario = Scenario(
        digits=["1", "1"],
        rings=[Ring("CANCEL", result=-1)],
        hangup_at=DIAL,
        inflight="reply-first",
        dead_variables="answer",
    )
    fake, code, err = agi_call(host, scenario, process_env(uniqueid="p-5"), sighup=True)
    assert code == 0, err
    assert all(c.startswith("GET ") and "VARIABLE " in c for c in fake.commands()[DIAL + 1 :])
    assert busy(host) == {}
    assert len(records(host, "p-5")) == 1


def test_sighup_during_a_menu(host: Runtime) -> None:
    scenario = Scenario(digits=["1"], hangup_at=3, inflight="none")
    fake, code, err = agi_call(host, scenario, process_env(uniqueid="p-6"), sighup=True)
    assert code == 0, err
    assert len(fake.lines) == 4
    (rec,) = records(host, "p-6")
    assert rec["outcome"] == "caller_hung_up"


def test_not_a_400_number_is_refused(host: Runtime) -> None:
    fake, code, err = agi_call(host, Scenario(), process_env(dnid="s", extension="s"))
    assert code == 0, err
    assert fake.commands() == ["EXEC Hangup 41"]


def test_sighup_during_a_recorded_conversation_keeps_the_recording(host: Runtime) -> None:
    dial = 4  # ANSWER, welcome, main menu, MixMonitor, Dial
    scenario = Scenario(
        digits=["1", "3"],
        rings=[Ring(talk=1, delay=1.2, result=-1)],
        hangup_at=dial,
        inflight="reply-first",
        dead_variables="answer",  # GET VARIABLE answered, StopMixMonitor refused (511)
    )
    block = process_env(dnid="8006001007", uniqueid="p-7")
    fake, code, err = agi_call(host, scenario, block, sighup=True)
    assert code == 0, err
    assert fake.commands()[dial + 1 :] == [
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}",
        "GET VARIABLE GOSUB_RETVAL",
        'EXEC StopMixMonitor ""',
    ]
    (rec,) = records(host, "p-7")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 1
    assert rec["recording"] == "p-7.wav" and rec["survey"] is None
    assert busy(host) == {}


def test_the_call_path_imports_nothing_it_does_not_need() -> None:
    """A process per call starts fast: its whole path to the first command (the command line's
    ``agi`` branch, the runtime, the engine, the dialplan) loads no asyncio (~50 ms), no flow
    models (pydantic), no YAML, no argparse and no Redis client."""
    code = (
        "import sys\n"
        "import routecore_asterisk.cli, routecore_asterisk.agi, routecore.adapter.runtime\n"
        "import routecore.engine.session, routecore.backend.native, routecore.state.live\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    for heavy in ("asyncio", "pydantic", "yaml", "argparse", "redis", "numpy"):
        assert heavy not in out, heavy


def test_a_killed_agi_leaves_its_call_journaled_with_the_agent_it_rings(host: Runtime) -> None:
    """kill -9 of the process during its Dial (Asterisk goes on with the Dial): the call's
    journal row holds the agent, for a server on the host to reconcile (adapters/
    test_reconcile.py); a call that ends leaves no row."""
    agi_call(host, Scenario(digits=["1", "1"], rings=[Ring()]), process_env(uniqueid="p-ok"))
    assert host.calls.open_calls() == []

    async def body() -> None:
        assert SCRIPT is not None
        proc = await asyncio.create_subprocess_exec(
            SCRIPT, "agi", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=agi_environ(host),
        )  # fmt: skip
        ring = Ring(delay=5.0, on_answer=lambda fake: proc.kill())
        fake = FakeAsterisk(Scenario(digits=["1", "1"], rings=[ring]), process_env(uniqueid="p-9"))
        assert proc.stdout is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fake.play(proc.stdout, proc.stdin), 10)
        await proc.wait()

    run(body())
    [row] = host.calls.open_calls()
    assert row.call_id == "p-9" and row.protocol == "agi" and len(row.claimed) == 1
    assert records(host, "p-9") == []  # no record yet: the reconciler completes it


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.08])
def test_a_sighup_in_the_first_moments_still_leaves_a_record(host: Runtime, delay: float) -> None:
    """The caller hangs up while the process is still starting (Asterisk has written the
    environment): from the moment the process catches SIGHUP (its package's first import; the
    interpreter's own start before it is the window left), it ends with the call's record."""
    import subprocess
    import time

    assert SCRIPT is not None
    uniqueid = f"p-early-{int(delay * 1000)}"
    proc = subprocess.Popen(
        [SCRIPT, "agi"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=agi_environ(host),
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(process_env(uniqueid=uniqueid))
    proc.stdin.flush()
    deadline = time.monotonic() + 10
    while not _catches_sighup(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signal.SIGHUP)
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (proc.returncode, err[-500:])
    (rec,) = records(host, uniqueid)
    assert rec["outcome"] == "caller_hung_up"
    assert busy(host) == {}


def _catches_sighup(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGHUP now (``SigCgt`` in its status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
    return False


def test_sighup_is_caught_before_anything_heavy_is_imported() -> None:
    """``routecore-asterisk agi`` catches SIGHUP when its package is first imported, before the
    options, the engine or typing are loaded (the ~100 ms in which a hang-up used to kill it)."""
    import subprocess

    code = (
        "import sys, signal; sys.argv = ['routecore-asterisk', 'agi'];"
        "import routecore_asterisk;"
        "print(signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None),"
        " 'routecore.adapter.config' in sys.modules, 'routecore.engine' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]
