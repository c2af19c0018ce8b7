"""A router process for the many-hosts test (tests/state/test_many_hosts.py), run inside a network
namespace by ``ip netns exec NS python tests/state/many_hosts_router.py COMMAND ...``.

Not a test module (pytest collects ``test_*.py`` only). Commands:

``wait HOST PORT SECONDS``
    Until a Redis server at HOST:PORT answers PING (raw socket, no client library): exit 0, or
    exit 1 after SECONDS.
``race``
    One racing router: claims one of the same destinations again and again for a bounded time,
    holding an exclusive marker file per held destination (``O_CREAT | O_EXCL``: a marker that
    already exists means two holders at once, an over-capacity), then removes the marker and
    releases. Prints ``ready``, waits for the go file, and prints its counts as one JSON line.
``agent``
    Reads one JSON command a line on stdin, runs it on the state store(s) it opened and answers
    one JSON line on stdout (``{"ok": ...}`` or ``{"error": ...}``): the test drives a host's
    calls step by step (the link cut).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import time
from typing import Any


def wait(host: str, port: int, seconds: float) -> int:
    """0 once ``host:port`` answers PING within ``seconds``, else 1."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5) as s:
                s.settimeout(0.5)
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return 0
        except OSError:
            pass
        time.sleep(0.05)
    return 1


def _open(location: str, fail: str) -> Any:
    from routecore.state import open_state

    return open_state(location, fail="closed" if fail == "closed" else "open")


def race(args: argparse.Namespace) -> int:
    """One racing router process; prints its counts."""
    store = _open(args.location, "open")
    numbers = args.numbers.split(",")
    rng = random.Random(f"{args.name}-{os.getpid()}")
    counts = {
        "loops": 0,  # claim attempts
        "claims": 0,  # claims that held a destination
        "refused": 0,  # None: no destination had room
        "degraded": 0,  # fail-open claims that held nothing (Redis not reached in time)
        "over": 0,  # a marker already there: two holders of a capacity-1 destination at once
        "lost": 0,  # a release that did not free the one lease taken
        "shape": 0,  # a claim that did not hold exactly one of the candidates
    }
    print("ready", flush=True)
    go_by = time.monotonic() + args.go_timeout
    while not os.path.exists(args.go):
        if time.monotonic() > go_by:
            print(json.dumps({"error": "no go file in time"}), flush=True)
            return 1
        time.sleep(0.005)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and counts["loops"] < args.max_loops:
        counts["loops"] += 1
        candidates = numbers[:]
        rng.shuffle(candidates)
        claim = store.claim(candidates, f"{args.name}-{counts['loops']}", lease=args.lease)
        if claim is None:
            counts["refused"] += 1
            time.sleep(0.0005)  # all five held: let a holder finish
            continue
        if getattr(claim, "degraded", False):
            counts["degraded"] += 1
            continue
        if len(claim.numbers) != 1 or claim.numbers[0] not in numbers:
            counts["shape"] += 1
        counts["claims"] += 1
        marker = os.path.join(args.markers, claim.numbers[0])
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            counts["over"] += 1
            mine = False
        else:
            os.write(fd, f"{args.name} {os.getpid()}".encode())
            os.close(fd)
            mine = True
        time.sleep(rng.uniform(args.hold_min, args.hold_max))  # the call, a few ms
        if mine:
            os.unlink(marker)  # before the release: the next holder may create it at once
        if store.release(claim) != 1:
            counts["lost"] += 1
    print(json.dumps(counts), flush=True)
    return 0


