"""The packages of the brief (2.3 售卖套餐), shipped as ``packages.csv``, or an operator's own (P1).

Columns of a package table (CSV, UTF-8, header first)::

    id,name,price_yuan,years,rate_yuan_per_min,number_class,feature_credit_yuan_per_month,free_seats
    5000-3y,5000/3年,5000,3,0.08,普通号码,100,30

``id`` is ASCII (``[A-Za-z0-9._-]``); ``name`` is the brief's (``5000/3年``); either finds the
package. ``rate_yuan_per_min`` is the rate as printed (whole fen: at most 2 decimals; P2 may
replace it, see ``routecore.billing.rules.rate_fen``). ``number_class`` is 普通号码 (or
``regular``) or 超级号码 (``super``). ``feature_credit_yuan_per_month`` is the 优音功能礼包 credit
in yuan a month, ``×`` or empty for none. ``free_seats`` is 赠送云坐席数量. Every problem is a
:class:`routecore.errors.BillingError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources

from routecore.billing.money import parse_fen
from routecore.errors import BillingError

__all__ = [
    "COLUMNS",
    "NUMBER_CLASSES",
    "Package",
    "PackageTable",
    "builtin_packages",
    "load_packages",
]

COLUMNS = (
    "id",
    "name",
    "price_yuan",
    "years",
    "rate_yuan_per_min",
    "number_class",
    "feature_credit_yuan_per_month",
    "free_seats",
)
NUMBER_CLASSES = {
    "普通号码": "regular",
    "regular": "regular",
    "超级号码": "super",
    "super": "super",
}
"""The number classes a table may name (the brief's words or English), to ``regular``/``super``."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NONE = ("", "×", "x", "X", "none")
MAX_YEARS = 10


@dataclass(frozen=True)
class Package:
    """One package: ``price_fen`` for ``years`` years; ``printed_rate_fen`` per minute as the
    table prints it; ``number_class`` ``regular`` or ``super``; ``feature_credit_fen`` a month
    (0: none, ×); ``free_seats`` a month."""

    id: str
    name: str
    price_fen: int
    years: int
    printed_rate_fen: int
    number_class: str
    feature_credit_fen: int
    free_seats: int

    @property
    def months(self) -> int:
        """The term in months: 12 × years."""
        return 12 * self.years


class PackageTable(Mapping[str, Package]):
    """Packages by id, also found by name (``5000/3年``), in the table's order."""

    def __init__(self, packages: list[Package], source: str) -> None:
        self.source = source
        self._by_id = {p.id: p for p in packages}
        self._by_name = {p.name: p for p in packages}

    def __getitem__(self, key: str) -> Package:
        found = self._by_id.get(key) or self._by_name.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get_package(self, key: str) -> Package:
        """The package ``key`` (id or name); BillingError listing the known ids otherwise."""
        try:
            return self[key]
        except KeyError:
            known = ", ".join(self._by_id)
            raise BillingError(
                f"unknown package {key!r} in {self.source} (known: {known})"
            ) from None


def _int(text: str, low: int, high: int) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{number} is out of range ({low}-{high})")
    return number


def _field(row: dict[str, str], name: str) -> str:
    value = row.get(name)
    return "" if value is None else value


def _package(row: dict[str, str]) -> Package:
    """One row as a Package; ValueError(field, reason) on the first bad field."""
    values: dict[str, object] = {}
    for name in COLUMNS:
        text = _field(row, name)
        try:
            if name == "id":
                if not _ID.fullmatch(text.strip()):
                    raise ValueError(f"{text!r} is not an ASCII id (A-Z a-z 0-9 . _ -)")
                values[name] = text.strip()
            elif name == "name":
                if not text.strip():
                    raise ValueError("empty")
                values[name] = text.strip()
            elif name == "price_yuan":
                price = parse_fen(text)
                if price <= 0:
                    raise ValueError("must be more than 0")
                values["price_fen"] = price
            elif name == "years":
                values[name] = _int(text, 1, MAX_YEARS)
            elif name == "rate_yuan_per_min":
                rate = parse_fen(text)
                if rate <= 0:
                    raise ValueError("must be more than 0")
                values["printed_rate_fen"] = rate
            elif name == "number_class":
                cls = NUMBER_CLASSES.get(text.strip())
                if cls is None:
                    raise ValueError(f"{text!r} is not 普通号码 (regular) or 超级号码 (super)")
                values[name] = cls
            elif name == "feature_credit_yuan_per_month":
                raw = text.strip().removesuffix("元/月")
                values["feature_credit_fen"] = 0 if raw in _NONE else parse_fen(raw)
            else:
                values[name] = _int(text, 0, 100_000)
        except ValueError as e:
            raise ValueError(name, str(e)) from None
    return Package(**values)  # type: ignore[arg-type]


def parse_packages(text: str, source: str) -> PackageTable:
    """The package table in the CSV ``text`` (``source`` names it in errors)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if header is None:
        raise BillingError(f"{source}: line 1: empty package table (header: {','.join(COLUMNS)})")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise BillingError(f"{source}: line 1: missing column {', '.join(missing)}")
    packages: list[Package] = []
    ids: dict[str, int] = {}
    names: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise BillingError(f"{source}: line {line}: more fields than the header")
            if all(not (v or "").strip() for v in row.values()):
                continue
            try:
                package = _package(row)
            except ValueError as e:
                field, reason = e.args
                raise BillingError(f"{source}: line {line}: {field}: {reason}") from None
            for seen, key, what in ((ids, package.id, "id"), (names, package.name, "name")):
                if key in seen:
                    raise BillingError(
                        f"{source}: line {line}: {what}: {key!r} is already on line {seen[key]}"
                    )
                seen[key] = line
            packages.append(package)
    except csv.Error as e:
        raise BillingError(f"{source}: line {reader.line_num}: not CSV ({e})") from None
    if not packages:
        raise BillingError(f"{source}: no packages")
    return PackageTable(packages, source)


def load_packages(path: str | os.PathLike[str] | None = None) -> PackageTable:
    """The package table of the file ``path`` (an operator's own), or the brief's when None."""
    if path is None:
        return builtin_packages()
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BillingError(f"{source}: cannot read the package table ({e.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BillingError(f"{source}: line {line}: not UTF-8 text") from None
    return parse_packages(text, source)


def builtin_packages() -> PackageTable:
    """The 14 packages of the brief (2.3), from ``routecore/billing/packages.csv``."""
    text = resources.files("routecore.billing").joinpath("packages.csv").read_text("utf-8")
    return parse_packages(text, "packages.csv (built in)")
