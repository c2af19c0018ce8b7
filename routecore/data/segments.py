"""Where segment data comes from: the ``phone`` package's ``phone.dat`` and user CSV files (B6).

Shared by both backends: this module reads files and checks CSV rows; each backend's
``SegmentTable.build`` parses phone.dat itself and lays the rows over it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from routecore.errors import SegmentDataError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "TABLE_MAGIC",
    "TABLE_VERSION",
    "Row",
    "load_segments",
    "phone_dat_path",
    "read_phone_dat",
    "read_segment_csv",
]

_AREA = re.compile(r"0[1-9][0-9]{1,2}", re.ASCII)

TABLE_MAGIC = b"RCSG"
"""The magic of a segment table (both backends write the same layout)."""
TABLE_VERSION = 1
"""The layout version of a segment table."""

Row = tuple[int, str, str, str]
"""A user row: (segment, area code, province, city)."""


def phone_dat_path() -> Path:
    """The ``phone.dat`` shipped by the ``phone`` package (about 500k 7-digit segments)."""
    from pathlib import Path

    return Path(_phone_dat_file())


def _phone_dat_file() -> str:
    """:func:`phone_dat_path` as a str (what a process-per-call script's first classification
    stats, without loading ``pathlib``)."""
    import phone  # type: ignore[import-untyped]  # a dependency only for its data file

    return os.path.join(os.path.dirname(phone.__file__), "phone.dat")


def read_phone_dat(path: str | os.PathLike[str] | None = None) -> bytes:
    from pathlib import Path

    p = Path(path) if path is not None else phone_dat_path()
    try:
        return p.read_bytes()
    except OSError as e:
        raise SegmentDataError(f"{p}: cannot read: {e.strerror}") from e


def read_segment_csv(path: str | os.PathLike[str]) -> list[Row]:
    """Rows of a CSV ``segment,area_code,province,city`` (a header line is allowed).

    Each problem raises SegmentDataError naming file and line.
    """
    rows: list[Row] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for line, cells in enumerate(csv.reader(f), start=1):
                if not cells or all(not c.strip() for c in cells):
                    continue
                cells = [c.strip() for c in cells]
                if line == 1 and cells[0].lower() == "segment":
                    continue
                if len(cells) != 4:
                    raise SegmentDataError(
                        f"{path}:{line}: expected 4 fields segment,area_code,province,city, "
                        f"got {len(cells)}"
                    )
                seg, area, province, city = cells
                if not (len(seg) == 7 and seg.isascii() and seg.isdigit() and seg[0] == "1"):
                    raise SegmentDataError(
                        f"{path}:{line}: segment {seg!r} is not 7 digits starting with 1"
                    )
                if not _AREA.fullmatch(area[1:] if area.startswith("00") else area):
                    raise SegmentDataError(
                        f"{path}:{line}: area code {area!r} is not 0 followed by 2-3 digits"
                    )
                if not province or not city:
                    raise SegmentDataError(f"{path}:{line}: province and city must not be empty")
                rows.append((int(seg), area, province, city))
    except UnicodeDecodeError as e:
        raise SegmentDataError(f"{path}: not UTF-8 text: {e.reason}") from e
    except OSError as e:
        raise SegmentDataError(f"{path}: cannot read: {e.strerror}") from e
    except csv.Error as e:
        raise SegmentDataError(f"{path}: {e}") from e
    return rows


T = TypeVar("T")


def load_segments(
    cls: type[T],
    csv: Iterable[str | os.PathLike[str]] = (),
    *,
    base: bool = True,
    phone_dat: str | os.PathLike[str] | None = None,
) -> T:
    """A segment table of backend class ``cls``: phone.dat (unless ``base`` is False) with the
    rows of every CSV file laid over it, later files over earlier ones."""
    rows: list[Row] = []
    for path in csv:
        rows.extend(read_segment_csv(path))
    data = read_phone_dat(phone_dat) if base else None
    if data is None and not rows:
        raise SegmentDataError("no segment data: base=False and no CSV rows")
    table: T = cls.build(data, rows)  # type: ignore[attr-defined]
    return table
