"""Real calls through a real Asterisk 22 and FreeSWITCH 1.10 (``make test-pbx``).

The PBXs are built from their public repositories outside the checkout (see the README:
``/opt/asterisk``, ``/opt/freeswitch`` + ``/opt/fsdeps``, or ``ASTERISK_PREFIX`` /
``FREESWITCH_PREFIX``), and driven by the platform's harness (``ROUTECORE_PBX_HARNESS``,
default ``../shared/pbx`` beside the checkout: configs, start/stop scripts, SIPp callers and
phones). Each PBX is started in a sandbox of the test session on ports of its own (so a PBX
someone else runs on the harness's defaults is left alone), with routecore's server in front
of it, and SIPp places the calls.

These tests run only when ``ROUTECORE_PBX_TESTS=1`` (``make test-pbx`` sets it); ``make test``
skips them with one line saying why, and so does ``make test-pbx`` where a PBX, SIPp or the
harness is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(os.environ.get("ROUTECORE_PBX_HARNESS", ROOT.parent / "shared" / "pbx"))
ASTERISK = Path(os.environ.get("ASTERISK_PREFIX", "/opt/asterisk"))
FREESWITCH = Path(os.environ.get("FREESWITCH_PREFIX", "/opt/freeswitch"))
BIN = Path(sys.executable).parent

# Ports of this test session (the harness's defaults + 20000), so a PBX or adapter someone
# else runs on the defaults is never touched.
AST_SIP, AST_AMI, AGI_PORT = 25060, 25038, 24573
FS_SIP, FS_ESL, ESL_PORT = 25080, 28021, 28084

PROMPTS = (
    "welcome main_menu sales_menu invalid_key sys_transfer sys_invalid_key sys_enter_extension "
    "sys_invalid_extension sys_voicemail_offer sys_voicemail sys_conference_password sys_survey "
    "agent_801 agent_802"
).split()

ANSWER_TIME = """
; routecore (docs/asterisk.md): the process-per-call AGI's U() subroutine
[rc-answer-time]
exten => s,1,Return(${STRFTIME(,,%s.%3q)})
"""

LOAD_FLOW = """
number: "4006009100"
name: load — a greeting, one destination
greeting: welcome
start: desk
prompts: {welcome: welcome.wav}
destinations:
  desk: {number: "13800138100", capacity: 100}
groups:
  desk: {members: [desk]}
