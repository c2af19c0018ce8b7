"""Across hosts: the Redis state store shared by router processes on two "hosts" (Linux network
namespaces), Redis in a third (issue 15).

The test builds, for this run only (names carry the test's pid), three namespaces::

    rc<pid>-h1  eth0 10.231.1.2/30 ──veth── h1 10.231.1.1/30 ┐
                                                             ├ rc<pid>-redis: redis-server on
    rc<pid>-h2  eth0 10.231.2.2/30 ──veth── h2 10.231.2.1/30 ┘ 10.231.1.1, 10.231.2.1, 127.0.0.1

each with ``lo`` up; the two /30 links are the only way between them (no route out of the
namespaces). Router processes run in the host namespaces (``ip netns exec``) from
``tests/state/many_hosts_router.py``; the test itself reads the store through a process in the redis
namespace (127.0.0.1). Everything is removed after, on failure too: the processes started, then
the namespaces (which takes their veths with them).

- **Race**: routers on both hosts claim one of the same five capacity-1 destinations again and
  again, holding an exclusive marker file per held destination: no marker is ever found taken
  (0 over-capacity), every release frees its lease and every destination is free at the end
  (0 lost releases), and both hosts got claims.
- **Cut**: host 1 holds three agents on short leases ("mid-call"), then its link goes down.
  Host 2 is refused them until the leases expire and gets each one within a second after; host
  1's calls during the cut follow the unreachable rule (fail open: a degraded claim holding
  nothing, within ~0.3 s; fail closed: None), its renewals cannot keep the leases, and once the
  link is back its late release and renewal of the lost leases touch nothing of host 2's.

Needs root and ``ip netns``; skipped with the reason where the namespaces cannot be made or
``redis-server`` is missing (``make install`` installs it).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HELPER = str(Path(__file__).with_name("many_hosts_router.py"))
PORT = 6390
LINKS = {"h1": ("10.231.1.1", "10.231.1.2"), "h2": ("10.231.2.1", "10.231.2.2")}  # redis, host
LEASE = 2.0  # the cut host's leases: short, so the test waits for their expiry
UNREACHABLE_BOUND = 0.3  # a call never waits longer than this on an unreachable store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Agent:
    """A router process in a namespace, driven by JSON lines (many_hosts_router.py agent)."""

    def __init__(self, ns: str, log: Path) -> None:
        self.log = log
        self._err = log.open("w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, HELPER, "agent"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._answers.put(line)
        self._answers.put(None)

    def send(self, op: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float = 10.0) -> Any:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer in {timeout} s; stderr:\n{_tail(self.log)}") from None
        if line is None:
            raise AssertionError(f"the router process ended; stderr:\n{_tail(self.log)}")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"router: {answer['error']}\nstderr:\n{_tail(self.log)}")
        return answer["ok"]

    def call(self, op: str, timeout: float = 10.0, **args: Any) -> Any:
        self.send(op, **args)
        return self.recv(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=3)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._err.close()


@dataclass
class Hosts:
    """The namespaces of one run, the Redis server in one of them, and what was started."""

    tag: str
    tmp: Path
    redis_ns: str
    host_ns: dict[str, str]
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)

    def url(self, host: str) -> str:
        """The store's location as seen from host namespace ``host`` (h1 or h2)."""
        return f"redis://{LINKS[host][0]}:{PORT}/0"

    def agent(self, where: str) -> Agent:
        """A router process in ``where`` (h1, h2 or redis)."""
        ns = self.redis_ns if where == "redis" else self.host_ns[where]
        a = Agent(ns, self.tmp / f"agent-{where}-{len(self.agents)}.log")
        self.agents.append(a)
        return a

    def store_view(self) -> Agent:
        """A router process in the redis namespace with the store opened on 127.0.0.1."""
        a = self.agent("redis")
        a.call("open", location=f"redis://127.0.0.1:{PORT}/0", timeout=15)
        return a


