"""The FastAGI server: one connection per call (``agi://host:4573/route``), many calls per
process, agents' outbound calls, and the answer moment from Dial's ``U()`` subroutine (B3, B9).

Scripts (the path of the ``agi://`` URL):

- ``route`` (or any other): an inbound call to a 400 number;
- ``outbound?did=<400 number>``: an agent's outbound call (B3) to ``agi_extension``;
- ``answered?call=<call>*<secret>``: Dial's ``U(rc-answered^<call>*<secret>^<port>^<host>)``
  subroutine, run on the answering channel before the caller is bridged (``<secret>``: random
  per call; an answer without it, or on the main port, is refused and logged: another local
  process cannot mark a call answered nor free its phones). It arrives on the worker's own
  answer port (``<port>``: each worker process listens on one, so the answer reaches the
  process that holds the call; ``<host>``: the address Asterisk reached the call's own
  connection at), takes the target from the channel's name (``Local/<number>@<context>-…;1``;
  else ``DIALEDPEERNUMBER``), reports :class:`~routecore.Answered` to the call's session and
  closes at once (the caller's bridge waits for it). When the engine answers ``DropLeg``
  (another target had won), the answering channel is hung up. The answer ports keep accepting
  while the calls drain at shutdown.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from routecore.adapter import aio
from routecore.adapter.call import CallDriver
from routecore.adapter.errors import AdapterError, ChannelGone
from routecore.adapter.runtime import Runtime
from routecore.adapter.server import Server, bind
from routecore.errors import RoutecoreError
from routecore_asterisk import codec, dialplan
from routecore_asterisk.aio import AgiStream
from routecore_asterisk.calls import first_event

__all__ = ["FastAgi", "make_handler"]

log = logging.getLogger("routecore.asterisk")


class FastAgi:
    """The connection handler of one worker process."""

    def __init__(self, runtime: Runtime, server: Server, answer_port: int | None) -> None:
        self.runtime = runtime
        self.server = server
        self.answer_port = answer_port
        self.calls: dict[str, tuple[CallDriver, dialplan.Translator]] = {}
        self.timeout = runtime.config.reply_timeout
        self.refused = 0
        """Answers refused (no secret, a wrong one, the wrong port) and scripts on the wrong
        port."""

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = AgiStream(reader, writer)
        try:
            env = await stream.read_environment(self.timeout)
            self.server.active()
            local = writer.get_extra_info("sockname")
            on_answer_port = isinstance(local, tuple) and local[1] == self.answer_port
            if on_answer_port != (env.script == "answered"):
                # the answer subroutine only on the answer port, calls only on the main one
                self.refused += 1
                log.warning(
                    "FastAGI %r refused on the %s port", env.script[:40],
                    "answer" if on_answer_port else "main",
                )  # fmt: skip
            elif on_answer_port:
                await self._answered(stream, env)
            else:
                await self._call(stream, env, local[0] if isinstance(local, tuple) else None)
        except (AdapterError, OSError) as e:
            log.warning("FastAGI connection ended: %s", e)
        finally:
            await stream.close()

    async def _send(self, stream: AgiStream, command: dialplan.Command) -> codec.Reply:
        return await stream.send(
            command.line,
            self.timeout if command.wait else None,
            after_hangup=command.after_hangup,
        )

    async def _call(self, stream: AgiStream, env: codec.AgiEnvironment, local: str | None) -> None:
        try:
            first = first_event(env)
            session = self.runtime.session()
        except (RoutecoreError, OSError) as e:  # not a 400 number, no image to route with
            log.warning("call %s refused: %s", env.uniqueid, e)
            await stream.send(
                codec.exec_("Hangup", str(dialplan.CAUSE_CODES["error"])), self.timeout
            )
            return
        driver = CallDriver(
            session,
            protocol="fastagi",
            observer=self.server.observer,
            journal=self.runtime.journal,
            channel=env.uniqueid,
        )
        translator = dialplan.Translator(
            self.runtime,
            call_id=first.call_id,
            did=first.did,
            answer_port=self.answer_port,
            answer_host=_answer_host(local),
            channel_type=env.values.get("agi_type", ""),
            outbound=type(first).__name__ == "OutboundStarted",
        )
        self.calls[translator.call] = (driver, translator)

        async def perform(action: Any) -> Any:
            if session.plan is not None and not translator.files:
                translator.use_plan(session.plan)
            steps = translator.steps(action)
            try:
                command = next(steps)
                while True:
                    driver.first_command()
                    try:
                        reply = await self._send(stream, command)
                    except ChannelGone as gone:  # the Action may still end with its Event
                        command = steps.throw(gone)
                    else:
                        command = steps.send(reply)
            except StopIteration as done:
                return done.value

        try:
            await aio.run(
                driver, first, perform, keepalive_every=self.runtime.config.keepalive_every
            )
        finally:
            self.calls.pop(translator.call, None)
        await self.runtime.written()  # the record is stored before the connection goes

    async def _answered(self, stream: AgiStream, env: codec.AgiEnvironment) -> None:
        name, _, secret = env.query.get("call", "").rpartition("*")
        entry = self.calls.get(name)
        if entry is None or not hmac.compare_digest(secret.encode(), entry[1].secret.encode()):
            self.refused += 1
            what = "unknown call" if entry is None else "a wrong secret for call"
            log.warning("answer refused: %s %r", what, name[:80])
            return
        driver, translator = entry
        peer = local_peer(env.channel)  # a Local channel names its target: no round trip
        if peer is None:
            reply = await stream.send(codec.get_variable("DIALEDPEERNUMBER"), self.timeout)
            peer = reply.data or ""
        target = translator.answering(peer)
        if target is None:
            return
        for action in driver.answered(target, at=translator.answer_at):
            if type(action).__name__ == "DropLeg":
                try:
                    await stream.send(codec.hangup(), self.timeout)
                except ChannelGone:
                    pass


def local_peer(channel: str) -> str | None:
    """What DIALEDPEERNUMBER would say of an answering ``Local`` channel, from its name
    (``Local/13800138002@destinations-0000002a;1`` → ``13800138002@destinations``); None for
    any other channel (its name does not hold the number)."""
    if not channel.startswith("Local/") or not channel.endswith(";1"):
        return None
    name, dash, _ = channel[len("Local/") : -2].rpartition("-")
    return name if dash and name else None


def _answer_host(local: str | None) -> str:
    """Where Asterisk reaches this worker's answer port: the address it reached the call at
    (an IPv4-mapped IPv6 address as IPv4; IPv6 itself cannot go into an ``agi://`` URL built
    by the dialplan, so such a call reports its answer to loopback)."""
    if not local or ":" in local.removeprefix("::ffff:"):
        return "127.0.0.1"
    return local.removeprefix("::ffff:")


async def make_handler(runtime: Runtime, server: Server) -> FastAgi:
    """The worker's handler, with its own answer port beside the shared one."""
    sock = bind(runtime.config.host, 0)
    handler = FastAgi(runtime, server, sock.getsockname()[1])
    server.handler = handler
    await server.listen(sock, late=True)  # open until the calls have drained
    return handler
