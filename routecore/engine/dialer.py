"""Routing a group with the shared state: idle/busy and call memory read from the state, the
attempts ordered by the core's selection, the first claimable attempt claimed atomically.

Works with either backend's ``Group`` and ``State`` (they share the file format). Two calls
routed at the same moment never both get the last idle destination: the claim is a
compare-and-swap in the state file (or, for the Python twin, is made under its file lock).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Routed", "route"]


class _State(Protocol):
    def idle(self, numbers: Sequence[str]) -> list[bool]: ...
    def recall(self, did: str, caller: str, at: float, *, tz: str = ...) -> str | None: ...
    def claim(
        self, candidates: Sequence[str], call_id: str, *, lease: float = ..., all: bool = ...
    ) -> Any: ...


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


def route(
    state: _State,
    group: Any,
    call_id: str,
    *,
    seed: int = 0,
    did: str | None = None,
    caller: str | None = None,
    at: float | None = None,
    tz: str = "Asia/Shanghai",
    memory: bool = True,
    cursor: int | None = None,
    lease: float = 600.0,
) -> Routed:
    """Order ``group``'s attempts for this call and claim the first one with room.

    With ``memory`` (V3) and both ``did`` and ``caller``, today's last answering destination
    of this caller is tried first when it is idle. ``at`` defaults to now.
    """
    numbers: list[str] = list(group.numbers)
    idle = state.idle(numbers)
    preferred = None
    if memory and did and caller:
        preferred = state.recall(did, caller, time.time() if at is None else at, tz=tz)
    index = numbers.index(preferred) if preferred in numbers else None
    attempts = group.attempts(seed=seed, idle=idle, cursor=cursor, preferred=index)
    for i, attempt in enumerate(attempts):
        targets = [numbers[t] for t in attempt.targets]
        claim = state.claim(targets, call_id, lease=lease, all=len(targets) > 1)
        if claim is not None:
            return Routed(attempts, i, claim, preferred)
    return Routed(attempts, None, None, preferred)
