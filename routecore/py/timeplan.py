"""Time plans in plain Python: the twin of ``crates/routecore-core/src/timeplan.rs``.

Same rules, same problems in the same order, byte-identical tables; see :class:`TimePlan`.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Self
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from routecore.errors import TimePlanError
from routecore.py.layout import (
    Buffer,
    StringPool,
    TableWriter,
    corrupt,
    need,
    open_table,
    verify_table,
)
from routecore.py.timeplan_text import (  # the rules' and dates' text
    _ASCII_WS,
    _HOLIDAY,
    _MINUTES,
    _UNIX_ORDINAL,
    DAY_NAMES,
    _format_date,
    _hhmm,
    _lower,
    _parse_date,
    _parse_range,
    _parse_rule,
    _quoted,
    _weekday_index,
)
from routecore.rules import DEFAULT_TZ

__all__ = ["MAX_EPOCH", "MIN_EPOCH", "TimePlan"]

MAGIC = b"RCTP"
VERSION = 1
_WHAT = "time plan"
_FIXED = 48
_WEEKLY = 8
_MAX_IDS = 65535
_MAX_TZ_LEN = 255
MIN_EPOCH = -62_135_510_400
"""0001-01-02T00:00:00Z, the earliest instant a plan evaluates."""
MAX_EPOCH = 253_402_214_399
"""9999-12-30T23:59:59Z, the latest instant a plan evaluates."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_HEAD = struct.Struct("<7I")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_EXC = struct.Struct("<iH")
_BOUND = struct.Struct("<HH")

_Cover = list[list[int]]
_Key = tuple[bool, int, int, tuple[int, ...]]


def _date_text(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, date):
        return f"{key.year:04d}-{key.month:02d}-{key.day:02d}"
    raise TypeError(f'dates must be date or "YYYY-MM-DD" str, not {type(key).__name__}')


def _string(obj: object, what: str) -> str:
    if not isinstance(obj, str):
        raise TypeError(f"{what} must be str, not {type(obj).__name__}")
    return obj


def _strings(obj: object, what: str) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if not isinstance(obj, Iterable):
        raise TypeError(f"'{type(obj).__name__}' object is not iterable")
    return [_string(x, what) for x in obj]


def _slot_rules(obj: object, what: str) -> list[tuple[str, list[str]]]:
    if not isinstance(obj, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(obj).__name__}")
    out: list[tuple[str, list[str]]] = []
    for name, rules in obj.items():
        name = _string(name, "slot names")
        out.append((name, _strings(rules, f'rules of slot "{name}"')))
    return out


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _add(cover: _Cover, slot: int, start: int, end: int) -> None:
    for m in range(start, end):
        if slot not in cover[m]:
            cover[m].append(slot)


class _Findings:
    """Overlaps and gaps grouped by (kind, start, end, slots), in first-seen order."""

    def __init__(self) -> None:
        self.groups: dict[_Key, list[str]] = {}

    def note(self, key: _Key, label: str) -> None:
        self.groups.setdefault(key, []).append(label)

    def problems(self, names: list[str]) -> list[str]:
        out: list[str] = []
        for (overlap, start, end, slots), labels in self.groups.items():
            when = f"{','.join(labels)} {_hhmm(start)}-{_hhmm(end)}"
            if overlap:
                who = ", ".join(_quoted(names[s]) for s in slots)
                out.append(f"overlap on {when}: {who}")
            else:
                out.append(f"no slot covers {when}")
        return out


def _resolve(
    cover: _Cover, default: int | None, label: str, findings: _Findings
) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    m = 0
    while m < _MINUTES:
        cur = tuple(sorted(cover[m]))
        end = m + 1
        while end < _MINUTES and tuple(sorted(cover[end])) == cur:
            end += 1
        slot: int | None = None
        if len(cur) == 1:
            slot = cur[0]
        elif not cur and default is not None:
            slot = default
        else:
            findings.note((bool(cur), m, end, cur), label)
        if slot is not None and (not bounds or bounds[-1][1] != slot):
            bounds.append((m, slot))
        m = end
    return bounds


