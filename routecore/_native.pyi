"""Typed stubs of the compiled core ``routecore._native`` (checked by mypy.stubtest)."""

from typing import Self, final

__all__ = ["SplitMix64", "__version__"]
__version__: str

@final
class SplitMix64:
    def __new__(cls, seed: int) -> Self: ...
    def next_u64(self) -> int: ...
    def below(self, n: int) -> int: ...
