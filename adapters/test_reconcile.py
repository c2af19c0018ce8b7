"""Calls whose adapter died (issue: kill -9 while an agent talks): the journal keeps their
record from the start, a restarted server adopts their agents before it listens, asks the PBX
which are still up, and frees each agent and completes each record when the PBX says the call
ended (``routecore.adapter.reconcile``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from routecore.adapter import reconcile
from routecore.adapter.errors import AdapterError, ProtocolError
from routecore.adapter.reconcile import Reconciler, adopt, control_address
from routecore.adapter.runtime import Runtime
from routecore.engine.record import CallRecord
from routecore.state.process import process_start_time
from routecore.store.journal import OpenCall, host_name

AGENT, OTHER = "13800138001", "13800138002"


def dead_pid() -> tuple[int, int | None]:
    """A pid whose process has ended (and the start time it had)."""
    code = "import os, sys; print(os.getpid()); sys.stdout.flush()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    start = process_start_time(pid)
    proc.wait()
    return pid, start


def journal_row(
    call_id: str,
    *,
    claimed: tuple[str, ...] = (AGENT,),
    answered: bool = True,
    pid: tuple[int, int | None] | None = None,
    host: str | None = None,
    start: float | None = None,
) -> OpenCall:
    now = time.time()
    begun = now - 30 if start is None else start
    record = CallRecord(call_id, "4006001003", "13900000000", start=begun, tried=list(claimed))
    owner = pid or dead_pid()
    return OpenCall(
        call_id=call_id,
        channel=f"chan-{call_id}",
        protocol="fastagi",
        host=host or host_name(),
        pid=owner[0],
        pid_start=owner[1],
        record=record,
        claimed=claimed,
        answered_by=AGENT if answered else None,
        answer=begun + 10 if answered else None,
        updated=now - 5,
    )


def busy(runtime: Runtime) -> dict[str, int]:
    return {d.number: d.busy for d in runtime.state.destinations_now() if d.busy}


class FakeControl:
    """A PBX control connection: the channels up now, and hang-ups to report."""

    def __init__(self, live: set[str]) -> None:
        self.live = set(live)
        self.hangups: asyncio.Queue[str] = asyncio.Queue()
        self.listed = 0
        self.closed = False

    async def live_calls(self) -> set[str]:
        self.listed += 1
        return set(self.live)

    async def next_hangup(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(self.hangups.get(), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self.closed = True

    def hang_up(self, channel: str) -> None:
        self.live.discard(channel)
        self.hangups.put_nowait(channel)


async def until(check: Any, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


def test_a_dead_adapters_talking_agent_stays_claimed_until_the_pbx_ends_the_call(
    host: Runtime,
) -> None:
    host.calls.journal(journal_row("talking"))
    host.calls.journal(journal_row("gone", claimed=(OTHER,)))
    assert busy(host) == {}  # the dead owner's leases count for nothing any more
    adopted = adopt(host)
    assert set(adopted) == {"talking", "gone"}
    assert busy(host) == {AGENT: 1, OTHER: 1}
    assert host.state.claim([AGENT], "next-caller") is None  # never offered to a second call
    control = FakeControl({"chan-talking"})

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, _connect(control)).run())
        try:
            await until(lambda: "gone" not in adopted)  # the PBX no longer had it: completed
            assert busy(host) == {AGENT: 1}
            hung = time.time()
            control.hang_up("chan-talking")
            await until(lambda: not adopted)
            await until(lambda: len(host.calls.calls()) == 2)
            rows = {r["call_id"]: r for r in host.calls.calls()}
            talk = rows["talking"]
            assert talk["outcome"] == "answered" and talk["recovered"] == "pbx"
            assert talk["answered_by"] == AGENT
            assert abs(talk["end"] - hung) < 1.0  # the end the PBX reported
            assert talk["talk_seconds"] == int(talk["end"] - talk["answer"])
            gone = rows["gone"]
            assert gone["recovered"] == "journal" and gone["outcome"] == "answered"
            assert busy(host) == {}
            assert host.calls.open_calls() == []  # every row replaced by its record
        finally:
            task.cancel()

    asyncio.run(body())
    assert control.closed


def test_a_call_cut_before_anyone_answered(host: Runtime) -> None:
    host.calls.journal(journal_row("ringing", claimed=(AGENT, OTHER), answered=False))
    adopted = adopt(host)
    assert busy(host) == {AGENT: 1, OTHER: 1}  # both were ringing: both stay held
    control = FakeControl({"chan-ringing"})

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, _connect(control)).run())
        try:
            await until(lambda: control.listed >= 1)
            control.hang_up("chan-ringing")
            await until(lambda: not adopted)
        finally:
            task.cancel()

    asyncio.run(body())
    [row] = host.calls.calls()
    assert row["outcome"] == "cut" and row["recovered"] == "pbx" and row["answered_by"] is None
    assert busy(host) == {}


def test_rows_of_live_processes_and_other_hosts_are_left_alone(host: Runtime) -> None:
    import os

    host.calls.journal(journal_row("mine", pid=(os.getpid(), process_start_time(os.getpid()))))
    host.calls.journal(journal_row("theirs", host="another-host"))
    assert adopt(host) == {}
    assert busy(host) == {}


def test_without_a_control_connection_the_rows_are_completed_at_once(host: Runtime) -> None:
    host.calls.journal(journal_row("orphan"))
    adopted = adopt(host)

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, None).run())
        try:
            await until(lambda: not adopted)
        finally:
            task.cancel()

    asyncio.run(body())
    [row] = host.calls.calls()
    assert row["recovered"] == "journal" and row["outcome"] == "answered"
    assert row["end"] >= row["answer"]  # the last moment the journal knew of
    assert busy(host) == {}


def test_an_unreachable_pbx_keeps_the_agents_claimed_until_it_answers(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RETRY", (0.05,))
    host.calls.journal(journal_row("waiting"))
    adopted = adopt(host)
    control = FakeControl(set())  # when it answers, the call is over
    attempts: list[int] = []

    async def connect() -> FakeControl:
        attempts.append(1)
        if len(attempts) < 4:
            raise ProtocolError("connection refused")
        return control

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, connect).run())
        try:
            await until(lambda: len(attempts) >= 2)
            assert busy(host) == {AGENT: 1}  # no answer from the PBX: still held
            await until(lambda: not adopted)
        finally:
            task.cancel()

    asyncio.run(body())
    [row] = host.calls.calls()
    assert row["recovered"] == "journal" and busy(host) == {}


def test_a_lost_hangup_event_is_caught_by_the_next_listing(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "POLL", 0.1)
    host.calls.journal(journal_row("quiet"))
    adopted = adopt(host)
    control = FakeControl({"chan-quiet"})

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, _connect(control)).run())
        try:
            await until(lambda: control.listed >= 1)
            control.live.clear()  # ended, but no event came
            await until(lambda: not adopted)
        finally:
            task.cancel()

    asyncio.run(body())
    [row] = host.calls.calls()
    assert row["recovered"] == "pbx"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ami://routecore:s%40cret@127.0.0.1", ("ami", "127.0.0.1", 5038, "routecore", "s@cret")),
        ("esl://:ClueCon@10.0.0.2:8022", ("esl", "10.0.0.2", 8022, "", "ClueCon")),
        ("esl://ClueCon@pbx", ("esl", "pbx", 8021, "ClueCon", "ClueCon")),
    ],
)
def test_control_addresses(url: str, expected: tuple[Any, ...]) -> None:
    a = control_address(url)
    assert (a.scheme, a.host, a.port, a.user, a.secret) == expected
    assert "cret" not in str(a) and "ClueCon" not in str(a)  # never the secret


@pytest.mark.parametrize(
    "url", ["http://x", "ami://127.0.0.1", "ami://u@h", "esl://h", "ami://u:s@h:99999", "ami://"]
)
def test_bad_control_addresses_are_refused_with_the_reason(url: str) -> None:
    with pytest.raises(AdapterError, match="--pbx"):
        control_address(url)


def test_the_serve_options_take_the_control_address(host: Runtime) -> None:
    from types import SimpleNamespace

    from routecore.adapter.config import config_from, env_options

    args = env_options(port=4573, dial="Local/{number}@destinations")
    config = config_from(SimpleNamespace(**{**vars(args), "pbx": "ami://u:s@127.0.0.1"}))
    assert config.pbx == "ami://u:s@127.0.0.1"
    with pytest.raises(AdapterError, match="--pbx"):
        config_from(SimpleNamespace(**{**vars(args), "pbx": "ftp://x"}))
    assert replace(config, pbx=None).pbx is None


def _connect(control: FakeControl) -> Any:
    async def connect() -> FakeControl:
        return control

    return connect


def test_a_process_that_dies_later_is_adopted_by_the_next_scan(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process-per-call AGI killed mid-Dial (Asterisk goes on with the Dial): a running
    server's scan finds its row and holds its agents until the PBX ends the call."""
    monkeypatch.setattr(reconcile, "SCAN", 0.1)
    adopted: dict[str, Any] = {}
    control = FakeControl({"chan-agi"})

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, _connect(control)).run())
        try:
            await asyncio.sleep(0.2)
            assert adopted == {}  # nothing to adopt yet
            host.calls.journal(journal_row("agi"))  # its process has died since
            await until(lambda: "agi" in adopted)
            assert busy(host) == {AGENT: 1}
            control.hang_up("chan-agi")
            await until(lambda: not adopted)
        finally:
            task.cancel()

    asyncio.run(body())
    [row] = host.calls.calls()
    assert row["recovered"] == "pbx" and busy(host) == {}