"""
"""The issue's short answered call: a greeting, one destination (answers at once; the caller
hangs up after ``hold_ms``)."""

TEST_FLOWS = {
    # 8006001007 (blacklist, survey, recording, announcement) on a 400 number the harness routes
    "4006009007": ("8006001007.yaml", "8006001007"),
    # 4006001005 (agent announcement B10) as it is
}


def why_not() -> str | None:
    if os.environ.get("ROUTECORE_PBX_TESTS") != "1":
        return "real-PBX calls run with `make test-pbx` (ROUTECORE_PBX_TESTS=1)"
    return why_not_tools()


def why_not_tools() -> str | None:
    """Why real calls cannot be placed here (None: they can)."""
    if not (HARNESS / "asterisk" / "run.sh").is_file():
        return f"no PBX harness at {HARNESS} (ROUTECORE_PBX_HARNESS)"
    if shutil.which("sipp") is None or shutil.which("sox") is None:
        return "SIPp and sox are needed (Debian: sip-tester, sox)"
    return None


def need_asterisk() -> None:
    if not (ASTERISK / "sbin" / "asterisk").exists():
        pytest.skip(f"no Asterisk at {ASTERISK} (ASTERISK_PREFIX; README: building the PBXs)")


def need_freeswitch() -> None:
    if not (FREESWITCH / "bin" / "freeswitch").exists():
        pytest.skip(f"no FreeSWITCH at {FREESWITCH} (FREESWITCH_PREFIX)")


# ---------------------------------------------------------------- routecore's side


@dataclass
class Site:
    """What a routecore host has: the published image, the state, the call store, prompts."""

    folder: Path
    image: Path
    state: Path
    calls: Path
    prompts: Path
    recordings: Path

    def records(self) -> list[dict[str, Any]]:
        from routecore.store.calls import CallStore

        if not self.calls.exists():
            return []
        with CallStore(self.calls) as store:
            return list(store.calls())

    def record(self, call_id: str | None = None, *, wait: float = 10.0) -> dict[str, Any]:
        """The one record of ``call_id`` (None: the only record), waiting for it."""
        end = time.monotonic() + wait
        while True:
            rows = [r for r in self.records() if call_id is None or r["call_id"] == call_id]
            if rows:
                assert len(rows) == 1, rows
                return rows[0]
            assert time.monotonic() < end, f"no record of {call_id or 'the call'}"
            time.sleep(0.1)

    def open_calls(self) -> list[Any]:
        from routecore.store.calls import CallStore

        with CallStore(self.calls) as store:
            return store.open_calls()

    def busy(self) -> dict[str, int]:
        from routecore.state import open_state

        state = open_state(str(self.state))
        try:
            return {d.number: d.busy for d in state.destinations_now() if d.busy}
        finally:
            state.close()

    def clear_calls(self) -> None:
        if self.calls.exists():
            with sqlite3.connect(self.calls) as db:
                db.execute("DELETE FROM calls")
                db.execute("DELETE FROM open_calls")


def make_site(folder: Path) -> Site:
    from routecore.flow.compile import compile_texts
    from routecore.store.publish import publish_image

    examples = ROOT / "examples"
    texts = {p.stem: p.read_text() for p in sorted(examples.glob("*.yaml"))}
    for number, (source, original) in TEST_FLOWS.items():
        texts[number] = (examples / source).read_text().replace(original, number)
    texts["4006009100"] = LOAD_FLOW
    image = folder / "routes.img"
    publish_image(image, compile_texts(texts))
    prompts = folder / "prompts"
    prompts.mkdir()
    for name in PROMPTS:
        _tone(prompts / f"{name}.wav", 1.0)
    for number in ("4006001003", "4006001005", "4006009007", "4006009100"):
        (prompts / number).mkdir()
        _tone(prompts / number / "welcome.wav", 1.0)
    (folder / "recordings").mkdir()
    return Site(
        folder, image, folder / "state", folder / "calls.db", prompts, folder / "recordings"
    )


def _tone(path: Path, seconds: float) -> None:
    subprocess.run(
        ["sox", "-q", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path), "synth",
         str(seconds), "sine", "400", "vol", "0.2"],
        check=True,
    )  # fmt: skip


@dataclass
class Server:
    """A routecore adapter server as an operator starts it (its own process)."""

    command: list[str]
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        return self.start_until(b"listening on")

    def start_until(self, line: bytes) -> Server:
        """Start the process and wait until its output holds ``line``."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,
        )  # fmt: skip
        end = time.monotonic() + 20
        while line not in self.log.read_bytes()[offset:]:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < end, "the server did not start"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """``kill -9`` (the whole process group: every worker)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def server(site: Site, pbx: str, *extra: str) -> Server:
    if pbx == "asterisk":
        command = [str(BIN / "routecore-asterisk"), "serve", "--listen", f"127.0.0.1:{AGI_PORT}",
                   "--pbx", f"ami://routecore:routecore@127.0.0.1:{AST_AMI}"]  # fmt: skip
    else:
        command = [str(BIN / "routecore-freeswitch"), "serve", "--listen", f"127.0.0.1:{ESL_PORT}",
                   "--pbx", f"esl://:ClueCon@127.0.0.1:{FS_ESL}"]  # fmt: skip
    command += ["--image", str(site.image), "--state", str(site.state), "--calls",
                str(site.calls), "--prompts", str(site.prompts), "--recordings",
                str(site.recordings), *extra]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTECORE_")}
    env["ROUTECORE_LOOP"] = os.environ.get("ROUTECORE_LOOP", "")
    return Server(command, site.folder / f"{pbx}-server.log", env)


# ---------------------------------------------------------------- the PBXs


@dataclass
class Pbx:
    """A running harness PBX in this session's sandbox."""

    kind: str
    run_dir: Path
    scripts: Path
    env: dict[str, str]
    sip_port: int
    pid: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def cli(self, command: str) -> str:
        out = subprocess.run(
            ["bash", str(self.scripts / "cli.sh"), command], env=self.env, capture_output=True,
            text=True, timeout=20,
        )  # fmt: skip
        return out.stdout

    def log_text(self) -> str:
        name = "messages.log" if self.kind == "asterisk" else "freeswitch.log"
        path = self.run_dir / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _harness_copy(folder: Path) -> Path:
    """The harness in ``folder``, with what routecore's docs add to a dialplan."""
    copy = folder / "harness"
    shutil.copytree(HARNESS, copy, symlinks=True)
    ext = copy / "asterisk" / "etc" / "extensions.conf"
    ext.chmod(0o644)
    ext.write_text(ext.read_text() + ANSWER_TIME)
    for path in copy.rglob("*"):
        if path.is_file():
            path.chmod(path.stat().st_mode | 0o200)
    return copy


