"""Screen pop: a seat's open workspace learns, within a second, that its phone rings, that the
seat answered and that the call ended (B15, V5).

On one host the adapters already tell the call store what every call in progress holds: the
journal (``routecore.store.journal``) has a row from a call's first command, the destinations a
Dial rings (``claimed``, written at once) and the agent who answered. One watcher per portal
process reads that journal every ``TICK`` seconds (in a thread: SQLite never blocks the event
loop) and hands each change to the seats that listen for the phone it concerns, however many
seats are open: the journal is read once a tick, not once a seat.

When the shared state is on Redis (``ROUTECORE_STATE=redis://…``) the adapters of every host
publish their journal to the calls' stream (:mod:`routecore.store.call_events`) and the
watcher reads that instead: a seat's phone rung by a call on another host pops as well.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from routecore.store import CallQuery
from routecore_portal import stores

log = logging.getLogger(__name__)

TICK = 0.25
HISTORY = 5


@dataclass(frozen=True)
class Pop:
    """One change for one phone: ``ringing``, ``talking`` or ``ended``."""

    event: str
    phone: str
    call_id: str
    did: str
    caller: str
    area: str | None
    history: tuple[dict[str, Any], ...] = ()

    def data(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "call_id": self.call_id,
            "did": self.did,
            "caller": self.caller,
            "area": self.area,
            "history": list(self.history),
        }


def history(did: str, caller: str) -> tuple[dict[str, Any], ...]:
    """The last calls of ``caller`` to ``did`` (newest first): when, outcome, who answered."""
    if not caller.isdigit():
        return ()
    try:
        with stores.calls() as calls:
            rows, _ = calls.page(CallQuery(did, caller=caller[:20]), limit=HISTORY)
    except Exception:  # no call store yet, or a caller the query refuses: no history
        return ()
    return tuple(
        {
            "start": r["start"],
            "outcome": r["outcome"],
            "answered_by": r["answered_by"],
            "talk_seconds": r["talk_seconds"],
            "phones": sorted(phones_of(r)),
        }
        for r in rows
    )


def digits(phone: str) -> str:
    """A seat's phone as the engine names it (its digits: ``010-6552 0001`` → ``01065520001``)."""
    return re.sub(r"[^0-9]", "", phone)


def phones_of(row: dict[str, Any]) -> set[str]:
    """The agents' phones a call record involved: those it rang or found busy, those that
    talked, and the agent that placed an outbound or internal call."""
    phones = set(row.get("tried") or ()) | set(row.get("talked_with") or ())
    if row.get("answered_by"):
        phones.add(row["answered_by"])
    if row.get("kind") != "inbound" and row.get("caller"):
        phones.add(row["caller"])
    return phones


def visible(history: Any, phone: str, everything: bool) -> list[dict[str, Any]]:
    """``history`` as a seat may see it: every call when its enterprise lets seats see every
    call of their customers, else the calls that involved its ``phone``; without the phones."""
    return [
        {k: v for k, v in h.items() if k != "phones"}
        for h in history
        if everything or phone in h.get("phones", ())
    ]


def states(rows: list[Any]) -> dict[tuple[str, str], tuple[str, Any]]:
    """(phone, call id) -> (``ringing`` or ``talking``, the journal row) for every phone a call
    in progress holds now."""
    now: dict[tuple[str, str], tuple[str, Any]] = {}
    for row in rows:
        for phone in row.claimed:
            talking = row.answered_by == phone
            if row.answered_by is None or talking:
                now[(phone, row.call_id)] = ("talking" if talking else "ringing", row)
    return now


class Watcher:
    """The process's one reader of the journal, and the seats listening to it."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Pop]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[tuple[str, str], tuple[str, Any]] = {}
        self._stream: tuple[Any, Any] | None = None  # (the Redis state, its stream reader)

    def listen(self, phone: str) -> asyncio.Queue[Pop]:
        queue: asyncio.Queue[Pop] = asyncio.Queue(maxsize=100)
        self._queues[phone].add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return queue

    def leave(self, phone: str, queue: asyncio.Queue[Pop]) -> None:
        self._queues[phone].discard(queue)
        if not self._queues[phone]:
            del self._queues[phone]

    async def _run(self) -> None:
        while self._queues:
            started = time.monotonic()
            try:
                pops = await asyncio.to_thread(self.tick)
            except Exception as e:  # a store that is gone or locked: say so, try again
                log.warning("screen pop: cannot read the journal: %s", e)
                pops = []
            for pop in pops:
                for queue in list(self._queues.get(pop.phone, ())):
                    if queue.full():
                        queue.get_nowait()  # a seat that does not read loses the oldest
                    queue.put_nowait(pop)
            await asyncio.sleep(max(TICK - (time.monotonic() - started), 0.01))
        self._task = None

    def open_calls(self) -> list[Any] | None:
        """The calls in progress: every host's from the calls' stream when the state is on
        Redis, else this host's journal (None: no call store yet). Raises when it cannot be
        read."""
        from routecore.state import is_url

        where = stores.paths().get("state") or ""
        if is_url(where):
            if self._stream is None:
                from routecore.store.call_events import CallEventReader

                state = stores.open_state_or_none()
                self._stream = (state, CallEventReader(state.client, state.prefix))
            rows: list[Any] = self._stream[1].open_calls()
            return rows
        if not stores.exists(stores.paths()["calls"]):
            return None
        with stores.calls() as calls:
            return calls.open_calls()

    def tick(self) -> list[Pop]:
        """Read the calls in progress once; the changes for the phones listened to."""
        wanted = set(self._queues)
        # A journal that cannot be read raises: the loop logs it and ``_seen`` stays as it was
        # (an unreadable journal is no news, never an "ended" for every call in progress).
        rows = self.open_calls()
        if rows is None:
            return []  # no call store yet: no call in progress
        now = {key: value for key, value in states(rows).items() if key[0] in wanted}
        pops = []
        for key, (event, row) in now.items():
            if self._seen.get(key, ("", None))[0] != event:
                record = row.record
                past = history(record.did, record.caller) if event == "ringing" else ()
                pops.append(
                    Pop(
                        event,
                        key[0],
                        row.call_id,
                        record.did,
                        record.caller,
                        record.caller_area,
                        past,
                    )
                )
        for key, (_event, row) in self._seen.items():
            if key not in now and key[0] in wanted:
                record = row.record
                pops.append(
                    Pop("ended", key[0], row.call_id, record.did, record.caller, record.caller_area)
                )
        self._seen = now
        return pops


WATCHER = Watcher()
