"""Calls whose adapter died: their agents stay claimed while the PBX still has them, and every
one of them gets its record.

A PBX keeps a bridged conversation up whatever happens to the adapter that routed it (Asterisk
goes on with the ``Dial``, FreeSWITCH with the ``bridge``). When that adapter is killed, the
call's leases belong to a dead process, and the next claim would reclaim them: the next caller
would ring an agent who is still talking. So:

1. **Adopt** (:func:`adopt`, at a server's start, before it listens — before workers fork): the
   journal rows (``routecore.store.journal``) of this host's dead processes; the destinations
   each held are claimed again, by this process, under the call's id.
2. **Ask the PBX** (:class:`Reconciler`, in the first worker): which calls are still up
   (Asterisk's Manager interface, FreeSWITCH's inbound event socket: a :class:`PbxControl`).
   A call the PBX no longer has is completed at once from its row (``recovered`` =
   ``journal``: it ends at the last moment the journal knew of); the others are watched.
3. **Watch**: a hang-up event of the PBX (or a poll that no longer lists the call, every
   :data:`POLL` s, in case an event was lost) completes the call with the PBX's end
   (``recovered`` = ``pbx``) and frees its agents. Rows of processes that die later (a
   process-per-call AGI killed mid-call) are adopted by a scan every :data:`SCAN` s.

Without a PBX control connection (``--pbx``) nothing can say whether a call is still up: the
rows are completed at once (``journal``) and their agents freed, as before, and a warning says
so. While the PBX cannot be reached the adopted agents stay claimed (their leases renewed) for
up to :data:`GIVE_UP` s, then they are completed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from routecore.adapter.errors import AdapterError
from routecore.store.journal import OpenCall, completed, host_name, owner_alive

__all__ = [
    "Adopted",
    "ControlAddress",
    "PbxControl",
    "Reconciler",
    "adopt",
    "control_address",
]

log = logging.getLogger("routecore.adapter")

LEASE = 600.0
"""Seconds an adopted claim's lease lasts; renewed every :data:`RENEW` s."""
RENEW = 300.0
POLL = 2.0
"""Seconds between two listings of the PBX's calls while calls are adopted."""
SCAN = 10.0
"""Seconds between two scans of the journal for rows of processes that died since."""
RETRY = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before each new attempt to reach the PBX (the last one repeats)."""
GIVE_UP = 4 * 3600.0
"""Seconds adopted calls wait for an unreachable PBX before they are completed anyway."""


class PbxControl(Protocol):
    """What a reconciler asks of the PBX (``routecore_asterisk.ami``,
    ``routecore_freeswitch.inbound``)."""

    async def live_calls(self) -> set[str]:
        """The ids of every channel up now (Asterisk ``Uniqueid``, FreeSWITCH ``uuid``)."""
        ...

    async def next_hangup(self, timeout: float) -> str | None:
        """The id of the next channel that hung up; None when ``timeout`` s pass first."""
        ...

    async def close(self) -> None: ...


Connect = Callable[[], Awaitable[PbxControl]]


@dataclass(frozen=True)
class ControlAddress:
    """A PBX control connection: ``ami://user:secret@host:5038`` (Asterisk) or
    ``esl://:password@host:8021`` (FreeSWITCH)."""

    scheme: str
    host: str
    port: int
    user: str
    secret: str

    def __str__(self) -> str:  # never the secret (an ESL "user" is its password)
        user = f"{self.user}@" if self.scheme == "ami" and self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


DEFAULT_PORTS = {"ami": 5038, "esl": 8021}


def control_address(url: str) -> ControlAddress:
    """The parsed ``--pbx`` URL; AdapterError with the reason when it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise AdapterError(f"--pbx: {e}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise AdapterError("--pbx: ami://user:secret@host:port or esl://:password@host:port")
    if not parts.hostname:
        raise AdapterError("--pbx: no host")
    user, secret = unquote(parts.username or ""), unquote(parts.password or "")
    if parts.scheme == "ami" and not (user and secret):
        raise AdapterError("--pbx: AMI needs a user and a secret (ami://user:secret@host)")
    if parts.scheme == "esl" and not (secret or user):
        raise AdapterError("--pbx: the event socket needs its password (esl://:password@host)")
    return ControlAddress(
        parts.scheme,
        parts.hostname,
        port or DEFAULT_PORTS[parts.scheme],
        user,
        (secret or user) if parts.scheme == "esl" else secret,
    )


@dataclass
class Adopted:
    """A dead process's call and the claims this process took for it."""

    entry: OpenCall
    claims: list[Any] = field(default_factory=list)
    seen_live: bool = False


def adopt(runtime: Any, known: Collection[str] = ()) -> dict[str, Adopted]:
    """The journal rows of this host's dead processes not in ``known``, each with its
    destinations claimed again by this process (see the module). Never raises: a store or
    state that fails is logged, and what was adopted so far is returned."""
    store = runtime.calls
    adopted: dict[str, Adopted] = {}
    if store is None:
        return adopted
    try:
        rows = store.open_calls(host_name())
    except Exception:
        log.exception("the journal of open calls cannot be read")
        return adopted
    for entry in rows:
        if entry.call_id in known or owner_alive(entry):
            continue
        taken = Adopted(entry)
        for destination in entry.claimed:
            try:
                claim = runtime.state.claim([destination], entry.call_id, lease=LEASE)
            except Exception as e:
                log.warning(
                    "call %s: %s cannot be claimed again: %s", entry.call_id, destination, e
                )
                continue
            if claim is None:
                log.warning(
                    "call %s: %s was taken by another call before it could be adopted",
                    entry.call_id,
                    destination,
                )
            else:
                taken.claims.append(claim)
        adopted[entry.call_id] = taken
        log.warning(
            "call %s of dead process %d adopted (%s, %d destination(s) held)",
            entry.call_id,
            entry.pid,
            entry.protocol,
            len(taken.claims),
        )
    return adopted