def start_pbx(kind: str, folder: Path, **overrides: str) -> Pbx:
    """A harness PBX in ``folder`` on this session's ports (``overrides``: more environment for
    run.sh and the PBX, e.g. other ports or another AGI)."""
    harness = _harness_copy(folder)
    run_dir = folder / kind
    env = dict(os.environ, PBX_RUN_DIR=str(run_dir), PBX_PROMPT_SECONDS="1")
    if kind == "asterisk":
        env.update(
            ASTERISK_PREFIX=str(ASTERISK),
            ASTERISK_SIP_PORT=str(AST_SIP),
            ASTERISK_AMI_PORT=str(AST_AMI),
            ROUTECORE_AGI_URL=f"agi://127.0.0.1:{AGI_PORT}/route",
            ROUTECORE_AGENT_DID="4006001003",
        )
        sip = AST_SIP
    else:
        env.update(
            FREESWITCH_PREFIX=str(FREESWITCH),
            FREESWITCH_SIP_PORT=str(FS_SIP),
            FREESWITCH_ESL_PORT=str(FS_ESL),
            ROUTECORE_ESL_OUTBOUND=f"127.0.0.1:{ESL_PORT}",
            ROUTECORE_AGENT_DID="4006001003",
        )
        sip = FS_SIP
    env.update(overrides)
    sip = int(env.get("ASTERISK_SIP_PORT" if kind == "asterisk" else "FREESWITCH_SIP_PORT", sip))
    scripts = harness / kind
    out = subprocess.run(
        ["bash", str(scripts / "run.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        pytest.fail(f"{kind} did not start: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    pid = int((run_dir / f"{kind}.pid").read_text())
    return Pbx(kind, run_dir, scripts, env, sip, pid, {"harness": harness})


def stop_pbx(pbx: Pbx) -> None:
    subprocess.run(["bash", str(pbx.scripts / "stop.sh")], env=pbx.env, capture_output=True,
                   timeout=60)  # fmt: skip


# ---------------------------------------------------------------- SIPp


@dataclass
class Call:
    """One SIPp caller, running or done."""

    proc: subprocess.Popen[str]
    started: float

    def result(self, timeout: float = 120) -> list[str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("RESULT ")]


def call(
    pbx: Pbx,
    number: str,
    caller: str = "13900000000",
    digits: str = "",
    hold: int = 5,
    **env: str,
) -> Call:
    """Place one call with the harness's SIPp caller (``call.sh``)."""
    environment = dict(pbx.env, PBX_TARGET=f"127.0.0.1:{pbx.sip_port}",
                       CALL_OUT_DIR=str(pbx.run_dir / "sipp"), **env)  # fmt: skip
    proc = subprocess.Popen(
        ["bash", str(pbx.extra["harness"] / "sipp" / "call.sh"), number, caller, digits,
         str(hold)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return Call(proc, time.time())


def wait_for(check: Callable[[], Any], limit: float = 30.0, what: str = "") -> Any:
    end = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < end, f"timed out: {what}"
        time.sleep(0.1)


# ---------------------------------------------------------------- load


@dataclass
class Load:
    """What a load run measured: calls placed, records answered, CPU seconds of each side."""

    calls: int
    answered: int
    failed: int
    seconds: float
    routecore_cpu: float
    pbx_cpu: float

    @property
    def routecore_ms(self) -> float:
        return self.routecore_cpu / self.calls * 1e3

    @property
    def pbx_ms(self) -> float:
        return self.pbx_cpu / self.calls * 1e3


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (a server's workers)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            total += cpu_seconds(p)
        except (OSError, ValueError, IndexError):
            pass
    return total


def load(
    pbx: Pbx, site: Site, server_pid: int, number: str, *, rate: int, calls: int, hold_ms: int
) -> Load:
    """``calls`` calls to ``number`` at ``rate`` per second (SIPp, no caller audio), each
    hanging up ``hold_ms`` after the answer unless the PBX hangs up first; the CPU both sides
    spent meanwhile."""
    out = pbx.run_dir / "sipp-load"
    out.mkdir(exist_ok=True)
    scenario = pbx.extra["harness"] / "sipp" / "caller.xml"
    before = (process_tree_cpu(server_pid), pbx.cpu_seconds())
    started = time.monotonic()
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{pbx.sip_port}", "-sf", str(scenario), "-s", number,
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", "16000", "-r", str(rate),
         "-m", str(calls), "-l", str(rate * 30), "-nostdin", "-timeout", "300s",
         "-timeout_error", "-set", "cid", "13900000000", "-set", "name", "13900000000",
         "-set", "digits", "", "-set", "dtmf_delay_ms", "0", "-set", "dtmf_gap_ms", "300",
         "-set", "hold_ms", str(hold_ms), "-set", "audio", "0", "-trace_stat",
         "-stf", str(out / "stat.csv"), "-trace_err", "-error_file", str(out / "errors.log")],
        cwd=out, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    time.sleep(1.0)  # the last records are written
    seconds = time.monotonic() - started
    after = (process_tree_cpu(server_pid), pbx.cpu_seconds())
    rows = site.records()
    answered = sum(1 for r in rows if r["outcome"] == "answered")
    failed = calls if proc.returncode not in (0, 1) else _sipp_failed(out / "stat.csv")
    return Load(calls, answered, failed, seconds, after[0] - before[0], after[1] - before[1])


def _sipp_failed(stat: Path) -> int:
    """Failed calls in SIPp's statistics file (its last line)."""
    lines = stat.read_text().splitlines() if stat.exists() else []
    if len(lines) < 2:
        return 0
    head, last = lines[0].split(";"), lines[-1].split(";")
    return int(dict(zip(head, last, strict=False)).get("FailedCall(C)", "0") or 0)


def transfer(kind: str, channel: str, number: str) -> str:
    """The portal's transfer (``routecore_portal.pbx``) of the caller on ``channel`` (the
    journal's PBX channel) to ``number``, through the PBX's control connection; the agent leg
    it ended."""
    from routecore.adapter.reconcile import control_address
    from routecore_portal.pbx import send_transfer

    url = (
        f"ami://routecore:routecore@127.0.0.1:{AST_AMI}"
        if kind == "asterisk"
        else f"esl://:ClueCon@127.0.0.1:{FS_ESL}"
    )
    return asyncio.run(send_transfer(channel, number, control_address(url)))


def call_back(kind: str, seat: str, customer: str, did: str = "4006001003") -> str:
    """The portal's click to call (``routecore_portal.pbx``): ring ``seat`` through the
    harness's destinations, then send it into the agents' outbound path for ``customer``;
    the originated channel's id."""
    from routecore.adapter.reconcile import control_address
    from routecore_portal.pbx import CallBack, send_call_back

    if kind == "asterisk":
        url = f"ami://routecore:routecore@127.0.0.1:{AST_AMI}"
        channel, context = f"Local/{seat}@destinations", "agents-out"
    else:
        url = f"esl://:ClueCon@127.0.0.1:{FS_ESL}"
        channel, context = f"loopback/{seat}/destinations", "agents"
    call = CallBack(url, channel, context, customer, did, seat)
    return asyncio.run(send_call_back(call, control_address(url)))


def check_call_back(site: Site, pbx: Pbx, seat: str, customer: str) -> None:
    """The portal's click to call on a real PBX: the seat (a destination of the shared state)
    is held while it talks, the record names it as the caller, the customer sees the 400
    number, and the seat is free after."""
    import re

    from routecore.state import open_state

    with open_state(str(site.state)) as state:
        if state.destination(seat) is None:
            state.add_destination(seat, capacity=1)
    call_back(pbx.kind, seat, customer)  # returns once the seat answered
    wait_for(lambda: site.busy().get(seat), 10, "the seat is held while it talks")
    rec = site.record(wait=20)
    assert (rec["kind"], rec["caller"], rec["callee"]) == ("outbound", seat, customer)
    assert rec["outcome"] == "answered" and 2 <= rec["talk_seconds"] <= 5, rec
    seen = re.findall(rf"DEST {customer} mode=\S+ caller=(\S+)", pbx.log_text())
    assert seen and seen[-1] == "4006001003"  # the customer sees the 400 number
    wait_for(lambda: seat not in site.busy(), 10, "the seat is free again")
