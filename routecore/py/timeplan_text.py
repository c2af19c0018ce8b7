"""The text of a time plan in plain Python: its rules (``DAYS HH:MM-HH:MM``) and dates
(``YYYY-MM-DD``) read into minutes and days, and written back; the twin of the parsing in
``crates/routecore-core/src/timeplan.rs`` (``routecore.py.timeplan`` builds the table).
"""

from __future__ import annotations

from datetime import date

_MINUTES = 1440
_HOLIDAY = 7
_UNIX_ORDINAL = 719_163
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
_ASCII_WS = " \t\n\r\f"
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")


def _lower(s: str) -> str:
    return s.translate(_LOWER)


def _quoted(s: str) -> str:
    return f'"{s}"'


def _hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _ascii_split(s: str) -> list[str]:
    out: list[str] = []
    tok = ""
    for c in s:
        if c in _ASCII_WS:
            if tok:
                out.append(tok)
            tok = ""
        else:
            tok += c
    if tok:
        out.append(tok)
    return out


def _digits(t: str) -> bool:
    return bool(t) and all(c in _DIGITS for c in t)


def _parse_time(s: str) -> int | None:
    """``HH:MM`` (1-2 digit hour) in minutes, 0..1440; None if malformed."""
    h, sep, m = s.partition(":")
    if not sep or not _digits(h) or len(h) > 2 or not _digits(m) or len(m) != 2:
        return None
    hh, mm = int(h), int(m)
    if mm > 59 or hh > 24 or (hh == 24 and mm != 0):
        return None
    return hh * 60 + mm


def _parse_range(tok: str) -> tuple[int, int] | list[str]:
    """``HH:MM-HH:MM`` as (start, end) minutes, or the problems."""
    parts = tok.split("-")
    if len(parts) != 2:
        return [f"bad time range {_quoted(tok)}"]
    problems: list[str] = []
    start = _parse_time(parts[0])
    if start is None:
        problems.append(f"bad time {_quoted(parts[0])}")
    elif start == _MINUTES:
        problems.append(f"bad start time {_quoted(parts[0])}")
    end = _parse_time(parts[1])
    if end is None:
        problems.append(f"bad time {_quoted(parts[1])}")
    if problems or start is None or end is None:
        return problems
    return start, end


def _weekday_index(name: str) -> int | None:
    return DAY_NAMES.index(name) if name in DAY_NAMES[:7] else None


def _parse_days(tok: str) -> list[int] | list[str]:
    days: set[int] = set()
    problems: list[str] = []
    for item in tok.split(","):
        if item == "daily":
            days.update(range(7))
        elif item == "holiday":
            days.add(_HOLIDAY)
        elif (d := _weekday_index(item)) is not None:
            days.add(d)
        else:
            a, sep, b = item.partition("-")
            ia, ib = _weekday_index(a), _weekday_index(b)
            if sep and ia is not None and ib is not None:
                d = ia
                while True:
                    days.add(d)
                    if d == ib:
                        break
                    d = (d + 1) % 7
            else:
                problems.append(f"unknown day {_quoted(item)}")
    return problems if problems else sorted(days)


def _parse_rule(rule: str) -> list[tuple[int, int, int]] | list[str]:
    """A rule as (profile, start, end) pieces, midnight crossings split; or the problems."""
    toks = _ascii_split(rule)
    if len(toks) != 2:
        return [f"expected {_quoted('DAYS HH:MM-HH:MM')}"]
    days = _parse_days(_lower(toks[0]))
    rng = _parse_range(toks[1])
    if isinstance(rng, list) or any(isinstance(d, str) for d in days):
        problems = [p for p in days if isinstance(p, str)]
        return problems + (rng if isinstance(rng, list) else [])
    start, end = rng
    pieces: list[tuple[int, int, int]] = []
    for d in days:
        assert isinstance(d, int)
        if end > start:
            pieces.append((d, start, end))
        else:
            pieces.append((d, start, _MINUTES))
            if end > 0:
                pieces.append((d if d == _HOLIDAY else (d + 1) % 7, 0, end))
    return pieces


def _parse_date(s: str) -> int | None:
    """``YYYY-MM-DD`` as days since 1970-01-01 (years 1..9999), or None."""
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return None
    if not all(c in _DIGITS for i, c in enumerate(s) if i not in (4, 7)):
        return None
    try:
        return date(int(s[:4]), int(s[5:7]), int(s[8:])).toordinal() - _UNIX_ORDINAL
    except ValueError:
        return None


def _format_date(days: int) -> str:
    return date.fromordinal(days + _UNIX_ORDINAL).isoformat()
