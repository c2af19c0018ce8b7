"""Flows on random input: valid flows built from strategies validate; mutations fail cleanly."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.flow import FlowError, loads_flow, validate_flow
from tests.strategies import flows

SRC = "4001234567.yaml"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
