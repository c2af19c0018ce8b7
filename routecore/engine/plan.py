"""The plan of one 400 number's flow: built once per (image, number), walked by every call (B5,
B6, B7, B9, B10, B11, B14, V1, V4, F2).

The compiler wrote the flow into the image as JSON beside its tables (``routecore.flow.compile``).
A :class:`Plan` turns that into nodes with everything a call needs already resolved: the tries,
time plans and groups opened once (so their caches live as long as the image), the prompts and
system prompts chosen, the Collect/Play/Voicemail/Conference Actions built and checked, the
extension targets turned into numbers, each branch's counter slot (B11) and the announcement
of each destination (B10). A session only walks the plan; it never parses JSON nor looks a
section name up.

:func:`plan_for` keeps the plans of the images in use (keyed by content hash and number, so a
republished image gets new plans and calls in progress keep theirs); it is safe to call from
many threads at once. A plan is read-only once built, but for its groups' cache of Dial
Actions (filled on first use; a dict write is atomic, and two writers write equal values).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from routecore.engine import flow_blob
from routecore.engine.actions import Collect, Conference, Dial, Play, Voicemail
from routecore.engine.dialer import flow_capacities
from routecore.engine.prompts import SYSTEM_PROMPTS
from routecore.rules import DEFAULT_TZ, is_zone

__all__ = [
    "BRANCH_SLOTS",
    "AreaNode",
    "ConferenceNode",
    "ExtensionsNode",
    "GroupNode",
    "MenuNode",
    "Node",
    "Plan",
    "TimeNode",
    "VoicemailNode",
    "branch_labels",
    "branch_slots",
    "plan_for",
]

OFFER_TIMEOUT = 5  # seconds to answer "1 leave a message, 2 keep waiting"
PASSWORD_TIMEOUT = 10  # seconds to key a conference password
PASSWORD_DIGITS = 8
EXTENSION_DIGITS = 6  # the longest extension when they are not of a fixed length
BRANCH_SLOTS = 256
"""Live branch counters per 400 number in the shared state (a counter row's branches)."""
PLAN_IMAGES = 8  # images whose plans are kept (the one built for least recently goes first)
HANGUP = "hangup"
EXTENSIONS = "extensions"


@dataclass(frozen=True, slots=True)
class Branch:
    """A branch a caller takes (B11): where it leads, its label in the record, its slot in
    the live counters (None: the image has no slot for it)."""

    to: str
    label: str
    slot: int | None


@dataclass(frozen=True, slots=True)
class MenuNode:
    """B14: ask for one key; retries, then ``on_fail``."""

    name: str
    ask: Collect
    keys: dict[str, Branch]
    retries: int
    invalid: Play
    on_fail: str


@dataclass(frozen=True, slots=True)
class AreaNode:
    """B6: by the caller's area code (a trie to the entry), else province, else default."""

    name: str
    codes: Any  # Trie: area code -> index into ``targets``
    targets: tuple[str, ...]
    provinces: dict[str, str]
    default: str


@dataclass(frozen=True, slots=True)
class TimeNode:
    """B7: by the time slot of the call's clock."""

    name: str
    plan: Any  # TimePlan
    slots: dict[str, str]
    otherwise: str


@dataclass(slots=True)
class GroupNode:
    """B9: a ring group (its table from the image, its numbers, what to do when it fails)."""

    name: str
    table: Any  # Group
    numbers: tuple[str, ...]
    rotate: bool  # round robin: the cursor lives in the shared state
    memory: bool  # V3
    ring_timeout: int
    announce: dict[str, int | str | None] | None  # B10, by number; None: not announced
    on_busy: str
    on_no_answer: str
    index: dict[str, int] = field(default_factory=dict)  # number -> member position
    singles: tuple[tuple[str], ...] = ()  # (number,) of each member: one-target attempts
    dials: dict[tuple[str, ...], Dial] = field(default_factory=dict)  # Dials built once


@dataclass(frozen=True, slots=True)
class VoicemailNode:
    """B5: a box; with ``keep_waiting`` the caller is first offered to keep waiting."""

    name: str
    offer: Collect | None
    keep_waiting: str | None
    message: Voicemail  # a plain box: its own prompt
    message_after_offer: Voicemail  # after "1": the system's "leave a message"


@dataclass(frozen=True, slots=True)
class ConferenceNode:
    """V4: a password, then the room."""

    name: str
    ask: Collect
    password: str
    join: Conference
    tries: int
    on_fail: str


@dataclass(frozen=True, slots=True)
class ExtensionsNode:
    """V1: an extension, then its destinations in order (up to 5), maybe another after."""

    ask: Collect
    numbers: dict[str, tuple[tuple[str, ...], Branch]]
    fixed_length: int | None
    retries: int
    invalid: Play
    on_fail: str
    second_transfer: bool
    ring_timeout: int


Node = MenuNode | AreaNode | TimeNode | GroupNode | VoicemailNode | ConferenceNode | ExtensionsNode


@dataclass(slots=True)
class Plan:
    """One number's flow, resolved. ``flow`` is the JSON form (for post-call SMS); ``nodes``
    every target by name (``hangup`` is not a node); ``capacities`` the capacity of each
    destination number that takes more than one call (given to the shared state when the
    number is first claimed)."""

    did: str
    tz: str
    flow: dict[str, Any]
    start: str
    greeting: Play | None
    blacklist: Any  # Trie or None
    transfer: bool  # F2: the system's transfer prompt before each transfer
    record: bool  # B8
    survey: bool  # B12
    nodes: dict[str, Node]
    capacities: dict[str, int]


def _prompt(name: str | None, system: str) -> str:
    return name or SYSTEM_PROMPTS[system]


def branch_labels(flow: dict[str, Any]) -> list[str]:
    """B11: every branch of ``flow`` (its JSON form) in slot order: each menu key (``menu.key``,
    menus and keys in flow order), then each extension (``extensions.NNN``)."""
    labels = [f"{name}.{key}" for name, m in flow.get("menus", {}).items() for key in m["keys"]]
    ext = flow.get("extensions")
    if ext:
        labels += [f"extensions.{e}" for e in ext["numbers"]]
    return labels


def branch_slots(flow: dict[str, Any]) -> dict[str, int]:
    """The live-counter slot of each branch: the first :data:`BRANCH_SLOTS` get one."""
    return {label: i for i, label in enumerate(branch_labels(flow)[:BRANCH_SLOTS])}


def _branch_slots(image: Any, did: str, flow: dict[str, Any]) -> dict[str, int]:
    """The slots the compiler allocated (an image from before slots were compiled in: the
    same allocation, made here)."""
    name = f"{did}/branches"
    if name not in image:
        return branch_slots(flow)
    slots: dict[str, int] = json.loads(image.blob(name))
    return slots


def _zone(tz: str | None, did: str) -> str:
    """The flow's zone; one the core does not know (an image compiled before zones were
    checked) is logged once and replaced by :data:`~routecore.rules.DEFAULT_TZ`, so no call ever
    raises over it.

    The default zone is taken unchecked: it is what an unknown zone is replaced by anyway, and
    checking it would load ``zoneinfo`` at the start of every process-per-call script."""
    if tz is None or tz == DEFAULT_TZ or is_zone(tz):
        return tz or DEFAULT_TZ
    import logging  # only for this message: a process that logs nothing does not load it

    logging.getLogger("routecore.engine").error(
        "%s: unknown time zone %r in the image: counting in %s", did, tz, DEFAULT_TZ
    )
    return DEFAULT_TZ


def build_plan(image: Any, did: str) -> Plan:
    """The plan of ``did`` in ``image`` (which must hold ``{did}/flow``)."""
    flow: dict[str, Any] = flow_blob.decode(image.blob(f"{did}/flow"))
    slots = _branch_slots(image, did, flow)
    dests: dict[str, Any] = flow.get("destinations", {})
    nodes: dict[str, Node] = {}
    for name, r in flow.get("routes", {}).items():
        if r["by"] == "time":
            nodes[name] = TimeNode(
                name,
                image.time_plan(f"{did}/time/{name}"),
                {slot: str(v["to"]) for slot, v in r["slots"].items()},
                str(r.get("otherwise") or HANGUP),
            )
        else:
            areas: dict[str, str] = r["areas"]
            nodes[name] = AreaNode(
                name,
                image.trie(f"{did}/area/{name}"),
                tuple(areas.values()),
                {k: v for k, v in areas.items() if not k[:1].isdigit()},
                str(r.get("default", HANGUP)),
            )
    for name, m in flow.get("menus", {}).items():
        keys = {
            key: Branch(to, f"{name}.{key}", slots.get(f"{name}.{key}"))
            for key, to in m["keys"].items()
        }
        nodes.setdefault(
            name,
            MenuNode(
                name,
                Collect(m["prompt"], 1, m["timeout"]),
                keys,
                m["retries"],
                Play(_prompt(m.get("invalid_prompt"), "invalid")),
                m["on_fail"],
            ),
        )
    memory_default = bool(flow.get("call_memory", False))
    for name, g in flow.get("groups", {}).items():
        table = image.group(f"{did}/group/{name}")
        announce = None
        if g.get("announce_agent_id"):
            announce = {
                dests[m]["number"]: dests[m].get("agent_prompt") or dests[m].get("agent_id")
                for m in g["members"]
            }
        memory = g.get("call_memory")
        nodes.setdefault(
            name,
            GroupNode(
                name,
                table,
                tuple(table.numbers),
                g.get("mode") == "round_robin",
                memory_default if memory is None else bool(memory),
                int(g["ring_timeout"]),
                announce,
                g["on_busy"],
                g["on_no_answer"],
                {n: i for i, n in enumerate(table.numbers)},
                tuple((n,) for n in table.numbers),
            ),
        )
    for name, b in flow.get("voicemail", {}).items():
        seconds = b["max_seconds"]
        keep = b.get("keep_waiting")
        offer = Collect(_prompt(b.get("prompt"), "voicemail_offer"), 1, OFFER_TIMEOUT)
        nodes.setdefault(
            name,
            VoicemailNode(
                name,
                offer if keep else None,
                keep,
                Voicemail(name, _prompt(b.get("prompt"), "voicemail"), seconds),
                Voicemail(name, SYSTEM_PROMPTS["voicemail"], seconds),
            ),
        )
    for name, c in flow.get("conferences", {}).items():
        nodes.setdefault(
            name,
            ConferenceNode(
                name,
                Collect(
                    _prompt(c.get("prompt"), "password"), PASSWORD_DIGITS, PASSWORD_TIMEOUT, "#"
                ),
                c["password"],
                Conference(c["room"], c["max_parties"]),
                max(c["retries"], 1),
                c["on_fail"],
            ),
        )
    e = flow.get("extensions")
    if e:
        fixed = e.get("fixed_length")
        numbers = {
            ext: (
                tuple(dests[t]["number"] if t in dests else t for t in targets),
                Branch("", f"extensions.{ext}", slots.get(f"extensions.{ext}")),
            )
            for ext, targets in e["numbers"].items()
        }
        nodes[EXTENSIONS] = ExtensionsNode(
            Collect(
                _prompt(e.get("prompt"), "extension"),
                fixed or EXTENSION_DIGITS,
                e["timeout"],
                None if fixed else "#",
            ),
            numbers,
            fixed,
            e["retries"],
            Play(_prompt(e.get("invalid_prompt"), "invalid_extension")),
            e["on_fail"],
            bool(e.get("second_transfer", True)),
            int(e["ring_timeout"]),
        )
    greeting = flow.get("greeting")
    blacklist = image.trie(f"{did}/blacklist") if f"{did}/blacklist" in image else None
    return Plan(
        did=did,
        tz=_zone(flow.get("timezone"), did),
        flow=flow,
        start=flow["start"],
        greeting=Play(greeting) if greeting else None,
        blacklist=blacklist,
        transfer=bool(flow.get("system_prompt_on_transfer", True)),
        record=bool(flow.get("recording", False)),
        survey=bool(flow.get("survey", False)),
        nodes=nodes,
        capacities={n: c for n, c in flow_capacities([flow]).items() if c > 1},
    )


_PLANS: OrderedDict[int, dict[str, Plan]] = OrderedDict()  # image content hash -> plans
_PLANS_LOCK = threading.Lock()


def plan_for(image: Any, did: str) -> Plan | None:
    """The plan of ``did`` in ``image`` (None when the image has no flow for it), built at the
    first call and shared by every later one; thread-safe. Plans are kept per image content,
    for the :data:`PLAN_IMAGES` images used last (the live one and those calls in progress
    started on), each with the plans of every number it has routed."""
    plans = _PLANS.get(image.content_hash)  # a dict read is atomic: the common case takes no lock
    if plans is not None:
        plan = plans.get(did)
        if plan is not None:
            return plan
    if f"{did}/flow" not in image:
        return None
    built = build_plan(image, did)  # outside the lock: two builders race harmlessly
    with _PLANS_LOCK:
        plans = _PLANS.get(image.content_hash)
        if plans is None:
            plans = _PLANS[image.content_hash] = {}
            while len(_PLANS) > PLAN_IMAGES:
                _PLANS.popitem(last=False)
        else:
            _PLANS.move_to_end(image.content_hash)
        return plans.setdefault(did, built)
