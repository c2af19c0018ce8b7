"""What the Redis state keeps by day and by group: call memory (expiring at 24:00 of the
number's zone), branch counters (one hash per number and day, kept 8 days) and round-robin
cursors, as a part of :class:`routecore.state.redis.RedisState` (B9, B11, V3).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from routecore.rules import DEFAULT_TZ
from routecore.state.checks import (
    caller_bytes,
    check_branch,
    check_group,
    day_name,
    did_bytes,
    local_day,
    midnight,
    number_bytes,
)
from routecore.state.format import BRANCHES, DAYS
from routecore.state.redis_link import Unusable

if TYPE_CHECKING:
    from routecore.state.redis_values import StateUnavailable

T = TypeVar("T")

__all__ = ["DailyKeys"]


class DailyKeys:
    """Call memory, branch counters and cursors of a RedisState (which has the keys' prefixes
    and the ways to reach Redis declared here)."""

    _p_memory: bytes
    _p_count: bytes
    _p_cursor: bytes

    if TYPE_CHECKING:

        def _do(self, fn: Callable[[], T], *, force: bool = False) -> T: ...
        def _cmd(self, *args: Any) -> Any: ...
        def _fcall(
            self, name: str, keys: Sequence[bytes], args: Sequence[Any], ro: bool = False
        ) -> Any: ...
        def _degraded(self, what: str, error: BaseException) -> None: ...
        def _unavailable(self, what: str, error: Unusable) -> StateUnavailable: ...

    # -- call memory -----------------------------------------------------------------------

    def remember(
        self, did: str, caller: str, destination: str, at: float, *, tz: str = DEFAULT_TZ
    ) -> None:
        """Remember that ``caller``'s call to ``did`` was answered by ``destination`` at ``at``;
        the key expires at 24:00 of that day in ``tz`` (a day already over is not written).
        Dropped (counted) while Redis cannot be used."""
        d, c, dest = did_bytes(did), caller_bytes(caller), number_bytes(destination)
        day = local_day(at, tz)
        end = midnight(day, tz)
        if end <= time.time():
            return  # that day is over in tz: the memory would answer nothing
        key = self._p_memory + d + b":" + c
        value = str(day).encode() + b":" + dest
        expire = () if math.isinf(end) else ("EXAT", math.ceil(end))
        try:
            self._do(lambda: self._cmd("SET", key, value, *expire))
        except Unusable as e:
            self._degraded("remember", e)

    def recall(self, did: str, caller: str, at: float, *, tz: str = DEFAULT_TZ) -> str | None:
        """The destination remembered for (``did``, ``caller``) on the day of ``at``, or None
        (also while Redis cannot be used)."""
        d, c = did_bytes(did), caller_bytes(caller)
        day = local_day(at, tz)
        key = self._p_memory + d + b":" + c
        try:
            return self._do(lambda: _recalled(self._cmd("GET", key), day))
        except Unusable as e:
            self._degraded("recall", e)
            return None

    def memory_key(self, did: str, caller: str) -> bytes:
        """The Redis key of the call memory of (``did``, ``caller``)."""
        return self._p_memory + did_bytes(did) + b":" + caller_bytes(caller)

    # -- counters --------------------------------------------------------------------------

    def counter_key(self, did: str, at: float, *, tz: str = DEFAULT_TZ) -> bytes:
        """The Redis key of ``did``'s branch counts on the local day of ``at``."""
        return self._p_count + did_bytes(did) + b":" + day_name(local_day(at, tz)).encode()

    def count_branch(self, did: str, branch: int, at: float, *, tz: str = DEFAULT_TZ) -> None:
        """Count one call of ``did`` to ``branch`` (0..255) on the local day of ``at``. The
        day's counts are kept 8 days (to 24:00 of the 8th); a count for a day no longer kept,
        or made while Redis cannot be used, is dropped."""
        raw = did_bytes(did)
        b = check_branch(branch)
        day = local_day(at, tz)
        end = midnight(day + DAYS - 1, tz)
        if end <= time.time():
            return  # that day is no longer kept
        key = self._p_count + raw + b":" + day_name(day).encode()
        expire = min(math.ceil(end), 1 << 40)
        try:
            self._fcall("count", (key,), (b, expire))
        except Unusable as e:
            self._degraded("count_branch", e)

    def branch_counts(self, did: str, at: float, *, tz: str = DEFAULT_TZ) -> npt.NDArray[np.uint32]:
        """The counts of ``did``'s branches on the local day of ``at`` (zeros if none)."""
        key = self.counter_key(did, at, tz=tz)
        try:
            return self._do(lambda: _counts(self._cmd("HGETALL", key)))
        except Unusable as e:
            raise self._unavailable(f"read the branch counts of {did}", e) from None

    # -- round-robin cursors ---------------------------------------------------------------

    def next_cursor(self, did: str, group: str) -> int | None:
        """The round-robin cursor of ``group`` on ``did``: its value now, and 1 more after
        (0, 1, 2, … from any host). None while Redis cannot be used: the caller then rotates
        by a seed of its own."""
        raw = did_bytes(did)
        name = check_group(group).encode("utf-8", "surrogatepass")
        try:
            return self._do(lambda: int(self._cmd("HINCRBY", self._p_cursor + raw, name, 1)) - 1)
        except Unusable as e:
            self._degraded("next_cursor", e)
            return None


def _recalled(raw: Any, day: int) -> str | None:
    """The destination a call memory value names for ``day`` (None: none, or another day's)."""
    if raw is None:
        return None
    stamp, _, dest = bytes(raw).partition(b":")
    if stamp != str(day).encode() or not 3 <= len(dest) <= 20:
        return None
    return dest.decode("ascii", "replace")


def _counts(got: Any) -> npt.NDArray[np.uint32]:
    """A day's branch counts from its hash (``HGETALL``)."""
    out = np.zeros(BRANCHES, dtype=np.uint32)
    for b, n in dict(got).items():
        i = int(b)
        if 0 <= i < BRANCHES:
            out[i] = min(int(n), 0xFFFFFFFF)
    return out
