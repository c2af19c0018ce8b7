"""Instructions per complete call, counted by valgrind's callgrind: a figure that does not move
with the machine's load (timings on a shared 2-core machine do), for comparing two trees.

    .venv/bin/python bench/instructions.py                  # this tree
    .venv/bin/python bench/instructions.py --tree ../old    # another checkout (built in place)

The call is the one of ``bench/test_bench_engine.py`` (greeting, menu key, one attempt claimed
in the shared state, answered, hang-up; the four Events built in the loop, as an adapter does).
The count is (instructions for 200 + N calls − instructions for 200 calls) / N, so start-up and
the first calls' plan building are left out. Skips with a message when valgrind is missing.
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
import routecore.native as backend
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
run(int(sys.argv[1]))
"""


def count(tree: Path, calls: int, script: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, str(script), str(calls)],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "call.py"
        script.write_text(CALL, encoding="utf-8")
        base = count(args.tree, 0, script)
        total = count(args.tree, args.calls, script)
    print(f"{args.tree}: {(total - base) / args.calls:,.0f} instructions per complete call")


if __name__ == "__main__":
    main()
