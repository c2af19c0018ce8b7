"""Settings as flow changes: the destinations, area and time routes, the blacklist, a menu's
keys, a conference's password, the greeting and menu prompts, a group's ring mode, the
extensions, each applied to the number's latest flow and saved as a new draft, validated as
``routecore validate`` does (B1, B4, B6, B7, B9, B13, B14, B15, V1, V4).

A change edits the flow document (YAML) as data and writes it back; comments of a hand-written
flow are not kept (the YAML editor keeps them). Every function raises :class:`EditError` naming
the field a value does not fit; the flow's own rules are checked afterwards by validation.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from routecore.flow.validate import MAX_EXTENSIONS

MODES = ("sequential", "round_robin", "random", "weighted", "simultaneous")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class EditError(ValueError):
    """A value that does not fit its field: ``field`` names it, ``line`` the line of a list."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def load(content: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as e:
        raise EditError("content", f"the flow is not YAML: {e}") from None
    if not isinstance(data, dict):
        raise EditError("content", "the flow is not a mapping")
    return data


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _digits_list(text: str, field: str) -> list[str]:
    out = []
    for item in re.split(r"[\s,，;；]+", text.strip()):
        if not item:
            continue
        if not _DIGITS.match(item):
            raise EditError(field, f"{item!r} is not 1-20 digits")
        if item not in out:
            out.append(item)
    return out


def set_blacklist(data: dict[str, Any], numbers: str, prefixes: str) -> None:
    """B13: the exact numbers and the prefixes refused (spaces, commas or new lines between)."""
    listed = {
        "numbers": _digits_list(numbers, "numbers"),
        "prefixes": _digits_list(prefixes, "prefixes"),
    }
    if listed["numbers"] or listed["prefixes"]:
        data["blacklist"] = listed
    else:
        data.pop("blacklist", None)


def _menu(data: dict[str, Any], menu: str) -> dict[str, Any]:
    menus = data.get("menus")
    if not isinstance(menus, dict) or not isinstance(menus.get(menu), dict):
        raise EditError("menu", f"no menu named {menu!r}")
    return menus[menu]  # type: ignore[no-any-return]


def set_menu_keys(data: dict[str, Any], menu: str, keys: dict[str, str]) -> None:
    """B14: the keys of ``menu`` (key -> target; an empty target removes the key)."""
    found = _menu(data, menu)
    out: dict[str, str] = {}
    for key, target in keys.items():
        if not re.fullmatch(r"[0-9*#]", key):
            raise EditError(f"key_{key}", f"{key!r} is not a key (0-9, * or #)")
        target = target.strip()
        if target:
            if not _NAME.match(target):
                raise EditError(f"key_{key}", f"{target!r} is not a name in the flow")
            out[key] = target
    found["keys"] = out


def set_prompt(data: dict[str, Any], where: str, prompt: str) -> None:
    """B4/B14: the greeting (``where="greeting"``) or a menu's prompt, one of the flow's prompt
    names."""
    prompts = data.get("prompts") or {}
    if prompt not in prompts:
        raise EditError("prompt", f"{prompt!r} is not one of the flow's prompts")
    if where == "greeting":
        data["greeting"] = prompt
    else:
        _menu(data, where)["prompt"] = prompt


def add_prompt_file(data: dict[str, Any], name: str, file: str) -> None:
    """F2: name an approved prompt file in the flow, so a greeting or menu may play it."""
    if not _NAME.match(name):
        raise EditError("name", f"{name!r} is not a name (letters, digits, _ and -)")
    data.setdefault("prompts", {})[name] = file


def set_conference_password(data: dict[str, Any], room: str, password: str) -> None:
    """V4: a conference's password (digits; empty: none)."""
    rooms = data.get("conferences")
    if not isinstance(rooms, dict) or not isinstance(rooms.get(room), dict):
        raise EditError("room", f"no conference named {room!r}")
    if password and not re.fullmatch(r"[0-9]{1,16}", password):
        raise EditError("password", "a conference password is 1-16 digits")
    if password:
        rooms[room]["password"] = password
    else:
        rooms[room].pop("password", None)


def set_ring_mode(
    data: dict[str, Any], group: str, mode: str, idle_first: bool, ring_timeout: int
) -> None:
    """B9: a group's ring mode, whether idle members go first, how long each attempt rings."""
    groups = data.get("groups")
    if not isinstance(groups, dict) or not isinstance(groups.get(group), dict):
        raise EditError("group", f"no group named {group!r}")
    if mode not in MODES:
        raise EditError("mode", f"{mode!r} is not a ring mode ({', '.join(MODES)})")
    if not 5 <= ring_timeout <= 120:
        raise EditError("ring_timeout", "a ring timeout is 5 to 120 seconds")
    groups[group].update(mode=mode, idle_first=idle_first, ring_timeout=ring_timeout)


def extensions_text(data: dict[str, Any]) -> str:
    numbers = (data.get("extensions") or {}).get("numbers") or {}
    return "\n".join(
        f"{ext}: {', '.join(str(t) for t in targets)}" for ext, targets in numbers.items()
    )


