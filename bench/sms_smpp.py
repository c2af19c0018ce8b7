"""SMS through SMPP under load: ``--messages`` queued hang-up SMS delivered by ``routecore sms``'s
sender (each marked as being sent, committed, before its submit; the answer recorded after)
to the tests' SMPP server on loopback (``tests/sms/smpp_gateway.py``, on smpplib's PDUs),
beside the baseline of the same submits from the same SMPP client with no outbox at all, in
one run.

    .venv/bin/python bench/sms_smpp.py [--messages 10000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routecore.engine.sms import Sms
from routecore.sms.sender import Sender
from routecore.sms.smpp import SmppProvider
from routecore.store import CallStore
from tests.sms.smpp_gateway import Behaviour, Gateway

TEXT = "【远景科技】感谢您致电远景科技，如需帮助请回拨4006001003。"


def provider(gateway: Gateway) -> SmppProvider:
    url = f"smpp://routecore:secret@127.0.0.1:{gateway.port}?source=1065900001&rate=10000"
    return SmppProvider.from_url(url)


def baseline(messages: int) -> float:
    """Messages a second of the bare client: submit and its answer, nothing stored."""
    gateway = Gateway(Behaviour(receipt=None))
    smpp = provider(gateway)
    started = time.perf_counter()
    for i in range(messages):
        smpp.send(f"139{i:08d}", TEXT, f"sms {i}", "hangup")
    spent = time.perf_counter() - started
    smpp.close()
    gateway.close()
    return messages / spent


def outbox(messages: int, folder: Path) -> float:
    """Messages a second through the sender: queued in the call store, delivered with their
    state committed before and after each submit."""
    gateway = Gateway(Behaviour(receipt=None))
    calls = folder / "calls.db"
    with CallStore(calls) as store:
        store.write(sms=[
            Sms("hangup", "4006001003", f"139{i:08d}", TEXT, f"c{i}", 1.0) for i in range(messages)
        ])  # fmt: skip
    sender = Sender(str(calls), provider(gateway))
    started = time.perf_counter()
    sent = 0
    while sent < messages:
        sent += sender.run_once()["sent"]
    spent = time.perf_counter() - started
    sender.provider.close()
    sender.deliveries.close()
    gateway.close()
    return messages / spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="routecore-sms-bench-") as tmp:
        base = baseline(args.messages)
        real = outbox(args.messages, Path(tmp))
    print(f"{args.messages} messages; {platform.machine()}, Python {platform.python_version()}")
    print()
    print("| path | messages/s | ratio |")
    print("|---|---|---|")
    print(f"| SMPP client alone (baseline) | {base:,.0f} | 1.00 |")
    print(f"| routecore sms sender (outbox, states committed) | {real:,.0f} | {real / base:.2f} |")


if __name__ == "__main__":
    main()