def _build(
    slots: list[tuple[str, list[str]]],
    tz: str,
    default: str | None,
    calendar: list[tuple[str, str]],
    dates: list[tuple[str, str | list[tuple[str, list[str]]]]],
    workday_as: str,
) -> bytes:
    problems: list[str] = []
    if not _zone_ok(tz):
        problems.append(f"unknown time zone {_quoted(tz)}")
    wd = _weekday_index(_lower(workday_as))
    if wd is None:
        problems.append(f"workday_as: unknown day {_quoted(workday_as)}")
    workday = wd if wd is not None else 0

    names: list[str] = []
    ids: dict[str, int] = {}
    for name, _ in slots:
        if name in ids:
            problems.append(f"slot {_quoted(name)} is given twice")
        else:
            ids[name] = min(len(names), _MAX_IDS)
            names.append(name)
    default_id: int | None = None
    if default is not None:
        if default in ids:
            default_id = ids[default]
        else:
            names.append(default)
            default_id = min(len(names) - 1, _MAX_IDS)
            ids[default] = default_id
    if len(names) > _MAX_IDS:
        problems.append(f"too many slots: {len(names)} (at most {_MAX_IDS})")

    weekly: list[_Cover] = [[[] for _ in range(_MINUTES)] for _ in range(_WEEKLY)]
    holiday_named = False
    for name, rules in slots:
        slot = ids[name]
        for rule in rules:
            for piece in _parse_rule(rule):
                if isinstance(piece, str):
                    problems.append(f"slot {_quoted(name)}: rule {_quoted(rule)}: {piece}")
                else:
                    d, s, e = piece
                    holiday_named |= d == _HOLIDAY
                    _add(weekly[d], slot, s, e)
    if not holiday_named:
        weekly[_HOLIDAY] = weekly[6]

    exceptions: dict[int, int] = {}
    kinds: dict[int, str] = {}
    for text, kind in calendar:
        day = _parse_date(text)
        if day is None:
            problems.append(f"calendar: bad date {_quoted(text)}: expected YYYY-MM-DD")
            continue
        k = _lower(kind)
        if k not in ("holiday", "workday"):
            problems.append(f"calendar: {_format_date(day)}: unknown kind {_quoted(kind)}")
            continue
        prev = kinds.get(day)
        if prev is not None and prev != k:
            problems.append(f"calendar: {_format_date(day)} is both a holiday and a workday")
            continue
        kinds[day] = k
        exceptions[day] = _HOLIDAY if k == "holiday" else workday

    seen: set[int] = set()
    explicit: list[tuple[int, _Cover]] = []
    for text, what in dates:
        day = _parse_date(text)
        if day is None:
            problems.append(f"bad date {_quoted(text)}: expected YYYY-MM-DD")
            continue
        label = _format_date(day)
        if day in seen:
            problems.append(f"date {label} is given twice")
            continue
        seen.add(day)
        if isinstance(what, str):
            pname = _lower(what)
            profile = (
                _HOLIDAY
                if pname == "holiday"
                else workday
                if pname == "workday"
                else _weekday_index(pname)
            )
            if profile is None:
                problems.append(f"date {label}: unknown day {_quoted(what)}")
            else:
                exceptions[day] = profile
            continue
        day_cover: _Cover = [[] for _ in range(_MINUTES)]
        for slot_name, ranges in what:
            if slot_name not in ids:
                problems.append(f"date {label}: unknown slot {_quoted(slot_name)}")
                continue
            slot = ids[slot_name]
            for rng in ranges:
                span = _parse_range(rng.strip(_ASCII_WS))
                if isinstance(span, list):
                    problems += [f"date {label}: slot {_quoted(slot_name)}: {m}" for m in span]
                elif span[1] > span[0]:
                    _add(day_cover, slot, span[0], span[1])
                else:
                    problems.append(
                        f"date {label}: slot {_quoted(slot_name)}: "
                        f"range {_quoted(rng)} must end after it starts"
                    )
        explicit.append((day, day_cover))
    explicit.sort(key=lambda x: x[0])
    if _WEEKLY + len(explicit) > _MAX_IDS:
        problems.append(f"too many explicit dates: {len(explicit)} (at most {_MAX_IDS - _WEEKLY})")
    for i, (day, _) in enumerate(explicit):
        exceptions[day] = _WEEKLY + i

    findings = _Findings()
    profiles: list[list[tuple[int, int]]] = []
    for p, cover in enumerate(weekly):
        if p == _HOLIDAY and not holiday_named:
            profiles.append(profiles[6])
        else:
            profiles.append(_resolve(cover, default_id, DAY_NAMES[p], findings))
    for day, cover in explicit:
        profiles.append(_resolve(cover, default_id, _format_date(day), findings))
    problems += findings.problems(names)

    if problems:
        raise TimePlanError("cannot build time plan: " + "; ".join(problems), problems)

    pool = StringPool()
    refs = [pool.add(n) for n in names]
    tz_ref = pool.add(tz)
    w = TableWriter(MAGIC, VERSION)
    w.pack(
        "8I",
        len(names),
        len(profiles),
        sum(len(p) for p in profiles),
        len(exceptions),
        len(pool.blob),
        tz_ref[0],
        tz_ref[1],
        0,
    )
    for off, length in refs:
        w.pack("II", off, length)
    at = 0
    for bounds in profiles:
        w.pack("I", at)
        at += len(bounds)
    w.pack("I", at)
    for bounds in profiles:
        for start, slot in bounds:
            w.pack("HH", start, slot)
    for day in sorted(exceptions):
        w.pack("iHH", day, exceptions[day], 0)
    w.raw(bytes(pool.blob))
    return w.finish()


