"""The FreeSWITCH side of ``bench/pbx_load.py``: complete calls through the ESL outbound server,
FreeSWITCH played by the adapter tests' fake (``adapters/freeswitch/tests/fakefs.py``), which
sends the real 1.10 frames of the transcript (events of 3-11 KB, as FreeSWITCH does)."""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "adapters" / "freeswitch" / "tests"))

from fakefs import Bridge, FakeFreeSwitch, Script, Templates  # noqa: E402


def templates() -> Templates:
    path = ROOT / "adapters" / "transcripts" / "freeswitch-1.10-esl-outbound.log"
    rows = []
    for line in path.read_text().splitlines():
        _time, _conn, direction, data = line.split(" ", 3)
        if direction in ("<<", ">>"):
            rows.append((direction, ast.literal_eval(data)))
    return Templates.load(rows)


class _Timed(FakeFreeSwitch):
    """The fake, noting when the first application arrives (the call's setup time)."""

    started = 0.0
    setup: float | None = None

    async def _command(self) -> bytes | None:
        data = await super()._command()
        if self.setup is None and data is not None and data.startswith(b"sendmsg"):
            self.setup = time.perf_counter() - self.started
        return data

    async def run(self, port: int) -> FakeFreeSwitch:
        self.started = time.perf_counter()
        return await super().run(port)


_templates: list[Templates] = []


async def esl_call(port: int, setups: list[float]) -> bool:
    """One call as FreeSWITCH's ``socket`` application makes it: menu keys 1 and 1, a bridge
    that the first target answers, the hang-up."""
    if not _templates:
        _templates.append(templates())
    fake = _Timed(_templates[0], Script(keys=["1", "1"], bridges=[Bridge()]))
    await fake.run(port)
    if fake.setup is not None:
        setups.append(fake.setup)
    return fake.closed_by_server and any(e.app == "bridge" for e in fake.executed)