class Reconciler:
    """The calls adopted from dead processes, until the PBX says each has ended (see the
    module). ``connect`` opens the PBX control connection (None: there is none)."""

    def __init__(
        self,
        runtime: Any,
        adopted: dict[str, Adopted],
        connect: Connect | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.adopted = adopted
        self.connect = connect
        self.clock = clock
        self.completed = 0
        self._finished: OrderedDict[str, None] = OrderedDict()  # completed, rows maybe not gone
        self._control: PbxControl | None = None
        self._reached: float | None = None  # when the PBX last answered
        self._since = clock()

    # -- the end of an adopted call -------------------------------------------------------------

    def complete(self, call_id: str, end: float | None) -> None:
        """Store the call's record (``end``: the PBX's end; None: unknown) and free its agents."""
        taken = self.adopted.pop(call_id, None)
        if taken is None:
            return
        self._finished[call_id] = None  # its row goes with the record: never adopted again
        if len(self._finished) > 10_000:
            self._finished.popitem(last=False)
        record = completed(taken.entry, end)
        try:
            self.runtime.add(record)
        except Exception:
            log.exception("call %s: the completed record cannot be stored", call_id)
        for claim in taken.claims:
            try:
                self.runtime.state.release(claim)
            except Exception as e:
                log.warning("call %s: releasing an adopted claim failed: %s", call_id, e)
        self.completed += 1
        log.info(
            "call %s completed after its adapter died: %s, %s, talk %d s",
            call_id,
            record.outcome,
            "end from the PBX" if end is not None else "end from the journal",
            record.talk_seconds,
        )

    def complete_all(self, why: str) -> None:
        """Complete every adopted call from its journal alone."""
        if self.adopted:
            log.warning("%d call(s) of dead processes completed without the PBX: %s",
                        len(self.adopted), why)  # fmt: skip
        for call_id in list(self.adopted):
            self.complete(call_id, None)

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Reconcile until cancelled."""
        if self.connect is None:
            self.complete_all("no PBX control connection (--pbx) to ask whether they are up")
        attempt = 0
        last_scan = last_poll = last_renew = self.clock()
        try:
            while True:
                now = self.clock()
                if now - last_scan >= SCAN:
                    last_scan = now
                    skip = self.adopted.keys() | self._finished.keys()
                    self.adopted.update(adopt(self.runtime, skip))
                    if self.connect is None:
                        self.complete_all("no PBX control connection (--pbx)")
                if now - last_renew >= RENEW:
                    last_renew = now
                    self._renew()
                if self.connect is None or not self.adopted:
                    await self._drop()  # nothing to watch: no connection (nor its events) kept
                    await asyncio.sleep(min(SCAN, 1.0))
                    continue
                if self._control is None:
                    if not await self._reach(attempt):
                        attempt += 1
                        continue
                    last_poll = 0.0  # list at once
                try:
                    if self.clock() - last_poll >= POLL:
                        last_poll = self.clock()
                        await self._poll()
                        attempt = 0  # the PBX answers: the next failure starts a new back-off
                    assert self._control is not None
                    gone = await self._control.next_hangup(min(POLL, 1.0))
                    if gone is not None:
                        self._ended(gone, self.clock())
                except (AdapterError, OSError) as e:
                    log.warning("the PBX control connection failed: %s", e)
                    await self._drop()
                    await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
                    attempt += 1
                except Exception:  # a bug must not end the reconciling: the agents stay held
                    log.exception("reconciling with the PBX failed; trying again")
                    await self._drop()
                    await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
                    attempt += 1
        finally:
            await self._drop()

    async def _reach(self, attempt: int) -> bool:
        assert self.connect is not None
        try:
            self._control = await self.connect()
            return True
        except (AdapterError, OSError) as e:
            waited = self.clock() - (self._reached or self._since)
            log.warning("the PBX cannot be reached to reconcile %d call(s): %s",
                        len(self.adopted), e)  # fmt: skip
            if waited >= GIVE_UP:
                self.complete_all(f"the PBX was unreachable for {waited:.0f} s")
                return False
            await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
            return False

    async def _poll(self) -> None:
        """List the PBX's calls: an adopted call it no longer has is over."""
        assert self._control is not None
        live = await self._control.live_calls()
        now = self.clock()
        self._reached = now
        for call_id, taken in list(self.adopted.items()):
            if taken.entry.channel in live:
                taken.seen_live = True
            else:  # gone since the last listing (the PBX's end), or before the first (unknown)
                self.complete(call_id, now if taken.seen_live else None)

    def _ended(self, channel: str, at: float) -> None:
        for call_id, taken in list(self.adopted.items()):
            if taken.entry.channel == channel:
                self.complete(call_id, at)

    def _renew(self) -> None:
        for taken in self.adopted.values():
            for claim in taken.claims:
                with contextlib.suppress(Exception):
                    self.runtime.state.extend(claim, LEASE)

    async def _drop(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(Exception):
                await control.close()
