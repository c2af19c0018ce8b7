"""The dialer: the one owner of a call's claims on the shared state (B9, V3).

It orders a group's attempts (idle/busy and call memory read from the state, the round-robin
cursor taken from it), claims each attempt as the call reaches it (a compare-and-swap in the
state file, or the twin's file lock: two calls never both get the last free slot), releases
every other target of a simultaneous attempt at the answer moment, renews the leases while the
call goes on, counts each attempt per destination, and releases whatever it still holds when
the call ends, however it ends.

Capacities (B1/B9): a destination the state does not know yet is inserted with the capacity its
flow gives it just before it is first claimed (a trunk of 30 takes 30 calls at once); a call
never changes the capacity of a destination the state knows (a call still on an older image
must not undo a newer publish): publishing writes the new capacities (:func:`write_capacities`).

Leases: a claim is a lease of :data:`LEASE_SECONDS`; the answer moment and every ``KeepAlive``
renew it (:meth:`Dialer.renew`). A connected call longer than that must be kept alive:
an adapter sends :class:`~routecore.engine.actions.KeepAlive` at least every
:data:`KEEPALIVE_EVERY` seconds while it waits for the end of a Dial (a timer in the adapter's
process; nothing is sent to the PBX). A process that dies loses its leases at once for the
processes of its PID namespace (its pid is gone); for those of another namespace (containers
sharing the file), and for a process that hangs, the lease's deadline frees them.

:func:`route` is the same ordering and first claim as a plain function (``routecore.route``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from routecore.errors import StateError
from routecore.rules import DEFAULT_TZ
from routecore.state.protocol import StateStore

__all__ = ["KEEPALIVE_EVERY", "LEASE_SECONDS", "Dialer", "Routed", "route", "write_capacities"]

LEASE_SECONDS = 600.0
"""How long a claim holds without being renewed."""
KEEPALIVE_EVERY = LEASE_SECONDS / 2
"""An adapter renews a connected call's claims at least this often (a KeepAlive Event)."""


StateLike = StateStore
"""What the dialer needs of a shared state: :class:`routecore.state.StateStore` (the state file
of either backend, or the Redis store)."""


@dataclass(frozen=True)
class Routed:
    """The ordered attempts of one call, and the claim on the first one that could be claimed.

    ``claimed`` is the index in ``attempts`` of the attempt ``claim`` holds (None when no
    destination had room); ``preferred`` the destination call memory remembered, if any.
    The caller releases ``claim`` when that attempt ends (``state.release(claim, keep=...)``)
    and claims later attempts as it reaches them.
    """

    attempts: list[Any]
    claimed: int | None
    claim: Any
    preferred: str | None

    def numbers(self, index: int, group: Any) -> list[str]:
        """The destination numbers of attempt ``index`` of ``group``."""
        return [group.numbers[t] for t in self.attempts[index].targets]


def _cursor(state: Any, did: str | None, group: str | None, size: int, seed: int) -> int | None:
    """The round-robin cursor for this call from the shared state: the call after the one that
    took value ``v`` starts at member ``v mod size``. When the state has no room for the
    group's cursor, the call rotates by its own seed."""
    if did is None or group is None:
        return None
    value = state.next_cursor(did, group)
    return (value - 1) % size if value is not None else seed % size


def _order(
    state: Any,
    group: Any,
    numbers: Sequence[str],
    index: Mapping[str, int],
    seed: int,
    did: str | None,
    caller: str | None,
    at: float,
    tz: str,
    memory: bool,
    cursor: int | None,
) -> tuple[list[Any], str | None]:
    """The group's attempts for this call (idle ones and today's remembered agent first, as the
    group says) and the agent call memory named; ``index`` maps each number to its member."""
    idle = state.idle(numbers)
    preferred = state.recall(did, caller, at, tz=tz) if memory and did and caller else None
    pinned = index.get(preferred) if preferred is not None else None
    return group.attempts(seed=seed, idle=idle, cursor=cursor, preferred=pinned), preferred


def route(
    state: Any,
    group: Any,
    call_id: str,
    *,
    seed: int = 0,
    did: str | None = None,
    caller: str | None = None,
    at: float | None = None,
    tz: str = DEFAULT_TZ,
    memory: bool = True,
    cursor: int | None = None,
    name: str | None = None,
    lease: float = LEASE_SECONDS,
) -> Routed:
    """Order ``group``'s attempts for this call and claim the first one with room.

    With ``memory`` (V3) and both ``did`` and ``caller``, today's last answering destination
    of this caller is tried first when it is idle. ``at`` defaults to now. A round-robin group
    rotates from ``cursor``; given ``did`` and its ``name`` (and no ``cursor``), the cursor is
    taken from the shared state, so rotation holds across calls and processes.
    """
    numbers: list[str] = list(group.numbers)
    if cursor is None and group.mode == "round_robin":
        cursor = _cursor(state, did, name, len(numbers), seed)
    index = {n: i for i, n in enumerate(numbers)}
    now = time.time() if at is None else at
    attempts, preferred = _order(
        state, group, numbers, index, seed, did, caller, now, tz, memory, cursor
    )
    for i, attempt in enumerate(attempts):
        targets = [numbers[t] for t in attempt.targets]
        claim = state.claim(targets, call_id, lease=lease, all=len(targets) > 1)
        if claim is not None:
            return Routed(attempts, i, claim, preferred)
    return Routed(attempts, None, None, preferred)


