"""The typed objects of a flow document (pydantic v2 models), one per section of the format,
each the settings of a feature (B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B12, B13, B14, V1, V3,
V4, F2).

These models check each value on its own (types, ranges, digits, phone numbers, names); the
rules that look across the document (references, cycles, limits, time-plan overlaps) live in
``routecore.flow.validate``. The format is described in ``docs/flow-format.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from routecore.rules import DEFAULT_TZ, is_flow_name

__all__ = [
    "MODES",
    "NODE_SECTIONS",
    "PROVINCES",
    "RESERVED_TARGETS",
    "AreaRoute",
    "Blacklist",
    "Conference",
    "Destination",
    "Extensions",
    "Flow",
    "Group",
    "Menu",
    "Route",
    "Sms",
    "TimeRoute",
    "TimeSlot",
    "Voicemail",
]

MODES = ("sequential", "round_robin", "random", "weighted", "simultaneous")
# The province names of the segment data (what ``routecore.classify(...).province`` gives).
PROVINCES = frozenset(
    "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 "
    "湖南 广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆".split()
)
# Targets every flow knows without declaring them ("extensions" only when it has extensions).
RESERVED_TARGETS = ("hangup", "extensions")
# Sections whose entries are named targets, in the order they are checked and reported.
NODE_SECTIONS = ("menus", "groups", "routes", "voicemail", "conferences")

NAME_PATTERN = r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\-\u4e00-\u9fff]{0,63}$"
KEY_PATTERN = r"^[0-9*#]$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
PROMPT_FILE_PATTERN = r"^[A-Za-z0-9_\-.\u4e00-\u9fff]{1,96}\.(wav|mp3)$"


def _int_to_text(value: Any) -> Any:
    """Numbers written without quotes (``13800138000``) are read as their digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return value


def _phone(value: str) -> str:
    from routecore.backend import get_backend  # at call time: the backend loads at first use

    caller = get_backend().classify(value)
    if caller.kind not in ("mobile", "landline"):
        raise PydanticCustomError(
            "phone_number",
            "'{number}' is not a mobile or landline number",
            {"number": value},
        )
    if caller.kind == "landline" and caller.area_code is None:
        raise PydanticCustomError(
            "phone_number",
            "landline '{number}' needs its area code",
            {"number": value},
        )
    return str(caller.number)


def _did(value: str) -> str:
    if (
        len(value) != 10
        or not value.isascii()
        or not value.isdigit()
        or value[:3]
        not in (
            "400",
            "800",
        )
    ):
        raise PydanticCustomError(
            "did",
            "'{number}' is not a 400 number (10 digits starting 400 or 800)",
            {"number": value},
        )
    return value


def _area(value: str) -> str:
    if value in PROVINCES:
        return value
    if value.isascii() and value.isdigit() and value.startswith("0") and 3 <= len(value) <= 4:
        from routecore.backend import get_backend

        if get_backend().classify(value + "23456789").area_code == value:
            return value
        raise PydanticCustomError("area", "unknown area code '{area}'", {"area": value})
    raise PydanticCustomError(
        "area",
        "'{area}' is neither an area code (010, 0755) nor a province (北京, 广东)",
        {"area": value},
    )


Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Target = Annotated[str, StringConstraints(min_length=1, max_length=64)]
PromptRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Digits = Annotated[str, BeforeValidator(_int_to_text), StringConstraints(pattern=r"^[0-9]{1,20}$")]
PhoneNumber = Annotated[
    str,
    BeforeValidator(_int_to_text),
    StringConstraints(max_length=64),
    AfterValidator(_phone),
]
Did = Annotated[str, BeforeValidator(_int_to_text), AfterValidator(_did)]
AreaKey = Annotated[str, AfterValidator(_area)]
MenuKey = Annotated[str, BeforeValidator(_int_to_text), StringConstraints(pattern=KEY_PATTERN)]
ExtensionNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]


def _extension_target(value: str) -> str:
    """A destination name stays as it is; a number written directly (``138-2222-3333``,
    ``+86 138…``) becomes the digits the engine dials (validation reports one that is not a
    mobile or a landline with its area code)."""
    if is_flow_name(value):
        return value
    from routecore.backend import get_backend  # at call time: the backend loads at first use

    caller = get_backend().classify(value)
    if caller.kind in ("mobile", "landline") and caller.area_code is not None:
        return str(caller.number)
    return value