def _teardown(hosts: Hosts, made: list[str]) -> None:
    for a in hosts.agents:
        try:
            a.close()
        except Exception:
            pass
    for p in hosts.procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
    for ns in made:
        # anything still running in this run's own namespaces was started by this test
        pids = _ip("netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ValueError, OSError):
                pass
        _ip("netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test makes Linux network namespaces (ip netns)")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip to make network namespaces")
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("redis-server is not installed (make install installs it)")
    tag = f"rc{os.getpid()}"
    tmp = tmp_path_factory.mktemp("many-hosts")
    hosts = Hosts(tag, tmp, f"{tag}-redis", {h: f"{tag}-{h}" for h in LINKS})
    made: list[str] = []
    try:
        probe = _ip("netns", "add", hosts.redis_ns, check=False)
        if probe.returncode != 0:
            pytest.skip(f"cannot make a network namespace here: {probe.stderr.strip()}")
        made.append(hosts.redis_ns)
        for ns in hosts.host_ns.values():
            _ip("netns", "add", ns)
            made.append(ns)
        for ns in made:
            _ip("-n", ns, "link", "set", "lo", "up")
        for host, ns in hosts.host_ns.items():
            redis_addr, host_addr = LINKS[host]
            # one end (named after the host) in the redis namespace, its peer eth0 in the host's
            _ip("-n", hosts.redis_ns, "link", "add", host, "type", "veth",
                "peer", "name", "eth0", "netns", ns)  # fmt: skip
            _ip("-n", hosts.redis_ns, "addr", "add", f"{redis_addr}/30", "dev", host)
            _ip("-n", hosts.redis_ns, "link", "set", host, "up")
            _ip("-n", ns, "addr", "add", f"{host_addr}/30", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        binds = [LINKS["h1"][0], LINKS["h2"][0], "127.0.0.1"]
        redis_log = tmp / "redis.log"
        cmd = ["ip", "netns", "exec", hosts.redis_ns, redis_server, "--port", str(PORT),
               "--bind", *binds, "--save", "", "--appendonly", "no", "--protected-mode", "no",
               "--dir", str(tmp), "--logfile", str(redis_log)]  # fmt: skip
        redis = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hosts.procs.append(redis)
        # up when it answers on loopback in its namespace and across both links
        for ns, addr in [(hosts.redis_ns, "127.0.0.1")] + [
            (hosts.host_ns[h], LINKS[h][0]) for h in LINKS
        ]:
            waited = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, HELPER, "wait", addr, str(PORT), "10"],
                capture_output=True,
                timeout=20,
            )
            assert waited.returncode == 0, (
                f"redis-server not reachable at {addr}:{PORT} from {ns}\n{_tail(redis_log)}"
            )
        yield hosts
    finally:
        _teardown(hosts, made)


def _race(hosts: Hosts, numbers: list[str], per_host: int, seconds: float) -> list[dict[str, Any]]:
    """``per_host`` racing routers in each host namespace; their counts, tagged by host."""
    markers = hosts.tmp / "markers"
    markers.mkdir()
    go = hosts.tmp / "go"
    routers: list[tuple[str, subprocess.Popen[str], Path]] = []
    for host in LINKS:
        for i in range(per_host):
            log = hosts.tmp / f"race-{host}-{i}.log"
            with log.open("w") as err:
                p = subprocess.Popen(
                    ["ip", "netns", "exec", hosts.host_ns[host], sys.executable, HELPER, "race",
                     "--location", hosts.url(host), "--numbers", ",".join(numbers),
                     "--markers", str(markers), "--go", str(go), "--name", f"{host}-{i}",
                     "--seconds", str(seconds)],
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )  # fmt: skip
            hosts.procs.append(p)
            routers.append((host, p, log))
    for host, p, log in routers:  # every router up before the start: the race is fair
        assert p.stdout is not None
        line = _readline(p, 30.0)
        assert line == "ready", f"{host} router not ready: {line!r}\n{_tail(log)}"
    go.touch()
    results = []
    for host, p, log in routers:
        line = _readline(p, seconds + 20.0)
        assert line.startswith("{"), f"{host} router: {line!r}\n{_tail(log)}"
        counts = json.loads(line)
        assert "error" not in counts, f"{host} router: {counts}\n{_tail(log)}"
        p.wait(timeout=10)
        results.append({"host": host, **counts})
    assert not any(markers.iterdir()), "a marker left behind: a holder never finished"
    return results


