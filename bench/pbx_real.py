"""CPU per call of routecore's servers beside the real PBX's own, in the same run.

Starts a real Asterisk 22 and a real FreeSWITCH 1.10 (built outside the checkout, driven by the
platform's harness: ``adapters/pbx/pbxharness.py``), each with ``routecore-asterisk serve`` /
``routecore-freeswitch serve`` in front, and places ``--calls`` SIPp calls at ``--rate`` per
second to a 400 number whose flow is the issue's short answered call: a greeting, one
destination that answers at once; the caller hangs up 3 s after the answer. The CPU seconds of
the PBX process and of the server (its workers included) are read from ``/proc`` before and
after. Skips, saying why, where a PBX, SIPp or the harness is missing.

    .venv/bin/python bench/pbx_real.py [--rate 20] [--calls 300] [--pbx asterisk freeswitch]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters" / "pbx"))

import pbxharness as h

LOAD_NUMBER = "4006009100"


def measure(kind: str, rate: int, calls: int, workers: int) -> h.Load | str:
    if kind == "asterisk" and not (h.ASTERISK / "sbin" / "asterisk").exists():
        return f"no Asterisk at {h.ASTERISK}"
    if kind == "freeswitch" and not (h.FREESWITCH / "bin" / "freeswitch").exists():
        return f"no FreeSWITCH at {h.FREESWITCH}"
    folder = Path(tempfile.mkdtemp(prefix=f"routecore-{kind}-"))
    (folder / "site").mkdir()
    (folder / "pbx").mkdir()
    site = h.make_site(folder / "site")
    pbx = h.start_pbx(kind, folder / "pbx")
    server = h.server(site, kind, "--workers", str(workers)).start()
    try:
        time.sleep(1.0)
        return h.load(pbx, site, server.pid, LOAD_NUMBER, rate=rate, calls=calls, hold_ms=3000)
    finally:
        server.stop()
        h.stop_pbx(pbx)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=int, default=20)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--pbx", nargs="+", default=["asterisk", "freeswitch"])
    args = p.parse_args()
    missing = h.why_not_tools()
    if missing is not None:
        print(f"skipped: {missing}")
        return 0
    print(
        f"machine: {os.cpu_count()} cores; {args.calls} calls at {args.rate}/s, each: greeting,"
        " one destination answering at once, the caller hangs up 3 s after the answer"
    )
    print(
        "| PBX | calls | answered | failed | routecore CPU/call | PBX CPU/call | PBX / routecore |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in args.pbx:
        result = measure(kind, args.rate, args.calls, args.workers)
        if isinstance(result, str):
            print(f"| {kind} | skipped: {result} | | | | | |")
            continue
        print(
            f"| {kind} | {result.calls} | {result.answered} | {result.failed} | "
            f"{result.routecore_ms:.2f} ms | {result.pbx_ms:.2f} ms | "
            f"{result.pbx_ms / result.routecore_ms:.1f}× |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
