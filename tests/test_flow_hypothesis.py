"""Flows on random input: valid flows built from strategies validate; mutations fail cleanly."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.flow import FlowError, loads_flow, validate_flow

SRC = "4001234567.yaml"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AREAS = ["010", "021", "0755", "020", "北京", "广东", "上海"]


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid flow: menus lead anywhere; automatic edges only go down (no loops)."""
    n_dest = draw(st.integers(1, 8))
    suffixes = draw(
        st.lists(st.integers(0, 10**8 - 1), min_size=n_dest, max_size=n_dest, unique=True)
    )
    dests = {
        f"d{i}": {
            "number": f"139{s:08d}",
            "weight": draw(st.integers(0, 10)),
            "capacity": draw(st.integers(1, 3)),
            "agent_id": 801 + i,
        }
        for i, s in enumerate(suffixes)
    }
    names = list(dests)
    n_vm = draw(st.integers(0, 2))
    boxes = [f"vm{i}" for i in range(n_vm)]
    groups: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 4))):
        members = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        exits = st.sampled_from(["hangup", *boxes])
        groups[f"g{i}"] = {
            "members": members,
            "mode": draw(
                st.sampled_from(["sequential", "round_robin", "random", "weighted", "simultaneous"])
            ),
            "idle_first": draw(st.booleans()),
            "ring_timeout": draw(st.integers(5, 60)),
            "announce_agent_id": draw(st.booleans()),
            "on_busy": draw(exits),
            "on_no_answer": draw(exits),
        }
    gnames = list(groups)
    routes: dict[str, Any] = {}
    if draw(st.booleans()):
        areas = draw(st.lists(st.sampled_from(AREAS), min_size=1, unique=True))
        routes["by_area"] = {
            "by": "area",
            "areas": {a: draw(st.sampled_from(gnames)) for a in areas},
            "default": draw(st.sampled_from(gnames)),
        }
    if draw(st.booleans()):
        start_h = draw(st.integers(0, 22))
        end_h = draw(st.integers(start_h + 1, 23))
        routes["by_time"] = {
            "by": "time",
            "slots": {
                "day": {
                    "when": [f"mon-fri {start_h:02d}:00-{end_h:02d}:00"],
                    "to": draw(st.sampled_from(gnames)),
                }
            },
            "otherwise": draw(st.sampled_from(gnames)),
            "holidays": draw(st.sampled_from(["china", "none"])),
        }
    extensions = None
    if draw(st.booleans()):
        exts = draw(st.lists(st.integers(0, 999), min_size=1, max_size=20, unique=True))
        extensions = {
            "fixed_length": 3,
            "numbers": {
                f"{e:03d}": draw(
                    st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True)
                )
                for e in exts
            },
            "on_fail": draw(st.sampled_from(gnames)),
        }
    n_menus = draw(st.integers(1, 3))
    menu_names = [f"m{i}" for i in range(n_menus)]
    targets = [*gnames, *routes, *boxes, *menu_names, "hangup"]
    if extensions is not None:
        targets.append("extensions")
    menus: dict[str, Any] = {}
    for m in menu_names:
        keys = draw(
            st.lists(st.sampled_from(list("0123456789*#")), min_size=1, max_size=5, unique=True)
        )
        menus[m] = {
            "prompt": "menu",
            "keys": {k: draw(st.sampled_from(targets)) for k in keys},
            "timeout": draw(st.integers(1, 10)),
            "retries": draw(st.integers(0, 5)),
            "on_fail": draw(st.sampled_from(["hangup", *gnames])),
        }
    menus["m0"]["keys"]["1"] = "g0"  # g0 is always referenced
    flow: dict[str, Any] = {
        "number": "4001234567",
        "start": "m0",
        "prompts": {"menu": "menu.wav"},
        "recording": draw(st.booleans()),
        "survey": draw(st.booleans()),
        "call_memory": draw(st.booleans()),
        "blacklist": {"numbers": ["13800138000"], "prefixes": ["170"]},
        "destinations": dests,
        "groups": groups,
        "menus": menus,
        "routes": routes,
        "voicemail": {b: {"keep_waiting": draw(st.sampled_from(gnames))} for b in boxes},
    }
    if extensions is not None:
        flow["extensions"] = extensions
    return flow


def _fails_cleanly(data: Any) -> FlowError:
    try:
        validate_flow(data, source=SRC)
    except FlowError as exc:
        assert exc.errors
        return exc
    raise AssertionError("the mutated flow validated")


@SETTINGS
@given(flows())
def test_random_valid_flows_validate(data: dict[str, Any]) -> None:
    flow, _warnings = validate_flow(data, source=SRC)
    assert set(flow.groups) == set(data["groups"])
    # ...and read back the same from YAML-compatible JSON text
    again, _ = loads_flow(json.dumps(data, ensure_ascii=False), source=SRC)
    assert again == flow


@SETTINGS
@given(flows())
def test_deleting_a_referenced_group_fails(data: dict[str, Any]) -> None:
    del data["groups"]["g0"]
    exc = _fails_cleanly(data)
    assert any(e.message == "unknown target 'g0'" for e in exc.errors)


@SETTINGS
@given(flows().filter(lambda f: "extensions" in f))
def test_duplicating_an_extension_fails(data: dict[str, Any]) -> None:
    text = json.dumps(data, ensure_ascii=False)
    first = next(iter(data["extensions"]["numbers"]))
    head = '"numbers": {'
    text = text.replace(head, f'{head}"{first}": ["d0"], ', 1)
    for json_format in (False, True):
        try:
            loads_flow(text, source=SRC, json_format=json_format)
        except FlowError as exc:
            assert f"key '{first}' is given twice" in str(exc)
        else:
            raise AssertionError("duplicate extension accepted")


@SETTINGS
@given(flows(), st.sampled_from(["destinations", "per_extension", "extension_digits"]))
def test_exceeding_a_limit_fails(data: dict[str, Any], which: str) -> None:
    if which == "destinations":
        for i in range(101):
            data["destinations"][f"x{i}"] = {"number": f"137{i:08d}"}
        path = "destinations"
    elif which == "per_extension":
        data["extensions"] = {"numbers": {"1": [f"1370000000{i}" for i in range(6)]}}
        path = "extensions.numbers.1"
    else:
        data["extensions"] = {"numbers": {"1234567": ["d0"]}}
        path = "extensions.numbers.1234567"
    exc = _fails_cleanly(data)
    assert path in [e.path for e in exc.errors]


GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.dictionaries(st.integers(), st.text(max_size=3), max_size=2),
    st.just({"by": "time"}),
    st.just([{"a": None}]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(), st.data())
def test_garbage_anywhere_never_crashes(data: dict[str, Any], pick: st.DataObject) -> None:
    paths = _paths(data)
    where = pick.draw(st.sampled_from(paths))
    value = pick.draw(GARBAGE)
    mutated = copy.deepcopy(data)
    if not where:
        mutated = value
    else:
        parent = mutated
        for step in where[:-1]:
            parent = parent[step]
        parent[where[-1]] = value
    try:
        validate_flow(mutated, source=SRC)  # a garbage value may happen to be valid
    except FlowError as exc:
        assert exc.errors
        assert all(str(e).startswith(SRC) for e in exc.errors)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_never_crashes(text: str) -> None:
    for json_format in (False, True):
        try:
            loads_flow(text, source=SRC, json_format=json_format)
        except FlowError as exc:
            assert exc.errors
