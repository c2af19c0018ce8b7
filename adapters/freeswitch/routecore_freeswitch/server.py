"""The ESL outbound server: FreeSWITCH's ``socket 127.0.0.1:8084 async full`` connects once per
call, many calls per process (the shared server of :mod:`routecore.adapter.server`).

One connection: ``connect`` (the channel data), ``myevents`` (this channel's events) narrowed by
``nixevent`` to the four the adapter reads (:data:`EVENTS_READ`: each event is ~8 KB that
FreeSWITCH writes and the adapter reads), ``linger`` (the events after the hang-up still come),
the four sent at once (one round trip); the first Event from the channel data
(:func:`~routecore_freeswitch.calls.first_event`), a session (refused with ``hangup
NORMAL_TEMPORARY_FAILURE`` when the first Event is not valid or there is no image to route
with), then the call's Actions (:class:`~routecore_freeswitch.applications.Applications`) until
it ends. A channel still up after the call has ended (an error broke it) is hung up with
``NORMAL_TEMPORARY_FAILURE``. FreeSWITCH keeps a lingering socket open after its disconnect
notice, so the server waits for that notice (at most :data:`CLOSE_WAIT` seconds) and closes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from routecore.adapter import aio
from routecore.adapter.call import CallDriver
from routecore.adapter.errors import AdapterError, ChannelGone
from routecore.adapter.runtime import Runtime
from routecore.adapter.server import Server
from routecore.errors import RoutecoreError

from .applications import CAUSES, Applications
from .calls import first_event
from .connection import EslConnection

__all__ = ["CLOSE_WAIT", "EslServer", "make_handler"]

log = logging.getLogger("routecore.freeswitch")

CLOSE_WAIT = 5.0
"""Seconds the server waits for FreeSWITCH's disconnect notice after the call's end."""

MYEVENTS = (
    "CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE CHANNEL_DATA "
    "CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_OUTGOING CHANNEL_PARK "
    "CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_UNBRIDGE CHANNEL_UNPARK "
    "DETECTED_SPEECH DTMF NOTALK TALK"
).split()
"""The events ``myevents`` subscribes (mod_event_socket, 1.10)."""
EVENTS_READ = ("CHANNEL_EXECUTE_COMPLETE", "CHANNEL_BRIDGE", "CHANNEL_HANGUP",
               "CHANNEL_HANGUP_COMPLETE")  # fmt: skip
"""The events of the channel the adapter reads."""
EVENTS_DROPPED = " ".join(e for e in MYEVENTS if e not in EVENTS_READ)
"""What ``myevents`` subscribes (mod_event_socket, 1.10) that the adapter never reads."""


class EslServer:
    """The connection handler of one worker process."""

    def __init__(self, runtime: Runtime, server: Server) -> None:
        self.runtime = runtime
        self.server = server
        self.timeout = runtime.config.reply_timeout
        self.clock: Callable[[], float] = time.time
        """The calls' start time (unix seconds); tests pin it."""

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = EslConnection(reader, writer)
        try:
            await self._serve(conn)
        except (AdapterError, OSError) as e:
            log.warning("ESL connection %s ended: %s", conn.channel_uuid or "?", e)
        finally:
            await conn.close()

    async def _serve(self, conn: EslConnection) -> None:
        data, *_ = await asyncio.gather(  # one round trip: FreeSWITCH answers them in order
            conn.connect(self.timeout),
            conn.command("myevents", self.timeout),
            conn.command(f"nixevent {EVENTS_DROPPED}", self.timeout),
            conn.command("linger", self.timeout),
        )
        self.server.active()
        try:
            first = first_event(data, self.clock())
            session = self.runtime.session()
        except (RoutecoreError, OSError) as e:  # not a 400 number, no image to route with
            log.warning("call %s refused: %s", conn.channel_uuid, e)
            await self._end(conn)
            return
        driver = CallDriver(
            session,
            protocol="esl",
            observer=self.server.observer,
            journal=self.runtime.journal,
            channel=conn.channel_uuid,
        )
        apps = Applications(self.runtime, conn, driver, call_id=first.call_id, did=first.did)

        async def perform(action: Any) -> Any:
            return await apps.perform(action)

        await aio.run(driver, first, perform, keepalive_every=self.runtime.config.keepalive_every)
        await self.runtime.written()  # the record is stored before the connection goes
        await self._end(conn)

    async def _end(self, conn: EslConnection) -> None:
        """Hang up a channel still up (an error ended the call), then wait, bounded, for
        FreeSWITCH's disconnect notice."""
        if conn.closed:
            return
        if not conn.hung_up:
            try:
                await conn.execute("hangup", CAUSES["error"], timeout=self.timeout)
            except ChannelGone:
                pass
            except AdapterError as e:
                log.warning("call %s: hangup failed: %s", conn.channel_uuid, e)
                return
        await conn.wait_disconnect(min(CLOSE_WAIT, self.timeout))


async def make_handler(runtime: Runtime, server: Server) -> EslServer:
    """The worker's handler (for :func:`routecore.adapter.server.serve`)."""
    return EslServer(runtime, server)