def _readline(p: subprocess.Popen[str], timeout: float) -> str:
    """One line of ``p``'s stdout within ``timeout`` seconds ('' if none)."""
    assert p.stdout is not None
    box: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: box.put(p.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        return box.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


def test_race_across_hosts(hosts: Hosts) -> None:
    numbers = [f"1391000000{i}" for i in range(5)]
    view = hosts.store_view()
    view.call("add", numbers=numbers, capacity=1)
    assert view.call("busy", numbers=numbers) == [0] * 5

    # three routers a host, six in all for five destinations: the race runs at full capacity
    results = _race(hosts, numbers, per_host=3, seconds=3.0)
    by_host = {h: [r for r in results if r["host"] == h] for h in LINKS}
    summary = json.dumps(results)
    print(f"race: {summary}")
    assert sum(r["over"] for r in results) == 0, f"over capacity: {summary}"
    assert sum(r["lost"] for r in results) == 0, f"lost releases: {summary}"
    assert sum(r["shape"] for r in results) == 0, f"claims of the wrong shape: {summary}"
    for host, rs in by_host.items():
        assert sum(r["claims"] for r in rs) > 0, f"{host} made no progress: {summary}"
    assert sum(r["refused"] for r in results) > 0, f"never all five held at once: {summary}"
    # the network is up: a claim degraded by a timeout is rare, never the rule
    loops = sum(r["loops"] for r in results)
    assert sum(r["degraded"] for r in results) <= loops // 100, f"degraded claims: {summary}"
    assert view.call("busy", numbers=numbers) == [0] * 5, f"a lease left held: {summary}"


def test_link_cut_mid_call(hosts: Hosts) -> None:
    agents = [f"1392000000{i}" for i in range(3)]
    spare = [f"1392000010{i}" for i in range(2)]  # claimed by host 1 only during the cut
    check = "13920000200"  # host 1's reconnection check after the cut
    view = hosts.store_view()
    view.call("add", numbers=[*agents, *spare, check], capacity=1)

    h1, h2 = hosts.agent("h1"), hosts.agent("h2")
    h1.call("open", location=hosts.url("h1"), fail="open", timeout=15)
    h1.call("open", location=hosts.url("h1"), name="closed", fail="closed", timeout=15)
    h2.call("open", location=hosts.url("h2"), fail="open", timeout=15)
    # both of host 1's stores reach Redis before the cut
    assert h1.call("busy", numbers=agents) == [0, 0, 0]
    assert h1.call("busy", numbers=agents, store="closed") == [0, 0, 0]

    # host 1's three calls, each holding one agent on a short lease
    held = []
    t0 = time.time()
    for n in agents:
        r = h1.call("claim", candidates=[n], call_id=f"{hosts.tag}-h1-{n}", lease=LEASE)
        assert r["claim"] is not None and r["claim"]["numbers"] == [n], r
        assert not r["claim"]["degraded"], r
        held.append(r["claim"]["handle"])
    t1 = time.time()
    assert view.call("busy", numbers=agents) == [1, 1, 1]

    _ip("-n", hosts.host_ns["h1"], "link", "set", "eth0", "down")  # the cut
    # host 2 asks for the same agents until each is taken (at most a second past the expiry)
    h2.send("probe", numbers=agents, until=t1 + LEASE + 1.5, lease=30.0,
            prefix=f"{hosts.tag}-h2")  # fmt: skip

    # host 1 during the cut: fail open gives a degraded claim that holds nothing, at once.
    # The first one (a free destination) is sent and times out; those after it are not tried.
    during = [
        h1.call("claim", candidates=[n], call_id=f"{hosts.tag}-h1-spare-{n}", lease=30.0)
        for n in spare
    ] + [
        h1.call("claim", candidates=agents, call_id=f"{hosts.tag}-h1-cut-{i}", lease=30.0)
        for i in range(2)
    ]
    for r in during:
        assert r["elapsed"] < UNREACHABLE_BOUND, f"waited {r['elapsed']:.3f} s: {r}"
        c = r["claim"]
        assert c is not None and c["degraded"], f"not the fail-open rule: {r}"
        assert c["leases"] == 0, f"a degraded claim holds nothing: {r}"
    closed = h1.call("claim", candidates=spare, call_id=f"{hosts.tag}-h1-closed", lease=30.0,
                     store="closed")  # fmt: skip
    assert closed["claim"] is None, f"fail closed gives None: {closed}"
    assert closed["elapsed"] < UNREACHABLE_BOUND, f"waited {closed['elapsed']:.3f} s"
    renew = h1.call("extend", handle=held[0], seconds=60.0)  # a live call renews: cannot now
    assert renew["elapsed"] < UNREACHABLE_BOUND, f"waited {renew['elapsed']:.3f} s: {renew}"
    assert renew["extended"] == 0, f"a renewal through a cut link: {renew}"

    probe = h2.recv(timeout=LEASE + 15)
    print(f"cut: t0={t0:.3f} t1={t1:.3f} host 1 during the cut: {json.dumps(during)}")
    print(f"cut: fail closed {json.dumps(closed)}; renewal {json.dumps(renew)}")
    print(f"cut: host 2's probe {json.dumps(probe)}")
    assert probe["degraded"] == 0, f"host 2's link is up: {probe}"
    for n in agents:
        taken = probe["taken"].get(n)
        assert taken is not None, f"{n} still held {LEASE + 1} s after its lease: {probe}"
        # never before the lease ran out: the lease began after t0 (server time >= t0)
        assert taken["t_back"] >= t0 + LEASE - 0.01, f"{n} taken early: {taken}, t0={t0}"
        # and refused while it ran: host 2 was asking right up to the expiry
        assert probe["last_refused"].get(n, 0) >= t0 + LEASE - 0.5, f"{n}: {probe}"
        assert taken["t_back"] <= t1 + LEASE + 1.0, f"{n} free late: {taken}, t1={t1}"
    assert view.call("busy", numbers=agents) == [1, 1, 1]  # host 2's now

    # the link back: host 1's store reconnects by itself
    _ip("-n", hosts.host_ns["h1"], "link", "set", "eth0", "up")
    deadline = time.monotonic() + 5.0
    while True:
        r = h1.call("claim", candidates=[check], call_id=f"{hosts.tag}-h1-back", lease=30.0)
        if r["claim"] is not None and not r["claim"]["degraded"]:
            assert h1.call("release", handle=r["claim"]["handle"])["freed"] == 1
            break
        assert time.monotonic() < deadline, f"host 1 not reconnected in 5 s: {r}"
        time.sleep(0.1)
    # its late release and renewal of the lost leases free and extend nothing of host 2's
    for handle in held:
        assert h1.call("release", handle=handle)["freed"] == 0
        assert h1.call("extend", handle=handle, seconds=60.0)["extended"] == 0
    assert view.call("busy", numbers=agents) == [1, 1, 1]
    # The degraded claims of the cut hold nothing, even with the link back: the kernel still
    # retransmits what a timed-out request left in its socket (every 0.5 s while the route is
    # gone), so a request given up on during the cut reaches Redis after the link comes back.
    watch_until = time.monotonic() + 1.5
    while time.monotonic() < watch_until:
        busy = view.call("busy", numbers=[*spare, check])
        assert busy == [0, 0, 0], f"a claim given up on during the cut took a lease: {busy}"
        time.sleep(0.1)
    for n in agents:
        assert h2.call("release", handle=probe["taken"][n]["claim"]["handle"])["freed"] == 1
    assert view.call("busy", numbers=[*agents, *spare, check]) == [0] * 6
