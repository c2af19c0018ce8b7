from __future__ import annotations

import functools
import mmap
import random
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routecore
import routecore.backend.native as native
import routecore.py as ref
from routecore.data.holidays import china_calendar
from routecore.errors import LayoutError, TimePlanError

SH = ZoneInfo("Asia/Shanghai")
OFFICE_NIGHTS = {
    "office": ["mon-fri 09:00-18:00"],
    "mobile": ["mon-fri 18:00-09:00", "sat,sun 09:00-09:00"],
}
OFFICE_DEFAULT = {"office": ["mon-fri 09:00-18:00"]}


def epoch(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = SH) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=tz).timestamp())


@pytest.fixture(params=["rule", "default"])
def office(backend: ModuleType, request: pytest.FixtureRequest) -> Any:
    if request.param == "rule":
        return backend.TimePlan.build(OFFICE_NIGHTS)
    return backend.TimePlan.build(OFFICE_DEFAULT, default="mobile")


def test_exports() -> None:
    assert routecore.TimePlan in (native.TimePlan, ref.TimePlan)
    assert "TimePlan" in native.__all__ and "TimePlan" in ref.__all__


def test_office_hours(office: Any) -> None:
    assert office.slot_names == ["office", "mobile"]
    assert office.tz == "Asia/Shanghai"
    # Wednesday 2026-09-30.
    assert office.slot_at(datetime(2026, 9, 30, 8, 59)) == "mobile"
    assert office.slot_at(datetime(2026, 9, 30, 9, 0)) == "office"
    assert office.slot_at(datetime(2026, 9, 30, 17, 59)) == "office"
    assert office.slot_at(datetime(2026, 9, 30, 18, 0)) == "mobile"
    # Saturday and Sunday.
    assert office.slot_at(datetime(2026, 9, 26, 10, 0)) == "mobile"
    assert office.slot_at(datetime(2026, 9, 27, 23, 59)) == "mobile"


def test_holiday_and_makeup_workday(office: Any) -> None:
    # National Day 2026-10-01, a Thursday: the holiday profile, i.e. sunday's.
    assert date(2026, 10, 1).weekday() == 3
    assert office.slot_at(datetime(2026, 10, 1, 10, 0)) == "mobile"
    assert office.slot_at(datetime(2026, 10, 8, 10, 0)) == "office"  # back to work
    # Make-up working day 2026-10-10, a Saturday: monday's profile.
    assert date(2026, 10, 10).weekday() == 5
    assert office.slot_at(datetime(2026, 10, 10, 10, 0)) == "office"
    assert office.slot_at(datetime(2026, 10, 10, 20, 0)) == "mobile"
    assert office.slot_at(datetime(2026, 10, 17, 10, 0)) == "mobile"
    for d in ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20"]:
        assert office.slot_at(datetime.fromisoformat(d + "T10:00")) == "office"