def test_a_completed_call_is_never_adopted_again_while_its_row_goes(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record that replaces a completed call's row is written by the writer thread: a scan
    in between must not adopt the call a second time (and overwrite the PBX's end)."""
    monkeypatch.setattr(reconcile, "SCAN", 0.05)
    host.calls.journal(journal_row("once"))
    adopted = adopt(host)
    control = FakeControl({"chan-once"})
    stored: list[Any] = []
    monkeypatch.setattr(host, "add", stored.append)  # the row stays: its record never lands

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, _connect(control)).run())
        try:
            await until(lambda: control.listed >= 1)
            control.hang_up("chan-once")
            await until(lambda: not adopted)
            await asyncio.sleep(0.3)  # several scans see the row
            assert adopted == {}
        finally:
            task.cancel()

    asyncio.run(body())
    assert [r.recovered for r in stored] == ["pbx"]
    assert busy(host) == {}


def test_a_killed_process_not_yet_reaped_counts_as_dead(host: Runtime) -> None:
    """A process-per-call AGI killed mid-Dial stays a zombie until Asterisk's Dial returns:
    its call is adopted then, not when the zombie is reaped after the call."""
    import os
    import signal

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = process_start_time(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while not Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        host.calls.journal(journal_row("zombie", pid=(proc.pid, start)))
        assert set(adopt(host)) == {"zombie"}  # not reaped (no wait() yet), yet dead
    finally:
        proc.wait()


def test_a_listing_the_pbx_refuses_is_retried_and_the_connection_let_go_after(
    host: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first listing fails (the PBX refuses it): the reconciler reconnects and lists again
    (it never stops); once nothing is adopted, it closes the control connection."""
    monkeypatch.setattr(reconcile, "RETRY", (0.05,))
    host.calls.journal(journal_row("retry"))
    adopted = adopt(host)
    controls: list[FakeControl] = []

    class Refusing(FakeControl):
        async def live_calls(self) -> set[str]:
            if len(controls) == 1:
                raise ProtocolError("Response: Error (permission denied)")
            return await super().live_calls()

    async def connect() -> FakeControl:
        control = Refusing(set())
        controls.append(control)
        return control

    async def body() -> None:
        task = asyncio.create_task(Reconciler(host, adopted, connect).run())
        try:
            await until(lambda: not adopted)
            await until(lambda: all(c.closed for c in controls))
            assert not task.done()
        finally:
            task.cancel()

    asyncio.run(body())
    assert len(controls) == 2 and busy(host) == {}
