"""Flows: the format, its validation rules (exact path and message each), examples, schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import routecore
from routecore.errors import RoutecoreError
from routecore.flow import Flow, FlowError, FlowIssue, json_schema, load_flow, validate_flow
from routecore.flow.loader import parse_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SRC = "4001234567.yaml"


def base() -> dict[str, Any]:
    """A small valid flow: a menu, a group of two, a voicemail box."""
    return {
        "number": "4001234567",
        "start": "main",
        "prompts": {"menu": "menu.wav"},
        "destinations": {"a": {"number": "13800138000"}, "b": {"number": "13800138001"}},
        "groups": {"sales": {"members": ["a", "b"], "on_no_answer": "box"}},
        "voicemail": {"box": {"keep_waiting": "sales"}},
        "menus": {"main": {"prompt": "menu", "keys": {"1": "sales"}}},
    }


def issues(data: Any, source: str = SRC) -> list[str]:
    """Every error of an invalid flow, as its str()."""
    with pytest.raises(FlowError) as info:
        validate_flow(data, source=source)
    return [str(i) for i in info.value.errors]


def warnings(data: Any) -> list[str]:
    return [str(w) for w in validate_flow(data, source=SRC)[1]]


# -- examples, API, schema ----------------------------------------------------------------------
def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_cleanly(path: Path) -> None:
    flow = load_flow(path)
    assert isinstance(flow, Flow)
    assert path.stem == flow.number
    data, problems = parse_text(path.read_text(encoding="utf-8"), source=path.name)
    assert problems == []
    assert validate_flow(data, source=path.name)[1] == []  # no warnings either
    # The typed object is what the model alone gives from the same document.
    assert Flow.model_validate(data) == flow


def test_public_names() -> None:
    assert routecore.load_flow is load_flow
    assert routecore.FlowError is FlowError
    assert {"load_flow", "FlowError"} <= set(routecore.__all__)
    assert issubclass(FlowError, RoutecoreError)
    assert issubclass(FlowError, ValueError)


def test_valid_base() -> None:
    flow, warns = validate_flow(base(), source=SRC)
    assert warns == []
    assert flow.groups["sales"].members == ["a", "b"]
    assert flow.groups["sales"].mode == "sequential"
    assert flow.menus["main"].keys == {"1": "sales"}


def test_schema_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "docs/flow.schema.json is stale: run make flow-schema"


def test_issue_str() -> None:
    issue = FlowIssue("4008001234.yaml", "menus.main.keys.9", "unknown target 'sales2'")
    assert str(issue) == "4008001234.yaml: menus.main.keys.9: unknown target 'sales2'"
    warn = FlowIssue("x.yaml", "groups.g", "unreachable", "warning")
    assert str(warn) == "x.yaml: groups.g: warning: unreachable"
    assert str(FlowIssue("x.yaml", "", "bad")) == "x.yaml: bad"


def test_error_message_lists_every_error() -> None:
    data = base()
    data["menus"]["main"]["keys"]["9"] = "sales2"
    with pytest.raises(FlowError) as info:
        validate_flow(data, source="4001234567.yaml")
    assert str(info.value) == (
        "1 error in flow\n4001234567.yaml: menus.main.keys.9: unknown target 'sales2'"
    )


# -- every error at once --------------------------------------------------------------------------
def test_three_problems_three_issues() -> None:
    data = base()
    data["menus"]["main"]["keys"]["2"] = "support"  # unknown target
    data["destinations"]["b"]["number"] = "4008001234"  # not a phone
    data["groups"]["sales"]["ring_timeout"] = "long"  # wrong type
    assert issues(data) == [
        "4001234567.yaml: destinations.b.number: '4008001234' is not a mobile or landline number",
        "4001234567.yaml: groups.sales.ring_timeout: input should be a valid integer",
        "4001234567.yaml: menus.main.keys.2: unknown target 'support'",
    ]


def test_broken_entry_still_declares_its_name() -> None:
    data = base()
    data["groups"]["sales"]["mode"] = "loudest"
    assert issues(data) == [
        "4001234567.yaml: groups.sales.mode: input should be 'sequential', 'round_robin', "
        "'random', 'weighted' or 'simultaneous'"
    ]  # and no "unknown target 'sales'" from the menu


# -- references -----------------------------------------------------------------------------------
def test_unknown_target() -> None:
    data = base()
    data["menus"]["main"]["keys"]["9"] = "sales2"
    assert issues(data) == ["4001234567.yaml: menus.main.keys.9: unknown target 'sales2'"]


def test_unknown_start_and_extensions_target() -> None:
    data = base()
    data["start"] = "nowhere"
    data["menus"]["main"]["keys"]["0"] = "extensions"
    assert issues(data) == [
        "4001234567.yaml: start: unknown target 'nowhere'",
        "4001234567.yaml: menus.main.keys.0: unknown target 'extensions' "
        "(the flow has no extensions)",
    ]


def test_unknown_destination_and_duplicate_member() -> None:
    data = base()
    data["groups"]["sales"]["members"] = ["a", "c", "a"]
    assert issues(data) == [
        "4001234567.yaml: groups.sales.members.1: unknown destination 'c'",
        "4001234567.yaml: groups.sales.members.2: destination 'a' is listed twice",
    ]


def test_unknown_prompt() -> None:
    data = base()
    data["greeting"] = "hello"
    data["menus"]["main"]["invalid_prompt"] = "oops"
    assert issues(data) == [
        "4001234567.yaml: greeting: unknown prompt 'hello'",
        "4001234567.yaml: menus.main.invalid_prompt: unknown prompt 'oops'",
    ]


def test_names_share_one_namespace() -> None:
    data = base()
    data["menus"]["sales"] = {"prompt": "menu", "keys": {"1": "main"}}
    data["conferences"] = {"hangup": {"password": "1234", "room": "1"}}
    assert issues(data) == [
        "4001234567.yaml: groups.sales: name 'sales' is already used by menus.sales "
        "(menus, groups, routes, voicemail and conferences share one namespace)",
        "4001234567.yaml: conferences.hangup: 'hangup' is a reserved target name",
    ]


def test_bad_name() -> None:
    data = base()
    data["destinations"]["9a"] = {"number": "13800138002"}
    assert issues(data) == [
        "4001234567.yaml: destinations.9a: bad name '9a': a letter or _ first, "
        "then letters, digits, _ or -"
    ]


# -- cycles and reachability ----------------------------------------------------------------------
def test_route_to_route_cycle() -> None:
    data = base()
    data["start"] = "r1"
    data["routes"] = {
        "r1": {"by": "area", "areas": {"010": "r2"}, "default": "main"},
        "r2": {"by": "area", "areas": {"广东": "r1"}, "default": "sales"},
    }
    assert issues(data) == [
        "4001234567.yaml: routes.r2.areas.广东: a caller who presses no key loops forever: "
        "routes.r1 -> routes.r2 -> routes.r1"
    ]


def test_group_time_area_chain_cycle() -> None:
    data = base()
    data["groups"]["sales"]["on_no_answer"] = "hours"
    data["routes"] = {
        "hours": {
            "by": "time",
            "slots": {"day": {"when": ["daily 08:00-20:00"], "to": "areas"}},
            "otherwise": "box",
        },
        "areas": {"by": "area", "areas": {"021": "sales"}},
    }
    assert issues(data) == [
        "4001234567.yaml: routes.areas.areas.021: a caller who presses no key loops forever: "
        "groups.sales -> routes.hours -> routes.areas -> groups.sales"
    ]


def test_menu_that_only_fails_back_to_itself() -> None:
    data = base()
    data["menus"]["main"]["on_fail"] = "main"
    assert issues(data) == [
        "4001234567.yaml: menus.main.on_fail: a caller who presses no key loops forever: "
        "menus.main -> menus.main"
    ]


def test_caller_chosen_cycles_are_fine() -> None:
    data = base()
    data["menus"]["main"]["keys"]["9"] = "main"  # replay
    data["menus"]["sub"] = {"prompt": "menu", "keys": {"*": "main"}}
    data["menus"]["main"]["keys"]["2"] = "sub"
    # group -> voicemail box -> (keep waiting) group is the caller's choice
    assert warnings(data) == []


def test_unreachable_is_a_warning() -> None:
    data = base()
    data["groups"]["lonely"] = {"members": ["a"]}
    data["destinations"]["c"] = {"number": "13800138002"}
    data["prompts"]["unused"] = "unused.wav"
    assert warnings(data) == [
        "4001234567.yaml: prompts.unused: warning: prompt 'unused' is never used",
        "4001234567.yaml: groups.lonely: warning: unreachable: no path from start leads to "
        "'lonely'",
        "4001234567.yaml: destinations.c: warning: destination 'c' is in no reachable group "
        "or extension",
    ]


def test_warnings_travel_with_errors() -> None:
    data = base()
    data["groups"]["lonely"] = {"members": ["a"]}
    data["menus"]["main"]["keys"]["2"] = "nope"
    with pytest.raises(FlowError) as info:
        validate_flow(data, source=SRC)
    assert [i.path for i in info.value.errors] == ["menus.main.keys.2"]
    assert [w.path for w in info.value.warnings] == ["groups.lonely"]
    assert all(w.severity == "warning" for w in info.value.warnings)


# -- numbers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4008001234", "'4008001234' is not a mobile or landline number"),
        ("12345", "'12345' is not a mobile or landline number"),
        ("23456789", "landline '23456789' needs its area code"),
        ("", "'' is not a mobile or landline number"),
    ],
)
def test_destination_must_be_a_phone(number: str, message: str) -> None:
    data = base()
    data["destinations"]["a"]["number"] = number
    assert issues(data) == [f"4001234567.yaml: destinations.a.number: {message}"]


def test_destination_numbers_are_normalised_and_unique() -> None:
    data = base()
    data["destinations"]["b"]["number"] = "+86 138-0013-8000"
    assert issues(data) == [
        "4001234567.yaml: destinations.b.number: number '13800138000' is already destinations.a"
    ]
    data["destinations"]["b"]["number"] = 13800138009  # unquoted in YAML: an int
    assert validate_flow(data, source=SRC)[0].destinations["b"].number == "13800138009"


def test_blacklist_digits_only() -> None:
    data = base()
    data["blacklist"] = {"numbers": ["13800138000", "138-0013"], "prefixes": ["170", "abc"]}
    assert issues(data) == [
        "4001234567.yaml: blacklist.numbers.1: string should match pattern '^[0-9]{1,20}$'",
        "4001234567.yaml: blacklist.prefixes.1: string should match pattern '^[0-9]{1,20}$'",
    ]


@pytest.mark.parametrize(
    ("number", "source", "expected"),
    [
        (
            "4001234567",
            "flows/4001234568.yaml",
            "flows/4001234568.yaml: number: number '4001234567' does not match the file name "
            "'4001234568.yaml'",
        ),
        (
            "5001234567",
            "5001234567.yaml",
            "5001234567.yaml: number: '5001234567' is not a 400 number "
            "(10 digits starting 400 or 800)",
        ),
        (
            "40012345678",
            "x.json",
            "x.json: number: '40012345678' is not a 400 number (10 digits starting 400 or 800)",
        ),
    ],
)
def test_the_400_number(number: str, source: str, expected: str) -> None:
    data = base()
    data["number"] = number
    assert issues(data, source) == [expected]


def test_800_number_and_unnamed_source() -> None:
    data = base()
    data["number"] = "8001234567"
    assert validate_flow(data, source="<editor>")[0].number == "8001234567"


def test_agent_ids() -> None:
    data = base()
    data["destinations"]["a"]["agent_id"] = 801
    data["destinations"]["b"]["agent_id"] = 801
    data["groups"]["sales"]["announce_agent_id"] = True
    data["destinations"]["c"] = {"number": "13800138002", "agent_id": 900}
    data["groups"]["sales"]["members"].append("c")
    assert issues(data) == [
        "4001234567.yaml: destinations.c.agent_id: input should be less than or equal to 899",
        "4001234567.yaml: destinations.b.agent_id: agent ID 801 is already destinations.a",
    ]
    del data["destinations"]["c"]["agent_id"]
    del data["destinations"]["b"]["agent_id"]
    assert issues(data) == [
        "4001234567.yaml: groups.sales.members.1: announce_agent_id: destination 'b' has "
        "neither agent_id nor agent_prompt",
        "4001234567.yaml: groups.sales.members.2: announce_agent_id: destination 'c' has "
        "neither agent_id nor agent_prompt",
    ]


# -- limits ---------------------------------------------------------------------------------------
def test_at_most_100_destinations() -> None:
    data = base()
    data["destinations"] = {f"d{i}": {"number": f"139{i:08d}"} for i in range(101)}
    data["groups"]["sales"]["members"] = list(data["destinations"])[:100]
    assert issues(data) == [
        "4001234567.yaml: destinations: at most 100 destinations per 400 number, found 101"
    ]


def _with_extensions(numbers: dict[str, Any], **more: Any) -> dict[str, Any]:
    data = base()
    data["extensions"] = {"numbers": numbers, **more}
    data["menus"]["main"]["keys"]["0"] = "extensions"
    return data


def test_extension_limits() -> None:
    data = _with_extensions(
        {
            "1234567": ["a"],
            "12": ["a", "b", "13800138002", "13800138003", "13800138004", "13800138005"],
            "13": [],
            "x1": ["a"],
        }
    )
    assert issues(data) == [
        "4001234567.yaml: extensions.numbers.1234567: string should match pattern '^[0-9]{1,6}$'",
        "4001234567.yaml: extensions.numbers.x1: string should match pattern '^[0-9]{1,6}$'",
        "4001234567.yaml: extensions.numbers.12: at most 5 destinations per extension, found 6",
        "4001234567.yaml: extensions.numbers.13: an extension needs at least one destination",
    ]


def test_at_most_5000_extensions() -> None:
    data = _with_extensions({f"{i:04d}": ["a"] for i in range(5001)}, fixed_length=4)
    assert issues(data) == [
        "4001234567.yaml: extensions.numbers: at most 5000 extensions per 400 number, found 5001"
    ]


def test_extension_fixed_length_and_destinations() -> None:
    data = _with_extensions(
        {"801": ["a"], "80": ["b"], "802": ["zed", "4008001234", "a", "13800138000"]},
        fixed_length=3,
    )
    assert issues(data) == [
        "4001234567.yaml: extensions.numbers.80: extension '80' has 2 digits, the fixed "
        "length is 3",
        "4001234567.yaml: extensions.numbers.802.0: unknown destination 'zed'",
        "4001234567.yaml: extensions.numbers.802.1: '4008001234' is neither a destination name "
        "nor a mobile or landline number with its area code",
        "4001234567.yaml: extensions.numbers.802.3: destination '13800138000' is listed twice",
    ]


def test_extension_prompt_file() -> None:
    data = _with_extensions({"1": ["a"]}, prompt="ext")
    data["prompts"]["ext"] = "enter.wav"
    assert issues(data) == [
        "4001234567.yaml: extensions.prompt: the extension prompt is the file "
        "'pv_inputext.wav', not 'enter.wav'"
    ]
    data["prompts"]["ext"] = "pv_inputext.wav"
    assert warnings(data) == []


# -- time plans and areas -------------------------------------------------------------------------
def _with_hours(route: dict[str, Any]) -> dict[str, Any]:
    data = base()
    data["start"] = "hours"
    data["routes"] = {"hours": {"by": "time", **route}}
    return data


def test_overlapping_time_slots() -> None:
    data = _with_hours(
        {
            "slots": {
                "office": {"when": ["mon-fri 09:00-18:00"], "to": "sales"},
                "lunch": {"when": ["mon 12:00-13:00"], "to": "box"},
            },
            "otherwise": "main",
        }
    )
    assert issues(data) == [
        "4001234567.yaml: routes.hours.slots: time slots overlap on mon 12:00-13:00: "
        "'office', 'lunch'"
    ]


def test_time_gaps_and_bad_rules() -> None:
    data = _with_hours(
        {
            "slots": {
                "office": {"when": ["mon-sun 00:00-24:00", "fri 25:00-26:00"], "to": "sales"}
            },
            "dates": {"2026-12-31": {"night": ["00:00-01:00"]}},
        }
    )
    assert issues(data) == [
        "4001234567.yaml: routes.hours.slots.office.when.1: rule 'fri 25:00-26:00': "
        "bad time '25:00'",
        "4001234567.yaml: routes.hours.slots.office.when.1: rule 'fri 25:00-26:00': "
        "bad time '26:00'",
        "4001234567.yaml: routes.hours.dates.2026-12-31: date 2026-12-31: unknown slot 'night'",
        "4001234567.yaml: routes.hours.slots: no slot covers 2026-12-31 00:00-24:00; cover it, "
        "or give 'otherwise' a target",
    ]
    data = _with_hours({"slots": {"office": {"when": ["sat-sun 09:00-18:00"], "to": "sales"}}})
    got = issues(data)
    assert got[0] == (
        "4001234567.yaml: routes.hours.slots: no slot covers mon,tue,wed,thu,fri "
        "00:00-24:00; cover it, or give 'otherwise' a target"
    )


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus", "posix/Asia/Shanghai", "right/UTC", "localtime", "../../etc/passwd"]
)
def test_timezone(tz: str) -> None:
    # zones Python's zoneinfo accepts but the compiled core does not are refused too: a flow that
    # validates never makes the state or a time plan raise mid-call
    data = base()
    data["timezone"] = tz
    assert issues(data) == [
        f"4001234567.yaml: timezone: unknown time zone '{tz}' (an IANA zone such as Asia/Shanghai)"
    ]


def test_areas() -> None:
    data = base()
    data["start"] = "areas"
    data["routes"] = {
        "areas": {"by": "area", "areas": {"010": "sales", "0001": "sales", "火星": "sales"}}
    }
    assert issues(data) == [
        "4001234567.yaml: routes.areas.areas.0001: unknown area code '0001'",
        "4001234567.yaml: routes.areas.areas.火星: '火星' is neither an area code (010, 0755) "
        "nor a province (北京, 广东)",
    ]
    data["routes"]["areas"]["by"] = "weather"
    assert issues(data) == [
        "4001234567.yaml: routes.areas: input tag 'weather' found using 'by' does not match "
        "any of the expected tags: 'area', 'time'"
    ]


# -- structure ------------------------------------------------------------------------------------
def test_unknown_and_missing_fields() -> None:
    data = base()
    data["colour"] = "blue"
    del data["start"]
    data["menus"]["main"]["timeout_s"] = 3
    del data["menus"]["main"]["prompt"]
    assert issues(data) == [
        "4001234567.yaml: menus.main.prompt: required field 'prompt' is missing",
        "4001234567.yaml: menus.main.timeout_s: unknown field 'timeout_s'",
        "4001234567.yaml: start: required field 'start' is missing",
        "4001234567.yaml: colour: unknown field 'colour'",
    ]


@pytest.mark.parametrize("value", [None, [], "flow", 3])
def test_not_a_mapping(value: Any) -> None:
    assert issues(value) == [
        f"4001234567.yaml: a flow is a mapping of sections, not {type(value).__name__}"
    ]


def test_section_not_a_mapping() -> None:
    data = base()
    data["groups"] = ["sales"]
    assert issues(data)[0] == "4001234567.yaml: groups: must be a mapping of names to groups"


# -- reading files --------------------------------------------------------------------------------
def test_yaml_keys_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "4001234567.yaml"
    path.write_text(
        """