def set_extensions(data: dict[str, Any], text: str) -> None:
    """V1: one extension a line, ``801: liu, 13822223333`` (1-6 digits, the flow's fixed
    length when it has one, at most 5 destinations rung in order, at most 5,000 lines)."""
    ext = data.get("extensions")
    if not isinstance(ext, dict):
        raise EditError("extensions", "the flow has no extensions section to edit")
    fixed = ext.get("fixed_length")
    numbers: dict[str, list[str]] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_EXTENSIONS:
        raise EditError("extensions", f"at most {MAX_EXTENSIONS} extensions, not {len(lines)}")
    for n, line in enumerate(lines, 1):
        number, sep, rest = line.partition(":")
        number = number.strip()
        targets = [t.strip() for t in re.split(r"[,，]", rest) if t.strip()]
        if not sep or not re.fullmatch(r"[0-9]{1,6}", number):
            raise EditError("extensions", f"line {n}: '801: name, number' expected, not {line!r}")
        if fixed and len(number) != fixed:
            raise EditError("extensions", f"line {n}: {number} is not {fixed} digits long")
        if not 1 <= len(targets) <= 5:
            raise EditError("extensions", f"line {n}: 1 to 5 destinations, not {len(targets)}")
        if number in numbers:
            raise EditError("extensions", f"line {n}: extension {number} twice")
        numbers[number] = targets
    ext["numbers"] = numbers


_DEST_KEYS = {
    "agent": "agent_id",
    "prompt": "agent_prompt",
    "capacity": "capacity",
    "weight": "weight",
}


def destinations_text(data: dict[str, Any]) -> str:
    lines = []
    for name, d in (data.get("destinations") or {}).items():
        d = d if isinstance(d, dict) else {"number": d}
        extra = [f"{short}={d[key]}" for short, key in _DEST_KEYS.items() if d.get(key) is not None]
        lines.append("; ".join([f"{name}: {d.get('number', '')}", *extra]))
    return "\n".join(lines)


def set_destinations(data: dict[str, Any], text: str) -> None:
    """B1/B9/B10: every destination, one a line: ``name: number; agent=805; capacity=2;
    weight=1; prompt=zhang_id`` (what a line leaves out is the default)."""
    out: dict[str, dict[str, Any]] = {}
    for n, line in enumerate((line for line in text.splitlines() if line.strip()), 1):
        head, *options = [part.strip() for part in line.split(";")]
        name, sep, number = (part.strip() for part in head.partition(":"))
        if not sep or not _NAME.match(name) or not re.fullmatch(r"[0-9-]{3,24}", number):
            raise EditError("destinations", f"line {n}: 'name: number' expected, not {line!r}")
        if name in out:
            raise EditError("destinations", f"line {n}: {name} twice")
        entry: dict[str, Any] = {"number": number}
        for option in filter(None, options):
            key, eq, value = (part.strip() for part in option.partition("="))
            if not eq or key not in _DEST_KEYS:
                raise EditError(
                    "destinations",
                    f"line {n}: {option!r} is not one of {', '.join(k + '=' for k in _DEST_KEYS)}",
                )
            entry[_DEST_KEYS[key]] = value if key == "prompt" else _int(value, n)
        out[name] = entry
    if len(out) > 100:
        raise EditError("destinations", f"at most 100 destinations, not {len(out)}")
    data["destinations"] = out


def _int(value: str, line: int) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", value):
        raise EditError("destinations", f"line {line}: {value!r} is not a whole number")
    return int(value)


def _route(data: dict[str, Any], name: str, by: str) -> dict[str, Any]:
    routes = data.get("routes")
    route = routes.get(name) if isinstance(routes, dict) else None
    if not isinstance(route, dict) or route.get("by") != by:
        raise EditError("route", f"no {by} route named {name!r}")
    return route


def area_text(route: dict[str, Any]) -> str:
    return "\n".join(f"{area}: {target}" for area, target in (route.get("areas") or {}).items())


def set_areas(data: dict[str, Any], name: str, text: str, default: str) -> None:
    """B6: an area route's areas, one a line ``010: target`` (an area code or a province), and
    where callers of any other area go."""
    route = _route(data, name, "area")
    areas: dict[str, str] = {}
    for n, line in enumerate((line for line in text.splitlines() if line.strip()), 1):
        area, sep, target = (part.strip() for part in line.partition(":"))
        if not sep or not area or not _NAME.match(target):
            raise EditError("areas", f"line {n}: 'area: target' expected, not {line!r}")
        areas[area] = target
    route["areas"] = areas
    if default.strip():
        route["default"] = default.strip()


def time_text(route: dict[str, Any]) -> str:
    lines = []
    for slot, spec in (route.get("slots") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        lines.append(f"{slot}: {'; '.join(spec.get('when') or [])} -> {spec.get('to', '')}")
    return "\n".join(lines)


def set_slots(data: dict[str, Any], name: str, text: str, otherwise: str) -> None:
    """B7: a time route's slots, one a line ``office: mon-fri 09:00-18:00; sat 09:00-12:00 ->
    target``, and where the minutes no slot covers go (empty: the slots must cover all)."""
    route = _route(data, name, "time")
    slots: dict[str, dict[str, Any]] = {}
    for n, line in enumerate((line for line in text.splitlines() if line.strip()), 1):
        slot, sep, rest = (part.strip() for part in line.partition(":"))
        when, arrow, target = (part.strip() for part in rest.partition("->"))
        windows = [w.strip() for w in when.split(";") if w.strip()]
        if not sep or not arrow or not _NAME.match(slot) or not windows or not _NAME.match(target):
            raise EditError(
                "slots", f"line {n}: 'slot: mon-fri 09:00-18:00 -> target' expected, not {line!r}"
            )
        slots[slot] = {"when": windows, "to": target}
    route["slots"] = slots
    if otherwise.strip():
        route["otherwise"] = otherwise.strip()
    else:
        route.pop("otherwise", None)
