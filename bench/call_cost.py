"""The cost of one complete call in one or more trees, side by side: instructions counted by
valgrind's callgrind (a figure that does not move with the machine's load, as timings on a shared
2-core machine do) and the best time of 15 rounds of 2,000 calls, the trees' rounds interleaved.

    .venv/bin/python bench/call_cost.py                          # this tree
    .venv/bin/python bench/call_cost.py --tree . --tree ../old   # beside another checkout

(another checkout must be built in place: its compiled module beside its package). The call is
the one of ``bench/test_bench_engine.py`` (greeting, menu key, one attempt claimed in the shared
state, answered, hang-up; the four Events built in the loop, as an adapter does). The count is
(instructions for 200 + N calls − instructions for 200 calls) / N, so start-up and the first
calls' plan building are left out. Without valgrind the counts are skipped, with a message.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CALL = """
import sys, tempfile
import routecore.backend.native as backend
try:
    from routecore.engine.actions import CallStarted, Digits, DialResult, CallerHungUp
except ImportError:  # a tree from before the engine package
    from routecore.actions import CallStarted, Digits, DialResult, CallerHungUp
from routecore.engine import CallSession
from routecore.flow import validate_flow
from routecore.flow.compile import compile_flows
sys.path.insert(0, "bench")
from test_bench_engine import FLOW, START
flow = validate_flow(FLOW, source="4006001003.yaml")[0]
image = backend.Image.from_buffer(compile_flows([flow], core=backend))
classify = backend.default_classifier().classify
state = backend.State.create(tempfile.mkdtemp() + "/state")
def run(n):
    for i in range(n):
        s = CallSession(image, state, seed=i, classify=classify)
        s.handle(CallStarted("4006001003", "13900139000", START + i, f"c{i}"))
        dial = s.handle(Digits("1"))[-1]
        s.handle(DialResult("answered", dial.targets[0], 60))
        s.handle(CallerHungUp())
run(200)
if sys.argv[1] == "time":
    import time
    times = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        run(2000)
        times.append((time.perf_counter() - t0) / 2000)
    print(min(times))
else:
    run(int(sys.argv[1]))
"""


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}


def count(tree: Path, calls: int, script: Path) -> int:
    """Instructions of the script with ``calls`` calls after the warm-up."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, str(script), str(calls)],
        cwd=tree, env=_env(tree), capture_output=True, text=True, check=True,
    )  # fmt: skip
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def best_time(tree: Path, rounds: int, script: Path) -> float:
    """The best seconds per call of ``rounds`` rounds of 2,000 calls."""
    out = subprocess.run(
        [sys.executable, str(script), "time", str(rounds)],
        cwd=tree, env=_env(tree), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--calls", type=int, default=1000, help="calls counted by callgrind")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [Path(__file__).resolve().parent.parent]]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "call.py"
        script.write_text(CALL, encoding="utf-8")
        best = dict.fromkeys(trees, float("inf"))
        for _ in range(3):  # interleaved, so a slow minute of the machine hits every tree
            for tree in trees:
                best[tree] = min(best[tree], best_time(tree, 5, script))
        for tree in trees:
            line = f"{tree}: best {best[tree] * 1e6:.1f} us a call (15 rounds of 2,000)"
            if shutil.which("valgrind") is not None:
                base = count(tree, 0, script)
                total = count(tree, args.calls, script)
                line += f", {(total - base) / args.calls:,.0f} instructions a call"
            else:
                line += ", instructions skipped: valgrind is not installed"
            print(line)


if __name__ == "__main__":
    main()