class Dialer:
    """The claims of one call. Without a state (``None``) every method still works: nothing is
    claimed, every target counts as free, no memory and no counters."""

    __slots__ = ("_claim", "call_id", "state")

    def __init__(self, state: StateLike | None, call_id: str) -> None:
        self.state = state
        self.call_id = call_id
        self._claim: Any = None

    @property
    def holding(self) -> bool:
        """Whether a claim is held (an attempt is ringing or connected)."""
        return self._claim is not None

    def order(
        self,
        node: Any,
        *,
        seed: int,
        did: str,
        caller: str | None,
        at: float,
        tz: str,
    ) -> list[tuple[str, ...]]:
        """The attempts of group ``node`` (a plan's GroupNode) for this call, as numbers."""
        numbers = node.numbers
        state = self.state
        if state is None:
            attempts = node.table.attempts(seed=seed)
        else:
            cursor = _cursor(state, did, node.name, len(numbers), seed) if node.rotate else None
            attempts, _ = _order(
                state, node.table, numbers, node.index, seed, did, caller, at, tz, node.memory,
                cursor,
            )  # fmt: skip
        singles, order = node.singles, []
        for a in attempts:
            t = a.targets
            order.append(singles[t[0]] if len(t) == 1 else tuple([numbers[i] for i in t]))
        return order

    def take(
        self, targets: tuple[str, ...], capacities: dict[str, int] | None = None
    ) -> tuple[str, ...]:
        """Claim one attempt: the targets that had room (all of them for a simultaneous
        attempt, when free), empty when none had. Releases a claim still held first. A target
        the state does not know yet is inserted first with its capacity from ``capacities``
        (the flow's). A state that cannot take the claim (its destination table is full) is
        logged and counts as no room: the call goes on to its next attempt."""
        if self._claim is not None:
            self.release()
        state = self.state
        if state is None:
            return targets
        try:
            if capacities:
                for t in targets:
                    capacity = capacities.get(t, 1)
                    if capacity > 1 and state.destination(t) is None:
                        state.add_destination(t, capacity=capacity)
            claim = state.claim(targets, self.call_id, lease=LEASE_SECONDS, all=len(targets) > 1)
        except StateError as e:
            import logging  # only for this message: a process that logs nothing does not load it

            logging.getLogger("routecore.engine").error(
                "call %s: no claim on %s: %s", self.call_id, ",".join(targets), e
            )
            return ()
        if claim is None:
            return ()
        self._claim = claim
        taken: tuple[str, ...] = claim.numbers
        return taken

    def answer(self, target: str) -> None:
        """``target`` answered: every other claim of the attempt is released at once (free for
        the next caller while this conversation goes on), and the winner's lease renewed."""
        claim = self._claim
        if claim is not None and self.state is not None:
            self.state.release(claim, keep=target)
            self.state.extend(claim, LEASE_SECONDS)

    def renew(self) -> None:
        """Push the held claim's lease deadline to now + :data:`LEASE_SECONDS`."""
        if self._claim is not None and self.state is not None:
            self.state.extend(self._claim, LEASE_SECONDS)

    def count(self, targets: Sequence[str], winner: str | None, talk_seconds: int) -> None:
        """Count the attempt per destination: answered by ``winner`` (None: by nobody)."""
        state = self.state
        if state is None:
            return
        for t in targets:
            if t == winner:
                state.record_attempt(t, answered=True, talk_seconds=talk_seconds)
            else:
                state.record_attempt(t, answered=False)

    def remember(self, did: str, caller: str | None, agent: str, at: float, tz: str) -> None:
        """V3: ``agent`` answered ``caller`` today (until 24:00 in ``tz``)."""
        if self.state is not None and caller:
            self.state.remember(did, caller, agent, at, tz=tz)

    def release(self) -> None:
        """Free whatever this call still holds (harmless when nothing is held)."""
        claim = self._claim
        if claim is not None:
            self._claim = None
            if self.state is not None:
                self.state.release(claim)


def flow_capacities(flows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The capacity of every destination number of ``flows`` (their JSON form). A number that
    several flows list takes the largest capacity any of them gives it."""
    out: dict[str, int] = {}
    for flow in flows:
        for d in flow.get("destinations", {}).values():
            number, capacity = d["number"], int(d.get("capacity", 1))
            out[number] = max(capacity, out.get(number, 1))
    return out


def write_capacities(
    state: Any,
    image: Any,
    numbers: Iterable[str] | None = None,
    largest: Callable[[list[str]], Mapping[str, int]] | None = None,
) -> int:
    """At publish: give every destination the state knows the capacity the published flows of
    ``image`` give it (the largest when several list it); how many changed. Destinations the
    state does not know are left to the first call that claims them; online flags are kept.
    ``numbers``: read only these 400 numbers' flows (a publish of a few numbers on a platform
    in shards), and ``largest`` (the flow store's ``capacities``) gives their destinations the
    largest capacity any live flow gives them."""
    names = (
        [f"{did}/flow" for did in numbers]
        if numbers is not None
        else [n for n in image.names() if n.endswith("/flow")]
    )
    from routecore.engine import flow_blob

    flows = (flow_blob.decode(image.blob(n)) for n in names if n in image)
    wanted = flow_capacities(flows)
    if largest is not None:
        wanted.update(largest(list(wanted)))
    changed = 0
    for d in state.destinations_now():
        capacity = wanted.get(d.number)
        if capacity is not None and capacity != d.capacity:
            state.set_capacity(d.number, capacity)
            changed += 1
    return changed