def _out_of_range(when: object) -> TimePlanError:
    msg = f"instant {when} is out of range (supported: years 1 to 9999)"
    return TimePlanError(msg, [msg])


def _epoch_of(when: object) -> int:
    """Seconds since the epoch of an int or a float (floored)."""
    if isinstance(when, float):
        if not math.isfinite(when) or when < MIN_EPOCH or when >= MAX_EPOCH + 1.0:
            raise _out_of_range(when)
        return math.floor(when)
    try:
        t = operator.index(when)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"expected a datetime or epoch seconds, not {type(when).__name__}"
        ) from None
    if not -(2**63) <= t < 2**63:
        raise _out_of_range(when)
    return t


class TimePlan:
    """Named slots over the week at minute resolution, with dated exceptions, in a zone.

    Build one with :meth:`build`; read a stored one in place with :meth:`from_buffer`. A built
    plan covers every minute of every day profile with exactly one slot: overlaps and gaps
    are reported by :meth:`build`, never at lookup.
    """

    __slots__ = (
        "_bounds_at",
        "_bounds_n",
        "_exc_at",
        "_exc_n",
        "_names",
        "_pool_at",
        "_pool_len",
        "_prof_at",
        "_prof_n",
        "_slot_n",
        "_tz_ref",
        "_view",
        "_zone",
    )

    def __init__(self, data: Buffer) -> None:
        view = open_table(data, MAGIC, VERSION, _WHAT)
        need(view, _FIXED, _WHAT)
        slots, profiles, bounds, exceptions, pool_len, tz_off, tz_len = _HEAD.unpack_from(view, 16)
        if not _WEEKLY <= profiles <= _MAX_IDS:
            raise corrupt(_WHAT, f"profile count {profiles} is not valid")
        if slots > _MAX_IDS:
            raise corrupt(_WHAT, f"slot count {slots} is not valid")
        self._prof_at = _FIXED + 8 * slots
        self._bounds_at = self._prof_at + 4 * (profiles + 1)
        self._exc_at = self._bounds_at + 4 * bounds
        self._pool_at = self._exc_at + 8 * exceptions
        need(view, self._pool_at + pool_len, _WHAT)
        if tz_len > _MAX_TZ_LEN or tz_off + tz_len > pool_len:
            raise corrupt(_WHAT, "zone name lies outside the string pool")
        self._view = view
        self._slot_n, self._prof_n, self._bounds_n, self._exc_n = (
            slots,
            profiles,
            bounds,
            exceptions,
        )
        self._pool_len = pool_len
        self._tz_ref = (tz_off, tz_len)
        self._names: list[str] | None = None
        name = self._str(tz_off, tz_len)
        if not _zone_ok(name):
            raise corrupt(_WHAT, f"unknown time zone {_quoted(name)}")
        self._zone = ZoneInfo(name)

    @classmethod
    def build(
        cls,
        slots: Mapping[str, Sequence[str]],
        *,
        tz: str = DEFAULT_TZ,
        default: str | None = None,
        calendar: Iterable[tuple[date, str]] | None = None,
        dates: Mapping[str | date, str | Mapping[str, Sequence[str]]] | None = None,
        workday_as: str = "mon",
    ) -> Self:
        """Compile a plan, or raise :class:`TimePlanError` listing every problem.

        ``slots`` maps a slot name to rules ``"DAYS HH:MM-HH:MM"`` (a single str is one rule).
        DAYS is a comma list of ``mon``..``sun``, ranges such as ``mon-fri`` (wrapping:
        ``fri-mon``), ``daily`` and ``holiday`` (ASCII case-insensitive); ``24:00`` may end a
        range. A rule whose end is not after its start crosses midnight: start–24:00 on that
        day, 00:00–end on the next (``sun`` spills into ``mon``; a ``holiday`` rule's spill
        stays on the holiday profile).

        There are eight day profiles, ``mon``..``sun`` and ``holiday``; if no rule names
        ``holiday`` the holiday profile is a copy of sunday's (spill from saturday included).
        ``calendar`` lists ``(date, "holiday" | "workday")``; ``None`` means China's calendar
        (:func:`routecore.data.holidays.china_calendar`). A holiday uses the holiday profile, a
        make-up working day the profile of the weekday ``workday_as``. ``dates`` overrides the
        calendar per date (a ``date`` or ``"YYYY-MM-DD"``): a profile name (``mon``..``sun``,
        ``holiday``, ``workday``) or a mapping slot -> ``["HH:MM-HH:MM", ...]`` giving the whole
        day (each range ends after it starts; slots must exist).

        ``default`` names the slot of minutes no rule covers (added as a slot if new); without
        it uncovered minutes are problems. Overlapping slots are always problems, reported
        with their days and minutes.
        """
        if calendar is None:
            from routecore.data.holidays import china_calendar

            calendar = china_calendar()
        cal: list[tuple[str, str]] = []
        for entry in calendar:
            d, kind = entry
            cal.append((_date_text(d), _string(kind, "calendar kinds")))
        dated: list[tuple[str, str | list[tuple[str, list[str]]]]] = []
        if dates is not None:
            if not isinstance(dates, Mapping):
                raise TypeError(f"dates must be a mapping, not {type(dates).__name__}")
            for key, value in dates.items():
                text = _date_text(key)
                if isinstance(value, str):
                    dated.append((text, value))
                else:
                    dated.append((text, _slot_rules(value, "a date's value")))
        table = _build(
            _slot_rules(slots, "slots"),
            _string(tz, "tz"),
            None if default is None else _string(default, "default"),
            cal,
            dated,
            _string(workday_as, "workday_as"),
        )
        return cls(table)

    @classmethod
    def from_buffer(cls, buf: Buffer) -> Self:
        """Read a plan in place from ``to_bytes()`` output (bytes, mmap, memoryview).

        Checks the header and the counts only; raises :class:`LayoutError` on a truncated or
        foreign buffer or another layout version.
        """
        return cls(buf)

    def to_bytes(self) -> bytes:
        """The table: the common header, then the core's layout (see the module)."""
        return bytes(self._view)

    def verify(self) -> None:
        """Check the CRC-32 of the body; :class:`LayoutError` if it does not match."""
        verify_table(self._view, _WHAT)

    def _str(self, off: int, length: int) -> str:
        if off + length > self._pool_len:
            raise corrupt(_WHAT, "string lies outside the string pool")
        at = self._pool_at + off
        try:
            return str(self._view[at : at + length], "utf-8")
        except UnicodeDecodeError:
            raise corrupt(_WHAT, f"string at {at} is not UTF-8") from None

    def _slot_name(self, slot: int) -> str:
        names = self._names
        if names is None:
            names = self._names = [self._read_slot_name(i) for i in range(self._slot_n)]
        return names[slot]

    def _read_slot_name(self, slot: int) -> str:
        off, length = struct.unpack_from("<II", self._view, _FIXED + 8 * slot)
        return self._str(off, length)

    @property
    def slot_names(self) -> list[str]:
        """The slots in id order: the mapping's order, then ``default`` if it was new."""
        return [self._slot_name(i) for i in range(self._slot_n)]

    @property
    def tz(self) -> str:
        """The plan's IANA time zone."""
        return self._str(*self._tz_ref)

    def _profile_of(self, days: int) -> int:
        lo, hi = 0, self._exc_n
        view = self._view
        while lo < hi:
            mid = (lo + hi) // 2
            d, p = _EXC.unpack_from(view, self._exc_at + 8 * mid)
            if d == days:
                if p >= self._prof_n:
                    raise corrupt(_WHAT, f"profile {p} does not exist")
                return int(p)
            if d < days:
                lo = mid + 1
            else:
                hi = mid
        return (days + 3) % 7

    def _slot_at_local(self, days: int, minute: int) -> int:
        p = self._profile_of(days)
        view = self._view
        a, b = struct.unpack_from("<II", view, self._prof_at + 4 * p)
        if a >= b or b > self._bounds_n:
            raise corrupt(_WHAT, f"profile {p} has no boundaries")
        lo, hi = a + 1, b
        at = self._bounds_at
        while lo < hi:
            mid = (lo + hi) // 2
            if _U16.unpack_from(view, at + 4 * mid)[0] <= minute:
                lo = mid + 1
            else:
                hi = mid
        start, slot = _BOUND.unpack_from(view, at + 4 * (lo - 1))
        if lo - 1 == a and start != 0:
            raise corrupt(_WHAT, f"profile {p} does not start at 00:00")
        if slot >= self._slot_n:
            raise corrupt(_WHAT, f"slot {slot} does not exist")
        return int(slot)

    def _slot_id(self, t: int) -> int:
        if not MIN_EPOCH <= t <= MAX_EPOCH:
            raise _out_of_range(t)
        local = datetime.fromtimestamp(t, self._zone)
        return self._slot_at_local(
            local.toordinal() - _UNIX_ORDINAL, local.hour * 60 + local.minute
        )

    def slot_id_at(self, epoch_seconds: int) -> int:
        """The id (index into :attr:`slot_names`) of the slot at an instant (epoch seconds)."""
        return self._slot_id(_epoch_of(epoch_seconds))

    def slot_at(self, when: datetime | int | float) -> str:
        """The slot name at ``when``.

        An aware datetime is an instant; a naive one is the wall clock in the plan's zone
        (its local date and minute, no conversion); an int or float is seconds since the
        Unix epoch (floored). Instants must lie in years 1..9999 (:class:`TimePlanError`).
        """
        if isinstance(when, datetime):
            if when.utcoffset() is None:
                days = when.toordinal() - _UNIX_ORDINAL
                slot = self._slot_at_local(days, when.hour * 60 + when.minute)
            else:
                slot = self._slot_id((when - _EPOCH) // _SECOND)
        else:
            slot = self._slot_id(_epoch_of(when))
        return self._slot_name(slot)

    def slot_ids_at(self, epochs: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The slot ids of a 1-D int64 array of epoch seconds, as an int32 array."""
        if not isinstance(epochs, np.ndarray) or epochs.dtype != np.int64 or epochs.ndim != 1:
            raise TypeError("epochs must be a 1-D numpy array of int64")
        return np.fromiter(
            (self._slot_id(t) for t in epochs.tolist()), dtype=np.int32, count=len(epochs)
        )
