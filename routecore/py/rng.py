"""SplitMix64, bit for bit as ``crates/routecore-core/src/rng.rs``: same seed, same sequence."""

from __future__ import annotations

_MASK = (1 << 64) - 1


class SplitMix64:
    """A small seeded generator; ``below(n)`` draws uniformly from ``range(n)``."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """Lemire's multiply-shift with rejection; 0 when ``n`` is 0."""
        if n <= 0:
            return 0
        m = self.next_u64() * n
        low = m & _MASK
        if low < n:
            threshold = ((1 << 64) - n) % n
            while low < threshold:
                m = self.next_u64() * n
                low = m & _MASK
        return m >> 64