ExtensionTarget = Annotated[
    str,
    BeforeValidator(_int_to_text),
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_extension_target),
]
Seconds = Annotated[int, Field(ge=1, le=600)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _date_rule(value: Any) -> str | dict[str, list[str]]:
    """A dated exception: a day's rules by name, or the day's own ranges per slot."""
    if isinstance(value, str):
        if value in _DAY_RULES:
            return value
        raise PydanticCustomError(
            "date_rule",
            "'{value}' is not a day (mon..sun, holiday, workday)",
            {"value": value},
        )
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(r, str) for r in v)
        for k, v in value.items()
    ):
        return {k: list(v) for k, v in value.items()}
    raise PydanticCustomError(
        "date_rule",
        "a date takes a day (mon..sun, holiday, workday) or a mapping of slot -> ranges",
    )


_DAY_RULES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday", "workday")
DateRule = Annotated[
    str | dict[str, list[str]],
    PlainValidator(_date_rule),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(_DAY_RULES)},
                {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            ]
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Destination(_Model):
    """B1, B9, B10: a real phone bound to the 400 number, and the agent behind it."""

    number: PhoneNumber = Field(description="Mobile or landline number (with area code).")
    agent_id: Annotated[int, Field(ge=801, le=899)] | None = Field(
        default=None, description="B10: the agent ID announced after connecting (801-899)."
    )
    agent_prompt: PromptRef | None = Field(
        default=None, description="B10: a custom recorded prompt announced instead of the ID."
    )
    capacity: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1, description="Calls this phone takes at once."
    )
    weight: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=1, description="Share of calls in a weighted group (0: last)."
    )


class Group(_Model):
    """B9, B10, V3, B5: destinations rung together under one distribution mode."""

    members: Annotated[list[Name], Field(min_length=1, max_length=100)] = Field(
        description="Destination names, in ring order."
    )
    mode: Literal["sequential", "round_robin", "random", "weighted", "simultaneous"] = "sequential"
    idle_first: bool = Field(default=False, description="B9: ring idle destinations first.")
    ring_timeout: Annotated[int, Field(ge=5, le=300)] = Field(
        default=20, description="Seconds each attempt rings."
    )
    announce_agent_id: bool = Field(default=False, description="B10: announce the agent.")
    call_memory: bool | None = Field(
        default=None, description="V3 for this group; unset: the flow's call_memory."
    )
    on_busy: Target = Field(default="hangup", description="Where to go when all are busy.")
    on_no_answer: Target = Field(default="hangup", description="Where to go when none answers.")


class Menu(_Model):
    """B14: play a prompt, read one key, go where the key says."""

    prompt: PromptRef
    keys: Annotated[dict[MenuKey, Target], Field(min_length=1)] = Field(
        description="Key (0-9, *, #) -> target."
    )
    timeout: Annotated[int, Field(ge=1, le=60)] = Field(
        default=5, description="Seconds to wait for a key."
    )
    retries: Annotated[int, Field(ge=0, le=9)] = Field(
        default=3, description="Replays after no key or an invalid key."
    )
    invalid_prompt: PromptRef | None = Field(
        default=None, description="Played after an invalid key; unset: the system prompt."
    )
    on_fail: Target = Field(
        default="hangup", description="Where to go when the retries are used up."
    )


class AreaRoute(_Model):
    """B6: route by the caller's area code or province."""

    by: Literal["area"]
    areas: Annotated[dict[AreaKey, Target], Field(min_length=1)] = Field(
        description="Area code (010, 0755) or province (北京) -> target; a code beats a province."
    )
    default: Target = Field(default="hangup", description="Callers of any other area.")


class TimeSlot(_Model):
    """One named slot of a time plan and where its calls go."""

    when: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(min_length=1)]
    to: Target


class TimeRoute(_Model):
    """B7: route by the time of the call (weekly slots, holidays, dated exceptions)."""

    by: Literal["time"]
    slots: Annotated[dict[Name, TimeSlot], Field(min_length=1)]
    otherwise: Target | None = Field(
        default=None, description="Minutes no slot covers; unset: the slots must cover all."
    )
    holidays: Literal["china", "none"] = Field(
        default="china", description="Calendar of public holidays and make-up working days."
    )
    workday_as: Day = Field(default="mon", description="Rules a make-up working day follows.")
    dates: dict[Annotated[str, StringConstraints(pattern=DATE_PATTERN)], DateRule] = Field(
        default_factory=dict, description="Single days: a day's rules, or own ranges."
    )