def test_holiday_rules_and_workday_as(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(
        {"office": ["mon-fri 09:00-18:00"], "duty": ["holiday 22:00-02:00"]},
        default="mobile",
        workday_as="sat",
    )
    assert plan.slot_at(datetime(2026, 10, 1, 23, 0)) == "duty"
    assert plan.slot_at(datetime(2026, 10, 1, 1, 0)) == "duty"  # spill stays on holiday
    assert plan.slot_at(datetime(2026, 10, 1, 12, 0)) == "mobile"
    assert plan.slot_at(datetime(2026, 10, 10, 10, 0)) == "mobile"  # works like a saturday
    assert plan.slot_at(datetime(2026, 9, 13, 23, 0)) == "mobile"  # sunday: no holiday rules


def test_user_dates(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(
        OFFICE_DEFAULT,
        default="mobile",
        dates={
            "2026-12-31": {"office": ["09:00-15:00"]},
            date(2026, 10, 1): "workday",
            "2026-10-10": "sun",
            date(2026, 9, 30): "holiday",
        },
    )
    assert plan.slot_at(datetime(2026, 12, 31, 14, 59)) == "office"
    assert plan.slot_at(datetime(2026, 12, 31, 15, 0)) == "mobile"
    assert plan.slot_at(datetime(2026, 12, 31, 8, 0)) == "mobile"
    assert plan.slot_at(datetime(2026, 10, 1, 10, 0)) == "office"
    assert plan.slot_at(datetime(2026, 10, 10, 10, 0)) == "mobile"
    assert plan.slot_at(datetime(2026, 9, 30, 10, 0)) == "mobile"


def test_own_calendar(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(
        OFFICE_DEFAULT, default="mobile", calendar=[(date(2026, 9, 30), "holiday")]
    )
    assert plan.slot_at(datetime(2026, 9, 30, 10, 0)) == "mobile"
    assert plan.slot_at(datetime(2026, 10, 1, 10, 0)) == "office"  # not in this calendar
    empty = backend.TimePlan.build(OFFICE_DEFAULT, default="mobile", calendar=[])
    assert empty.slot_at(datetime(2026, 10, 1, 10, 0)) == "office"


def test_china_calendar() -> None:
    cal = china_calendar()
    assert (date(2026, 10, 1), "holiday") in cal
    assert (date(2026, 10, 10), "workday") in cal
    assert cal == sorted(cal)
    cal.clear()
    assert china_calendar()


def test_time_zones(backend: ModuleType) -> None:
    sh = backend.TimePlan.build(OFFICE_DEFAULT, default="mobile")
    ny = backend.TimePlan.build(OFFICE_DEFAULT, default="mobile", tz="America/New_York")
    assert ny.tz == "America/New_York"
    # Wednesday 2026-09-30 10:00 in Shanghai is Tuesday 22:00 in New York.
    t = epoch(2026, 9, 30, 10, 0)
    assert sh.slot_at(t) == sh.slot_at(float(t)) == "office"
    assert ny.slot_at(t) == "mobile"
    aware = datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    assert sh.slot_at(aware) == "office" and ny.slot_at(aware) == "mobile"
    assert sh.slot_at(aware.astimezone(UTC)) == "office"
    # Naive datetimes are wall-clock time in the plan's own zone.
    naive = datetime(2026, 9, 30, 10, 0)
    assert sh.slot_at(naive) == ny.slot_at(naive) == "office"
    # Epoch seconds, floats floored.
    assert sh.slot_id_at(epoch(2026, 9, 30, 9, 0)) == 0
    assert sh.slot_at(epoch(2026, 9, 30, 9, 0) - 0.5) == "mobile"


def test_dst(backend: ModuleType) -> None:
    ny = ZoneInfo("America/New_York")
    plan = backend.TimePlan.build(
        {"early": ["daily 00:00-02:00"], "late": ["daily 02:00-00:00"]}, tz="America/New_York"
    )
    # 2026-11-01 01:30 happens twice in New York; both are "early".
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ny)
    second = first.replace(fold=1)
    assert int(second.timestamp()) - int(first.timestamp()) == 3600
    assert plan.slot_at(first) == plan.slot_at(second) == "early"
    assert plan.slot_at(int(second.timestamp()) + 1800) == "late"


def test_bad_instants(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(OFFICE_DEFAULT, default="mobile")
    for bad in [10**20, -(10**20), 2**63, float("nan"), float("inf"), 1e300]:
        with pytest.raises(TimePlanError, match="out of range"):
            plan.slot_at(bad)
    for bad_type in ["2026-10-01", date(2026, 10, 1), None]:
        with pytest.raises(TypeError):
            plan.slot_at(bad_type)
    assert plan.slot_at(np.int64(epoch(2026, 9, 30, 10))) == "office"


def problems_of(backend: ModuleType, slots: Any, **kw: Any) -> list[str]:
    with pytest.raises(TimePlanError) as info:
        backend.TimePlan.build(slots, **kw)
    return info.value.problems


def test_every_problem_at_once(backend: ModuleType) -> None:
    problems = problems_of(
        backend,
        {
            "office": ["mon-fri 09:00-18:00", "funday 09:00-10:00", "mon 25:00-26:00"],
            "lunch": ["mon,wed 12:00-13:00", "nonsense"],
        },
        tz="Mars/Olympus",
        workday_as="someday",
        calendar=[("2026-13-01", "holiday"), (date(2026, 1, 1), "party")],
        dates={
            "2026-12-31": {"office": ["09:00-15:00", "16:00-10:00"], "ghost": ["15:00-24:00"]},
            "tomorrow": "mon",
            "2026-12-30": "someday",
        },
    )
    assert problems == [
        'unknown time zone "Mars/Olympus"',
        'workday_as: unknown day "someday"',
        'slot "office": rule "funday 09:00-10:00": unknown day "funday"',
        'slot "office": rule "mon 25:00-26:00": bad time "25:00"',
        'slot "office": rule "mon 25:00-26:00": bad time "26:00"',
        'slot "lunch": rule "nonsense": expected "DAYS HH:MM-HH:MM"',
        'calendar: bad date "2026-13-01": expected YYYY-MM-DD',
        'calendar: 2026-01-01: unknown kind "party"',
        'date 2026-12-31: slot "office": range "16:00-10:00" must end after it starts',
        'date 2026-12-31: unknown slot "ghost"',
        'bad date "tomorrow": expected YYYY-MM-DD',
        'date 2026-12-30: unknown day "someday"',
        "no slot covers mon,tue,wed,thu,fri,2026-12-31 00:00-09:00",
        'overlap on mon,wed 12:00-13:00: "office", "lunch"',
        "no slot covers mon,tue,wed,thu,fri 18:00-24:00",
        "no slot covers sat,sun 00:00-24:00",
        "no slot covers 2026-12-31 15:00-24:00",
    ]


def test_error_message_and_more_problems(backend: ModuleType) -> None:
    with pytest.raises(TimePlanError, match=r"^cannot build time plan: .*overlap on sun"):
        backend.TimePlan.build({"a": ["daily 00:00-24:00"], "b": ["sat 23:00-01:00"]})
    assert problems_of(backend, {"a": ["mon 24:00-01:00", "mon 1-2", "mon 9:5-10:00"]}) == [
        'slot "a": rule "mon 24:00-01:00": bad start time "24:00"',
        'slot "a": rule "mon 1-2": bad time "1"',
        'slot "a": rule "mon 1-2": bad time "2"',
        'slot "a": rule "mon 9:5-10:00": bad time "9:5"',
        "no slot covers mon,tue,wed,thu,fri,sat,sun 00:00-24:00",
    ]
    assert problems_of(
        backend,
        {"a": ["mon 09:00-10:00-11:00"]},
        default="x",
        calendar=[("2026-10-01", "holiday"), ("2026-10-01", "workday")],
        dates={"2026-10-02": "mon", date(2026, 10, 2): "tue"},
    ) == [
        'slot "a": rule "mon 09:00-10:00-11:00": bad time range "09:00-10:00-11:00"',
        "calendar: 2026-10-01 is both a holiday and a workday",
        "date 2026-10-02 is given twice",
    ]


def test_bad_argument_types(backend: ModuleType) -> None:
    with pytest.raises(TypeError):
        backend.TimePlan.build(["mon 09:00-10:00"])
    with pytest.raises(TypeError):
        backend.TimePlan.build({"a": [1]})
    with pytest.raises(TypeError):
        backend.TimePlan.build({1: ["mon 09:00-10:00"]})
    with pytest.raises(TypeError):
        backend.TimePlan.build({"a": []}, default="a", dates={3: "mon"})
    with pytest.raises(TypeError):
        backend.TimePlan.build({"a": []}, default="a", dates={"2026-01-01": 3})


def test_single_rule_string_and_names(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(
        {
            "办公室": "Mon-FRI 09:00-18:00",
            "night": ["fri-mon 18:00-09:00", "tue-thu 18:00-09:00", "SAT-sun 9:00-18:00"],
        }
    )
    assert plan.slot_names == ["办公室", "night"]
    assert plan.slot_at(datetime(2026, 9, 30, 12)) == "办公室"
    assert plan.slot_at(datetime(2026, 10, 1, 12)) == "night"


def test_round_trip_and_verify(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(OFFICE_NIGHTS, dates={"2026-12-31": "holiday"})
    raw = plan.to_bytes()
    assert raw[:4] == b"RCTP" and len(raw) % 8 == 0
    for buf in [raw, bytearray(raw), memoryview(raw), raw + b"\0" * 8]:
        again = backend.TimePlan.from_buffer(buf)
        assert again.to_bytes() == raw
        again.verify()
        assert again.slot_at(datetime(2026, 12, 31, 10)) == "mobile"
    with mmap.mmap(-1, len(raw)) as m:
        m.write(raw)
        mapped = backend.TimePlan.from_buffer(m)
        assert mapped.slot_at(datetime(2026, 12, 30, 10)) == "office"
        del mapped
    flipped = bytearray(raw)
    flipped[50] ^= 0x55
    with pytest.raises(LayoutError, match="checksum"):
        backend.TimePlan.from_buffer(bytes(flipped)).verify()


def test_bad_buffers(backend: ModuleType) -> None:
    raw = backend.TimePlan.build(OFFICE_NIGHTS).to_bytes()
    for cut in range(len(raw)):
        with pytest.raises(LayoutError):
            backend.TimePlan.from_buffer(raw[:cut])
    other_version = bytearray(raw)
    other_version[4] = 2
    with pytest.raises(LayoutError, match="version 2"):
        backend.TimePlan.from_buffer(bytes(other_version))
    with pytest.raises(LayoutError, match="not a RCTP table"):
        backend.TimePlan.from_buffer(b"RCTR" + raw[4:])
    rnd = random.Random(7)
    for n in [1, 8, 16, 47, 48, 100, 1000]:
        junk = bytes(rnd.randrange(256) for _ in range(n))
        with pytest.raises(LayoutError):
            backend.TimePlan.from_buffer(junk)


def test_corrupt_bodies_never_crash(backend: ModuleType) -> None:
    raw = backend.TimePlan.build(OFFICE_NIGHTS, dates={"2026-12-31": "holiday"}).to_bytes()
    when = [epoch(2026, 10, 1, h) for h in range(0, 24, 5)] + [epoch(2026, 9, 30, 12)]
    for i in range(16, len(raw), 3):
        bad = bytearray(raw)
        bad[i] ^= 0xA5
        try:
            plan = backend.TimePlan.from_buffer(bytes(bad))
            plan.slot_names  # noqa: B018
            for t in when:
                plan.slot_at(t)
        except LayoutError:
            pass


def test_layout_errors_are_the_same(backend: ModuleType) -> None:
    raw = native.TimePlan.build(OFFICE_NIGHTS).to_bytes()
    for data in [b"", b"RC", raw[:20], raw[:47], raw[:60]]:
        with pytest.raises(LayoutError) as a:
            native.TimePlan.from_buffer(data)
        with pytest.raises(LayoutError) as b:
            ref.TimePlan.from_buffer(data)
        assert str(a.value) == str(b.value)


def test_slot_ids_at(backend: ModuleType) -> None:
    plan = backend.TimePlan.build(OFFICE_NIGHTS, dates={"2026-12-31": {"office": "00:00-24:00"}})
    rnd = np.random.default_rng(1)
    epochs = rnd.integers(epoch(2025, 12, 1), epoch(2027, 1, 1), size=2000, dtype=np.int64)
    ids = plan.slot_ids_at(epochs)
    assert ids.dtype == np.int32 and ids.shape == epochs.shape
    assert ids.tolist() == [plan.slot_id_at(int(t)) for t in epochs]
    assert plan.slot_ids_at(epochs[::3]).tolist() == ids[::3].tolist()
    assert plan.slot_ids_at(np.array([], dtype=np.int64)).tolist() == []
    with pytest.raises(TimePlanError):
        plan.slot_ids_at(np.array([0, 10**15], dtype=np.int64))
    with pytest.raises(TypeError):
        plan.slot_ids_at(np.array([1.5]))


# --- differential: both backends build the same bytes and answer the same -----------------

DAY_WORDS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily", "holiday", "Mon", "fri-mon"]
ZONES = ["Asia/Shanghai", "Asia/Urumqi", "America/New_York", "Europe/London", "UTC", "Nope/Zone"]


def pick(draw: st.DrawFn, good: list[Any], bad: list[Any], sabotage: bool) -> Any:
    """A good value, or (when sabotaging, sometimes) a bad one."""
    if sabotage and draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(good))


@st.composite
def times(draw: st.DrawFn, sabotage: bool = False) -> str:
    if sabotage and draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(["24:00", "9:5", "25:00", "", "ab:cd", "7:30"]))
    h = draw(st.integers(0, 23))
    m = draw(st.sampled_from([0, 15, 30, 45, draw(st.integers(0, 59))]))
    return f"{h:02d}:{m:02d}"


@st.composite
def rules(draw: st.DrawFn, sabotage: bool = False) -> str:
    if sabotage and draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=12))
    days = ",".join(draw(st.lists(st.sampled_from(DAY_WORDS), min_size=1, max_size=3)))
    return f"{days} {draw(times(sabotage))}-{draw(times(sabotage))}"


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    bad = draw(st.integers(0, 2)) == 0  # a third of the plans get broken ingredients
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "办"]), max_size=4, unique=True))
    slots = {n: draw(st.lists(rules(bad), max_size=3)) for n in names}
    kw: dict[str, Any] = {"slots": slots}
    kw["default"] = pick(draw, ["a", "z"], [None], bad or draw(st.booleans()))
    kw["tz"] = pick(draw, ZONES[:-1], ZONES[-1:], bad)
    if draw(st.booleans()):
        kinds = ["holiday", "workday", "Holiday"]
        kw["calendar"] = [
            (d, pick(draw, kinds, ["x"], bad))
            for d in draw(st.lists(st.dates(date(2026, 9, 1), date(2026, 12, 31)), max_size=5))
        ]
    kw["workday_as"] = pick(draw, ["mon", "sat", "SUN"], ["x"], bad)
    dates: dict[Any, Any] = {}
    for d in draw(st.lists(st.dates(date(2026, 9, 1), date(2026, 12, 31)), max_size=3)):
        key = d if draw(st.booleans()) else d.isoformat()
        if draw(st.booleans()):
            dates[key] = pick(draw, ["holiday", "workday", "sat", "tue"], ["x"], bad)
        else:
            slot = pick(draw, [*names, "a", "z"], ["ghost"], bad)
            dates[key] = {slot: [f"{draw(times(bad))}-{draw(times(bad))}"]}
    kw["dates"] = dates
    return kw