class Agent:
    """The state stores of one host and the claims it holds, driven a command at a time."""

    def __init__(self) -> None:
        self.stores: dict[str, Any] = {}
        self.claims: dict[int, Any] = {}
        self.next_handle = 1

    def _keep(self, claim: Any) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.claims[handle] = claim
        return handle

    def _describe(self, claim: Any) -> dict[str, Any] | None:
        if claim is None:
            return None
        return {
            "handle": self._keep(claim),
            "numbers": list(claim.numbers),
            "call_id": claim.call_id,
            "leases": len(claim.leases),
            "degraded": bool(getattr(claim, "degraded", False)),
        }

    def open(self, location: str, name: str = "main", fail: str = "open") -> None:
        self.stores[name] = _open(location, fail)

    def add(self, numbers: list[str], capacity: int = 1, store: str = "main") -> None:
        for number in numbers:
            self.stores[store].add_destination(number, capacity=capacity, online=True)

    def busy(self, numbers: list[str], store: str = "main") -> list[int]:
        out = []
        for number in numbers:
            d = self.stores[store].destination(number)
            out.append(-1 if d is None else int(d.busy))
        return out

    def claim(
        self, candidates: list[str], call_id: str, lease: float, store: str = "main"
    ) -> dict[str, Any]:
        """One claim, timed from the caller's side."""
        t_send = time.time()
        start = time.perf_counter()
        claim = self.stores[store].claim(candidates, call_id, lease=lease)
        elapsed = time.perf_counter() - start
        return {"claim": self._describe(claim), "elapsed": elapsed, "t_send": t_send,
                "t_back": time.time()}  # fmt: skip

    def release(self, handle: int, store: str = "main") -> dict[str, Any]:
        start = time.perf_counter()
        freed = self.stores[store].release(self.claims[handle])
        return {"freed": freed, "elapsed": time.perf_counter() - start}

    def extend(self, handle: int, seconds: float, store: str = "main") -> dict[str, Any]:
        start = time.perf_counter()
        done = self.stores[store].extend(self.claims[handle], seconds)
        return {"extended": done, "elapsed": time.perf_counter() - start}

    def probe(
        self,
        numbers: list[str],
        until: float,
        lease: float,
        prefix: str,
        every: float = 0.02,
        store: str = "main",
    ) -> dict[str, Any]:
        """Claim each of ``numbers`` alone, again and again, until each is taken or ``until``
        (wall clock): when each was first taken and when it was last refused."""
        st = self.stores[store]
        taken: dict[str, dict[str, Any]] = {}
        last_refused: dict[str, float] = {}
        tries = degraded = 0
        while time.time() < until and len(taken) < len(numbers):
            for number in numbers:
                if number in taken:
                    continue
                tries += 1
                t_send = time.time()
                claim = st.claim([number], f"{prefix}-{number}-{tries}", lease=lease)
                t_back = time.time()
                if claim is None:
                    last_refused[number] = t_send
                elif getattr(claim, "degraded", False):
                    degraded += 1
                else:
                    taken[number] = {"t_send": t_send, "t_back": t_back,
                                     "claim": self._describe(claim)}  # fmt: skip
            time.sleep(every)
        return {"taken": taken, "last_refused": last_refused, "tries": tries,
                "degraded": degraded}  # fmt: skip

    def run(self, cmd: dict[str, Any]) -> Any:
        op = cmd.pop("op")
        if op.startswith("_") or op == "run" or not hasattr(self, op):
            raise ValueError(f"unknown op {op!r}")
        return getattr(self, op)(**cmd)


def agent() -> int:
    a = Agent()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            break
        try:
            answer = {"ok": a.run(cmd)}
        except Exception as e:  # the test reads it and fails with it
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("wait")
    w.add_argument("host")
    w.add_argument("port", type=int)
    w.add_argument("seconds", type=float)
    r = sub.add_parser("race")
    r.add_argument("--location", required=True)
    r.add_argument("--numbers", required=True, help="comma-separated destinations")
    r.add_argument("--markers", required=True, help="the shared directory of marker files")
    r.add_argument("--go", required=True, help="start once this file exists")
    r.add_argument("--go-timeout", type=float, default=20.0)
    r.add_argument("--name", required=True)
    r.add_argument("--seconds", type=float, default=3.0)
    r.add_argument("--max-loops", type=int, default=100_000)
    r.add_argument("--lease", type=float, default=30.0)
    r.add_argument("--hold-min", type=float, default=0.001)
    r.add_argument("--hold-max", type=float, default=0.004)
    sub.add_parser("agent")
    args = p.parse_args(argv)
    if args.command == "wait":
        return wait(args.host, args.port, args.seconds)
    if args.command == "race":
        return race(args)
    return agent()


if __name__ == "__main__":
    sys.exit(main())