Route = Annotated[AreaRoute | TimeRoute, Field(discriminator="by")]


class Voicemail(_Model):
    """B5: a voicemail box; with ``keep_waiting`` the caller may choose to keep waiting."""

    prompt: PromptRef | None = None
    keep_waiting: Target | None = Field(
        default=None,
        description="Offer 'leave a message or keep waiting'; keeping waiting goes here.",
    )
    max_seconds: Annotated[int, Field(ge=10, le=600)] = 120


class Conference(_Model):
    """V4: a conference room the caller joins with its password."""

    password: Annotated[
        str, BeforeValidator(_int_to_text), StringConstraints(pattern=r"^[0-9]{4,8}$")
    ]
    room: Annotated[
        str,
        BeforeValidator(_int_to_text),
        StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_-]{0,31}$"),  # never a leading -
    ]
    max_parties: Annotated[int, Field(ge=2, le=50)] = 3
    prompt: PromptRef | None = None
    retries: Annotated[int, Field(ge=0, le=9)] = 3
    on_fail: Target = "hangup"


class Extensions(_Model):
    """V1: the virtual PBX ("please enter the extension"), the target named ``extensions``."""

    numbers: dict[ExtensionNumber, list[ExtensionTarget]] = Field(
        description="Extension -> up to 5 destinations (names or numbers), rung in order."
    )
    fixed_length: Annotated[int, Field(ge=1, le=6)] | None = Field(
        default=None, description="Every extension has this many digits; no # needed."
    )
    prompt: PromptRef | None = Field(
        default=None, description="A custom prompt, file pv_inputext.wav; unset: the system's."
    )
    invalid_prompt: PromptRef | None = Field(
        default=None,
        description="Played when the extension does not exist; unset: the system's.",
    )
    second_transfer: bool = Field(default=True, description="Dial another extension after.")
    ring_timeout: Annotated[int, Field(ge=5, le=300)] = 20
    timeout: Annotated[int, Field(ge=1, le=60)] = 5
    retries: Annotated[int, Field(ge=0, le=9)] = 3
    on_fail: Target = "hangup"


class Blacklist(_Model):
    """B13: callers that may not call in."""

    numbers: list[Digits] = Field(default_factory=list, description="Exact numbers.")
    prefixes: list[Digits] = Field(default_factory=list, description="Number prefixes.")


class Sms(_Model):
    """B2: the hang-up SMS sent to mobile callers, once approved."""

    text: Text
    signature: Annotated[str, StringConstraints(min_length=2, max_length=20)]
    approval: Literal["draft", "pending", "approved", "rejected"] = "pending"


class Flow(_Model):
    """The whole flow of one 400 number."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="routecore flow",
        json_schema_extra={"$id": "https://routecore.invalid/flow.schema.json"},
    )

    number: Did = Field(description="The 400 number (10 digits starting 400 or 800).")
    name: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Enterprise name."
    )
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = DEFAULT_TZ
    start: Target = Field(description="Where every call goes after the greeting.")
    greeting: PromptRef | None = Field(default=None, description="B4: welcome prompt.")
    prompts: dict[Name, Annotated[str, StringConstraints(pattern=PROMPT_FILE_PATTERN)]] = Field(
        default_factory=dict, description="F2: prompt name -> uploaded file."
    )
    system_prompt_on_transfer: bool = Field(
        default=True, description="F2: play the system prompt when transferring."
    )
    recording: bool = Field(default=False, description="B8: record connected calls.")
    survey: bool = Field(default=False, description="B12: satisfaction survey after the call.")
    call_memory: bool = Field(default=False, description="V3: last answering agent first.")
    blacklist: Blacklist = Field(default_factory=Blacklist)
    sms: Sms | None = None
    destinations: dict[Name, Destination] = Field(default_factory=dict)
    groups: dict[Name, Group] = Field(default_factory=dict)
    menus: dict[Name, Menu] = Field(default_factory=dict)
    routes: dict[Name, Route] = Field(default_factory=dict)
    voicemail: dict[Name, Voicemail] = Field(default_factory=dict)
    conferences: dict[Name, Conference] = Field(default_factory=dict)
    extensions: Extensions | None = None