def build_both(kw: dict[str, Any]) -> tuple[Any, Any]:
    out = []
    for b in (native, ref):
        try:
            out.append(
                b.TimePlan.build(kw["slots"], **{k: v for k, v in kw.items() if k != "slots"})
            )
        except TimePlanError as e:
            out.append(e.problems)
    return out[0], out[1]


instants = st.integers(epoch(1992, 1, 1), epoch(2037, 12, 31))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kw=plans(), ts=st.lists(instants, min_size=1, max_size=20))
def test_backends_agree(kw: dict[str, Any], ts: list[int]) -> None:
    a, b = build_both(kw)
    if isinstance(a, list) or isinstance(b, list):
        assert a == b
        return
    assert a.to_bytes() == b.to_bytes()
    assert a.slot_names == b.slot_names
    for t in ts:
        assert a.slot_at(t) == b.slot_at(t)
    arr = np.array(ts, dtype=np.int64)
    assert a.slot_ids_at(arr).tolist() == b.slot_ids_at(arr).tolist()
    dt = datetime.fromtimestamp(ts[0], UTC).replace(tzinfo=None)
    assert a.slot_at(dt) == b.slot_at(dt)


@functools.cache
def china_plans() -> list[Any]:
    plans_ = [b.TimePlan.build(OFFICE_NIGHTS) for b in (native, ref)]
    assert plans_[0].to_bytes() == plans_[1].to_bytes()
    return plans_


@settings(max_examples=100, deadline=None)
@given(
    day=st.dates(date(2004, 1, 1), date(2026, 12, 31)),
    minute=st.integers(0, 1439),
    extra=st.integers(0, 59),
)
def test_backends_agree_on_china_calendar(day: date, minute: int, extra: int) -> None:
    plans_ = china_plans()
    t = int(datetime.combine(day, datetime.min.time(), SH).timestamp()) + minute * 60 + extra
    assert plans_[0].slot_at(t) == plans_[1].slot_at(t)
    local = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    assert plans_[0].slot_at(local) == plans_[1].slot_at(local)
