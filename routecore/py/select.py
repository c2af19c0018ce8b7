"""Ring selection in plain Python: the twin of ``crates/routecore-core/src/select.rs``.

The attempts of one call to a group (features B9 idle-first and V3 call memory):

1. **Preferred** (call memory): if ``preferred`` is given and that destination is idle, the
   first attempt rings it alone and it is left out of what follows. A busy preferred
   destination is *not* put first: it keeps its normal place in the mode's order.
2. **Base order** of the others: list order, except ``round_robin``, which starts after
   ``cursor`` (the index chosen last time; ``None`` starts at 0) and wraps.
3. **Parts**: with ``idle_first``, the base order is split (stably) into the idle
   destinations, then the busy ones; otherwise it is one part.
4. Each part, in turn, is ordered by the **mode**; one :class:`SplitMix64` seeded with
   ``seed`` serves every part:

   - ``sequential``, ``round_robin``: the base order, one attempt per destination; no draws.
   - ``random``: forward Fisher–Yates over the part of ``k`` destinations: for ``i`` in
     ``range(k - 1)``, ``j = i + below(k - i)``, swap ``i`` and ``j``. Draws: ``k - 1`` calls,
     ``below(k)``, …, ``below(2)``; the first draw picks the part's first destination.
   - ``weighted``: destinations of positive weight, in list order, are drawn without
     replacement: while more than one remains, ``r = below(sum of their weights)`` and the
     pick is the first one, walking the remaining in list order, whose weight exceeds ``r``
     (subtracting each weight passed). The last positive one follows without a draw, then
     the weight-0 destinations in list order. Draws: (positive ones in the part) − 1.
   - ``simultaneous``: one attempt ringing the whole part, in base order; no draws.

Empty attempts are never produced; every index appears in exactly one attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

from routecore.errors import SelectionError
from routecore.py.rng import SplitMix64

__all__ = ["MAX_DESTINATIONS", "MODES", "Attempt", "select"]

MAX_DESTINATIONS = 100
MAX_RING_TIMEOUT = 600

#: The mode names, in the order of their codes in a group table.
MODES = ("sequential", "round_robin", "random", "weighted", "simultaneous")


class Attempt:
    """One attempt of a call: the destinations rung together (indices), and for how long."""

    __slots__ = ("_targets", "_timeout")

    def __init__(self, targets: Sequence[int], timeout: int) -> None:
        ts = tuple(targets)
        if not ts:
            raise SelectionError("an attempt needs at least one target")
        for t in ts:
            if not 0 <= t < MAX_DESTINATIONS:
                raise SelectionError(
                    f"attempt target {t} is not an index 0..{MAX_DESTINATIONS - 1}"
                )
        if not 1 <= timeout <= MAX_RING_TIMEOUT:
            raise SelectionError(
                f"attempt timeout must be 1 to {MAX_RING_TIMEOUT} seconds, got {timeout}"
            )
        self._targets = ts
        self._timeout = timeout

    @property
    def targets(self) -> tuple[int, ...]:
        return self._targets

    @property
    def timeout(self) -> int:
        return self._timeout

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attempt):
            return NotImplemented
        return self._targets == other._targets and self._timeout == other._timeout

    def __hash__(self) -> int:
        return hash((self._targets, self._timeout))

    def __repr__(self) -> str:
        return f"Attempt(targets={self._targets!r}, timeout={self._timeout})"


def out_of_range(what: str, value: int, n: int) -> SelectionError:
    return SelectionError(f"{what} {value} is out of range for a group of {n} destinations")


def _index(what: str, value: int | None, n: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise TypeError(f"{what} must be an int or None, not {type(value).__name__}")
    if not 0 <= value < n:
        raise out_of_range(what, value, n)
    return value


def select(
    mode: str,
    idle_first: bool,
    weights: Sequence[int],
    *,
    seed: int = 0,
    idle: Sequence[bool] | None = None,
    cursor: int | None = None,
    preferred: int | None = None,
) -> list[list[int]]:
    """The attempts of one call, each a list of indices (see the module docstring)."""
    n = len(weights)
    if not 1 <= n <= MAX_DESTINATIONS:
        raise SelectionError(f"a group needs 1 to {MAX_DESTINATIONS} destinations, got {n}")
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed < 1 << 64:
        raise SelectionError(f"seed must be an int in 0..2**64-1, got {seed}")
    flags = [True] * n if idle is None else [bool(x) for x in idle]
    if len(flags) != n:
        raise SelectionError(f"idle has {len(flags)} flags for a group of {n} destinations")
    cur = _index("cursor", cursor, n)
    pref = _index("preferred", preferred, n)

    attempts: list[list[int]] = []
    pinned = pref if pref is not None and flags[pref] else None
    if pinned is not None:
        attempts.append([pinned])

    start = (cur + 1) % n if mode == "round_robin" and cur is not None else 0
    base = [(start + k) % n for k in range(n)]
    base = [i for i in base if i != pinned]
    if idle_first:
        parts = [[i for i in base if flags[i]], [i for i in base if not flags[i]]]
    else:
        parts = [base]

    rng = SplitMix64(seed)
    for part in parts:
        if not part:
            continue
        if mode == "simultaneous":
            attempts.append(part)
            continue
        if mode == "random":
            part = _shuffle(part, rng)
        elif mode == "weighted":
            part = _weighted(part, weights, rng)
        attempts.extend([i] for i in part)
    return attempts


def _shuffle(part: list[int], rng: SplitMix64) -> list[int]:
    """Forward Fisher–Yates: ``k - 1`` draws, ``below(k)`` first."""
    out = list(part)
    k = len(out)
    for i in range(k - 1):
        j = i + rng.below(k - i)
        out[i], out[j] = out[j], out[i]
    return out


def _weighted(part: list[int], weights: Sequence[int], rng: SplitMix64) -> list[int]:
    """Weighted draws without replacement, then the weight-0 destinations in list order."""
    remaining = [i for i in part if weights[i] > 0]
    zeros = [i for i in part if weights[i] == 0]
    total = sum(weights[i] for i in remaining)
    out: list[int] = []
    while len(remaining) > 1:
        r = rng.below(total)
        at = 0
        while r >= weights[remaining[at]]:  # walk in list order, subtracting each weight
            r -= weights[remaining[at]]
            at += 1
        chosen = remaining.pop(at)
        total -= weights[chosen]
        out.append(chosen)
    return out + remaining + zeros
