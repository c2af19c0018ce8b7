"""Typed stubs of the compiled core ``routecore._native`` (checked by mypy.stubtest)."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Self, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

__all__ = ["SplitMix64", "TimePlan", "__version__"]
__version__: str

@final
class SplitMix64:
    def __new__(cls, seed: int) -> Self: ...
    def next_u64(self) -> int: ...
    def below(self, n: int) -> int: ...

@final
class TimePlan:
    @staticmethod
    def build(
        slots: Mapping[str, Sequence[str]],
        *,
        tz: str = "Asia/Shanghai",
        default: str | None = None,
        calendar: Iterable[tuple[date, str]] | None = None,
        dates: Mapping[str | date, str | Mapping[str, Sequence[str]]] | None = None,
        workday_as: str = "mon",
    ) -> TimePlan: ...
    @staticmethod
    def from_buffer(buf: Buffer) -> TimePlan: ...
    def to_bytes(self) -> bytes: ...
    def verify(self) -> None: ...
    @property
    def slot_names(self) -> list[str]: ...
    @property
    def tz(self) -> str: ...
    def slot_id_at(self, epoch_seconds: int) -> int: ...
    def slot_at(self, when: datetime | int | float) -> str: ...
    def slot_ids_at(self, epochs: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]: ...