number: 4001234567
start: main
prompts: {menu: menu.wav}
destinations:
  a: {number: 075523456789}
  b: {number: 01065529999}
groups: {sales: {members: [a, b]}}
menus:
  main:
    prompt: menu
    keys: {1: sales, 0: sales}
""",
        encoding="utf-8",
    )
    flow = load_flow(path)
    assert flow.destinations["b"].number == "01065529999"  # not octal
    assert set(flow.menus["main"].keys) == {"1", "0"}


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "4001234567.yaml"
    path.write_text(
        "number: '4001234567'\nstart: hangup\nextensions:\n  numbers:\n"
        "    '801': ['13800138000']\n    '801': ['13800138001']\n",
        encoding="utf-8",
    )
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert [str(e) for e in info.value.errors] == [
        f"{path}: extensions.numbers.801: key '801' is given twice (line 6)"
    ]


def test_json_accepted_and_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "4001234567.json"
    path.write_text(json.dumps(base()), encoding="utf-8")
    assert load_flow(path).number == "4001234567"
    path.write_text('{"number": "4001234567", "start": "hangup", "start": "x"}', "utf-8")
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert [str(e) for e in info.value.errors] == [f"{path}: start: key 'start' is given twice"]


def test_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "4001234567.yaml"
    bad.write_text("number: [\n", encoding="utf-8")
    with pytest.raises(FlowError) as info:
        load_flow(bad)
    assert info.value.errors[0].message.startswith("not valid YAML: ")
    bad.write_text("a: 1\n---\nb: 2\n", encoding="utf-8")
    with pytest.raises(FlowError, match="one YAML document, found 2"):
        load_flow(bad)
    bad.write_text("a: !!python/object:os.system ls\n", encoding="utf-8")
    with pytest.raises(FlowError, match="unsupported YAML tag"):
        load_flow(bad)
    with pytest.raises(FlowError, match="cannot read the file"):
        load_flow(tmp_path / "missing.yaml")
    js = tmp_path / "4001234567.json"
    js.write_text("{", encoding="utf-8")
    with pytest.raises(FlowError, match="not valid JSON"):
        load_flow(js)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    path = tmp_path / "4001234567.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FlowError, match="too many values"):
        load_flow(path)


def test_validation_does_not_change_its_input() -> None:
    data = base()
    before = copy.deepcopy(data)
    validate_flow(data, source=SRC)
    assert data == before


def test_dated_exceptions() -> None:
    slots = {"x": {"when": ["daily 00:00-24:00"], "to": "sales"}}
    data = _with_hours({"slots": slots, "dates": {"2026-01-01": "someday", "2026-01-02": 5}})
    assert issues(data) == [
        "4001234567.yaml: routes.hours.dates.2026-01-01: 'someday' is not a day "
        "(mon..sun, holiday, workday)",
        "4001234567.yaml: routes.hours.dates.2026-01-02: a date takes a day (mon..sun, "
        "holiday, workday) or a mapping of slot -> ranges",
    ]
    data = _with_hours({"slots": slots, "dates": {"2026-02-30": "mon", "2026-10-01": "workday"}})
    assert issues(data) == [
        "4001234567.yaml: routes.hours.dates.2026-02-30: bad date '2026-02-30': expected YYYY-MM-DD"
    ]


def test_keys_that_are_not_text() -> None:
    data: dict[Any, Any] = base()
    data[5] = 3
    data["groups"][7] = {"members": ["a"]}
    data["menus"]["main"]["keys"] = {1: "sales"}  # a digit key may be an int
    assert issues(data) == [
        "4001234567.yaml: groups.7: bad name '7': a letter or _ first, then letters, digits, "
        "_ or -",
        "4001234567.yaml: 5: unknown field '5'",
    ]


def test_documented_example_validates() -> None:
    text = (ROOT / "docs" / "flow-format.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    data, problems = parse_text(block, source="4008001234.yaml")
    assert problems == []
    flow, warns = validate_flow(data, source="4008001234.yaml")
    assert warns == []
    assert flow.extensions is not None and flow.extensions.fixed_length == 3
