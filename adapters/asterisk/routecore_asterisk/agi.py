"""The process-per-call AGI: ``AGI(routecore-asterisk,agi)``: one call on stdin/stdout.

It starts fast: the image and the state are mapped, never parsed, the segment table is mapped
from its cache, and nothing of validation, YAML or the command line beyond argparse is
imported. Asterisk sends SIGHUP when the caller hangs up; the call then ends at once (claims
released, record written). It has no answer moment (no server to report to): the claims of a
Dial are held until it ends, as ``docs/engine.md`` allows.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from routecore.adapter import blocking
from routecore.adapter.call import CallDriver
from routecore.adapter.config import AdapterConfig
from routecore.adapter.errors import AdapterError, ChannelGone
from routecore.adapter.runtime import Runtime
from routecore.errors import RoutecoreError
from routecore_asterisk import codec, dialplan
from routecore_asterisk.blocking import AgiStream, install_sighup
from routecore_asterisk.calls import first_event

__all__ = ["run_agi"]

log = logging.getLogger("routecore.asterisk")


def run_agi(config: AdapterConfig, stdin: int | None = None, stdout: int | None = None) -> int:
    """Serve the one call on ``stdin``/``stdout`` (file descriptors); the exit status."""
    stream = AgiStream(
        sys.stdin.fileno() if stdin is None else stdin,
        sys.stdout.fileno() if stdout is None else stdout,
    )
    install_sighup(stream)
    timeout = config.reply_timeout
    try:
        env = stream.read_environment(timeout)
        first = first_event(env)
        runtime = Runtime(config, open_store=False)
    except (AdapterError, RoutecoreError, OSError) as e:
        log.warning("AGI call refused: %s", e)
        try:
            stream.send(codec.exec_("Hangup", str(dialplan.CAUSE_CODES["error"])), timeout)
        except (AdapterError, OSError):
            pass
        return 0
    try:
        session = runtime.session()
        driver = CallDriver(session, protocol="agi", journal=runtime.journal, channel=env.uniqueid)
        translator = dialplan.Translator(
            runtime,
            call_id=first.call_id,
            did=first.did,
            channel_type=env.values.get("agi_type", ""),
            outbound=type(first).__name__ == "OutboundStarted",
        )

        def perform(action: Any) -> Any:
            if session.plan is not None and not translator.files:
                translator.use_plan(session.plan)
            steps = translator.steps(action)
            try:
                command = next(steps)
                while True:
                    driver.first_command()
                    try:
                        reply = stream.send(
                            command.line,
                            timeout if command.wait else None,
                            after_hangup=command.after_hangup,
                        )
                    except ChannelGone as gone:  # the Action may still end with its Event
                        command = steps.throw(gone)
                    else:
                        command = steps.send(reply)
            except StopIteration as done:
                return done.value

        blocking.run(driver, first, perform, keepalive_every=config.keepalive_every)
    except (RoutecoreError, OSError) as e:
        log.warning("AGI call %s: %s", first.call_id, e)
    finally:
        runtime.close()
    return 0


def stderr_logging() -> None:
    """Log lines to stderr (Asterisk shows an AGI's stderr on its console with agi debug)."""
    level = os.environ.get("ROUTECORE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(stream=sys.stderr, level=level, format="%(name)s %(levelname)s %(message)s")
