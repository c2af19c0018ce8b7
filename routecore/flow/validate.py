"""Flow validation: plain data -> a typed :class:`Flow`, with every problem found at once (B1,
B7, B11, B14, V1, F2).

Two passes. First each value on its own, by the pydantic models (``model.py``): every entry of
every section is validated separately, so one broken group does not hide the problems of the
others, and the names of broken entries still count as declared. Then the rules that look
across the document, on what passed: limits, references, cycles, reachability, time plans.

Cycles. A caller who presses no key must leave the flow (hang up, or be connected) after a
finite number of steps. The *automatic* edges are those followed without the caller's input:
a route to each of its targets, a group to ``on_busy``/``on_no_answer``, a menu, extension
dialer or conference to ``on_fail`` (after its retries). A cycle made only of automatic edges
is an error. Menu keys and a voicemail's ``keep_waiting`` are edges the caller chooses: a cycle
through one of them is fine (a menu whose keys lead back to itself is a normal "press 9 to
hear this again"), because the menu's own ``on_fail`` must still lead out.

Reachability. Every declared target (menu, group, route, voicemail box, conference, the
extension dialer) must be reachable from ``start`` by any edges; a destination must be in a
group or an extension; a prompt must be used. Anything else is a warning, not an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from routecore.engine.plan import BRANCH_SLOTS
from routecore.errors import FlowError, TimePlanError
from routecore.flow.issues import FlowIssue, Severity, format_path
from routecore.flow.model import (
    NODE_SECTIONS,
    RESERVED_TARGETS,
    AreaRoute,
    Conference,
    Destination,
    Extensions,
    Flow,
    Group,
    Menu,
    Route,
    TimeRoute,
    Voicemail,
)
from routecore.rules import DEFAULT_TZ, is_flow_name, is_zone

__all__ = [
    "MAX_DESTINATIONS",
    "MAX_DESTINATIONS_PER_EXTENSION",
    "MAX_EXTENSIONS",
    "validate_flow",
]

MAX_DESTINATIONS = 100
MAX_EXTENSIONS = 5000
MAX_DESTINATIONS_PER_EXTENSION = 5
EXTENSION_PROMPT_FILE = "pv_inputext.wav"
_OTHERWISE = "~otherwise"  # the time plan's default slot (not a valid slot name)

_SECTION_MODELS: dict[str, TypeAdapter[Any]] = {
    "destinations": TypeAdapter(Destination),
    "menus": TypeAdapter(Menu),
    "groups": TypeAdapter(Group),
    "routes": TypeAdapter(Route),
    "voicemail": TypeAdapter(Voicemail),
    "conferences": TypeAdapter(Conference),
}
_ENTRY_KIND = {
    "destinations": "destination",
    "menus": "menu",
    "groups": "group",
    "routes": "route",
    "voicemail": "voicemail box",
    "conferences": "conference",
}
_PLAN_SLOT = re.compile(r'^slot "(.*?)": rule "(.*)": (.*)$', re.S)
_PLAN_DATE = re.compile(r'^(?:bad )?date "?(\d{4}-\d{2}-\d{2}|[^": ]*)"?[: ]')

Loc = tuple[str | int, ...]
# (from node id, target name, path of the reference, automatic?)
Edge = tuple[str, str, Loc, bool]


def validate_flow(data: Any, *, source: str) -> tuple[Flow, list[FlowIssue]]:
    """Validate plain flow data (as read from YAML or JSON) into a :class:`Flow`.

    ``source`` names the document in every issue (usually its file name; when it ends in
    ``.yaml``, ``.yml`` or ``.json`` the 400 number must equal the file's stem). Returns the
    flow and its warnings; raises :class:`routecore.errors.FlowError` with every error (and the
    warnings) when there is any.
    """
    checker = _Checker(source)
    flow = checker.run(data)
    errors = [i for i in checker.issues if i.severity == "error"]
    warnings = [i for i in checker.issues if i.severity == "warning"]
    if errors or flow is None:
        raise FlowError(errors, warnings)
    return flow, warnings


def _pydantic_message(err: ErrorDetails) -> str:
    loc = err["loc"]
    last = loc[-1] if loc else ""
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown field '{last}'"
    if kind == "missing":
        return f"required field '{last}' is missing"
    msg = err["msg"]
    return msg[:1].lower() + msg[1:]


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[FlowIssue] = []

    # -- reporting -------------------------------------------------------------------------
    def add(self, loc: Loc, message: str, severity: Severity = "error") -> None:
        self.issues.append(FlowIssue(self.source, format_path(loc), message, severity))

    def add_pydantic(self, exc: ValidationError, prefix: Loc, *, tagged: bool = False) -> None:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p != "[key]")
            if tagged and loc and loc[0] in ("area", "time"):
                loc = loc[1:]  # the discriminated union's tag is not part of the document
            self.add(prefix + loc, _pydantic_message(err))

    # -- pass 1: each value on its own ------------------------------------------------------
    def run(self, data: Any) -> Flow | None:
        if not isinstance(data, dict):
            self.add((), f"a flow is a mapping of sections, not {type(data).__name__}")
            return None
        entries: dict[str, dict[str, Any]] = {}
        self.broken: set[str] = set()  # names of entries that failed pass 1
        self.broken_destinations: set[str] = set()
        for section, adapter in _SECTION_MODELS.items():
            entries[section] = {}
            raw = data.get(section)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                self.add((section,), f"must be a mapping of names to {_ENTRY_KIND[section]}s")
                continue
            for name, value in raw.items():
                if not is_flow_name(name):
                    self.add(
                        (section, str(name)),
                        f"bad name '{name}': a letter or _ first, then letters, digits, _ or -",
                    )
                try:
                    entries[section][name] = adapter.validate_python(value)
                except ValidationError as exc:
                    self.add_pydantic(exc, (section, name), tagged=section == "routes")
                    self.broken.add(name)
                    if section == "destinations":
                        self.broken_destinations.add(name)
        top_data = {k: v for k, v in data.items() if k not in _SECTION_MODELS}
        for key in [k for k in top_data if not isinstance(k, str)]:
            self.add((str(key),), f"unknown field '{key}'")
            del top_data[key]
        self.failed_top: set[str] = set()
        try:
            top = Flow.model_validate(top_data)
        except ValidationError as exc:
            self.add_pydantic(exc, ())
            self.failed_top = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            # What failed falls back to its default (or a placeholder) for pass 2, which skips
            # the rules that would only repeat the failure.
            top_data = {k: v for k, v in top_data.items() if k not in self.failed_top}
            ext = _prune_extensions(data.get("extensions"), exc)
            if ext is not None:
                top_data["extensions"] = ext
            top_data.setdefault("number", "4000000000")
            top_data.setdefault("start", "hangup")
            try:
                top = Flow.model_validate(top_data)
            except ValidationError:  # pragma: no cover - defensive: drop all top-level fields
                self.failed_top |= set(top_data)
                top = Flow.model_validate({"number": "4000000000", "start": "hangup"})
        flow = top.model_copy(update={s: entries[s] for s in _SECTION_MODELS})
        self.check(flow, data)
        return flow

    # -- pass 2: across the document --------------------------------------------------------
    def check(self, flow: Flow, data: dict[str, Any]) -> None:
        if "number" not in self.failed_top:
            self.check_number(flow)
        owners = self.check_names(flow, data)
        self.check_prompts(flow)
        self.check_destinations(flow)
        self.check_groups(flow)
        self.check_extensions(flow)
        self.check_time_routes(flow)
        self.check_branch_slots(flow)
        edges = list(self.edges(flow))
        known = set(owners) | {"hangup"}
        if flow.extensions is not None or "extensions" in self.failed_top:
            known.add("extensions")
        for _, target, loc, _auto in edges:
            if target not in known:
                hint = " (the flow has no extensions)" if target == "extensions" else ""
                self.add(loc, f"unknown target '{target}'{hint}")
        self.check_cycles(edges, owners)
        if "start" not in self.failed_top and flow.start in known:
            self.check_reachable(flow, edges, owners)

    def check_branch_slots(self, flow: Flow) -> None:
        """B11: every branch has a live counter slot up to BRANCH_SLOTS per number; beyond, the
        call records still count it (a warning, not an error)."""
        keys = sum(len(m.keys) for m in flow.menus.values())
        exts = len(flow.extensions.numbers) if flow.extensions is not None else 0
        if keys + exts > BRANCH_SLOTS:
            self.add(
                ("extensions",) if exts else ("menus",),
                f"{keys + exts} branches (menu keys, then extensions): the first {BRANCH_SLOTS} "
                "have live counters in the shared state, the rest are counted by the call "
                "records only",
                "warning",
            )

    def check_number(self, flow: Flow) -> None:
        name = self.source.replace("\\", "/").rsplit("/", 1)[-1]
        stem, dot, ext = name.rpartition(".")
        if dot and ext.lower() in ("yaml", "yml", "json") and stem != flow.number:
            self.add(("number",), f"number '{flow.number}' does not match the file name '{name}'")

    def check_names(self, flow: Flow, data: dict[str, Any]) -> dict[str, str]:
        """Targets share one namespace; returns target name -> ``section.name`` of its owner."""
        owners: dict[str, str] = {}
        for section in NODE_SECTIONS:
            raw = data.get(section)
            names = list(raw) if isinstance(raw, dict) else []
            for name in names:
                here = f"{section}.{name}"
                if name in RESERVED_TARGETS:
                    self.add((section, name), f"'{name}' is a reserved target name")
                elif name in owners:
                    self.add(
                        (section, name),
                        f"name '{name}' is already used by {owners[name]} "
                        "(menus, groups, routes, voicemail and conferences share one namespace)",
                    )
                else:
                    owners[name] = here
        return owners

    def prompt_refs(self, flow: Flow) -> Iterator[tuple[Loc, str]]:
        if flow.greeting is not None:
            yield ("greeting",), flow.greeting
        for name, d in flow.destinations.items():
            if d.agent_prompt is not None:
                yield ("destinations", name, "agent_prompt"), d.agent_prompt
        for name, m in flow.menus.items():
            yield ("menus", name, "prompt"), m.prompt
            if m.invalid_prompt is not None:
                yield ("menus", name, "invalid_prompt"), m.invalid_prompt
        for name, v in flow.voicemail.items():
            if v.prompt is not None:
                yield ("voicemail", name, "prompt"), v.prompt
        for name, c in flow.conferences.items():
            if c.prompt is not None:
                yield ("conferences", name, "prompt"), c.prompt
        if flow.extensions is not None:
            if flow.extensions.prompt is not None:
                yield ("extensions", "prompt"), flow.extensions.prompt
            if flow.extensions.invalid_prompt is not None:
                yield ("extensions", "invalid_prompt"), flow.extensions.invalid_prompt

    def check_prompts(self, flow: Flow) -> None:
        used: set[str] = set()
        for loc, ref in self.prompt_refs(flow):
            used.add(ref)
            if ref not in flow.prompts:
                if "prompts" not in self.failed_top:
                    self.add(loc, f"unknown prompt '{ref}'")
            elif loc == ("extensions", "prompt") and flow.prompts[ref] != EXTENSION_PROMPT_FILE:
                self.add(
                    loc,
                    f"the extension prompt is the file '{EXTENSION_PROMPT_FILE}', "
                    f"not '{flow.prompts[ref]}'",
                )
        for name in flow.prompts:
            if name not in used:
                self.add(("prompts", name), f"prompt '{name}' is never used", "warning")

    def check_destinations(self, flow: Flow) -> None:
        count = len(flow.destinations) + len(self.broken_destinations)
        if count > MAX_DESTINATIONS:
            self.add(
                ("destinations",),
                f"at most {MAX_DESTINATIONS} destinations per 400 number, found {count}",
            )
        numbers: dict[str, str] = {}
        agents: dict[int, str] = {}
        for name, d in flow.destinations.items():
            if d.number in numbers:
                self.add(
                    ("destinations", name, "number"),
                    f"number '{d.number}' is already destinations.{numbers[d.number]}",
                )
            else:
                numbers[d.number] = name
            if d.agent_id is not None:
                if d.agent_id in agents:
                    self.add(
                        ("destinations", name, "agent_id"),
                        f"agent ID {d.agent_id} is already destinations.{agents[d.agent_id]}",
                    )
                else:
                    agents[d.agent_id] = name

    def destination_known(self, flow: Flow, name: str) -> bool:
        return name in flow.destinations or name in self.broken_destinations

    def check_groups(self, flow: Flow) -> None:
        for gname, g in flow.groups.items():
            seen: set[str] = set()
            for i, member in enumerate(g.members):
                loc: Loc = ("groups", gname, "members", i)
                if member in seen:
                    self.add(loc, f"destination '{member}' is listed twice")
                    continue
                seen.add(member)
                if not self.destination_known(flow, member):
                    self.add(loc, f"unknown destination '{member}'")
                    continue
                d = flow.destinations.get(member)
                if g.announce_agent_id and d is not None:
                    if d.agent_id is None and d.agent_prompt is None:
                        self.add(
                            loc,
                            f"announce_agent_id: destination '{member}' has neither "
                            "agent_id nor agent_prompt",
                        )

    def check_extensions(self, flow: Flow) -> None:
        ext = flow.extensions
        if ext is None:
            return
        from routecore.backend import get_backend

        if len(ext.numbers) > MAX_EXTENSIONS:
            self.add(
                ("extensions", "numbers"),
                f"at most {MAX_EXTENSIONS} extensions per 400 number, found {len(ext.numbers)}",
            )
        for number, targets in ext.numbers.items():
            loc: Loc = ("extensions", "numbers", number)
            if ext.fixed_length is not None and len(number) != ext.fixed_length:
                self.add(
                    loc,
                    f"extension '{number}' has {len(number)} digits, "
                    f"the fixed length is {ext.fixed_length}",
                )
            if not targets:
                self.add(loc, "an extension needs at least one destination")
            elif len(targets) > MAX_DESTINATIONS_PER_EXTENSION:
                self.add(
                    loc,
                    f"at most {MAX_DESTINATIONS_PER_EXTENSION} destinations per extension, "
                    f"found {len(targets)}",
                )
            seen: set[str] = set()
            for i, target in enumerate(targets):
                if is_flow_name(target):
                    if not self.destination_known(flow, target):
                        self.add((*loc, i), f"unknown destination '{target}'")
                    key = target
                else:
                    caller = get_backend().classify(target)
                    if caller.kind not in ("mobile", "landline") or caller.area_code is None:
                        self.add(
                            (*loc, i),
                            f"'{target}' is neither a destination name nor a mobile or "
                            "landline number with its area code",
                        )
                        continue
                    key = str(caller.number)
                    d = next((n for n, x in flow.destinations.items() if x.number == key), None)
                    key = d if d is not None else key
                if key in seen:
                    self.add((*loc, i), f"destination '{target}' is listed twice")
                seen.add(key)

    def check_time_routes(self, flow: Flow) -> None:
        from routecore.backend import get_backend

        tz = flow.timezone
        if not is_zone(tz):
            self.add(("timezone",), f"unknown time zone '{tz}' (an IANA zone such as {DEFAULT_TZ})")
            tz = DEFAULT_TZ
        for rname, route in flow.routes.items():
            if not isinstance(route, TimeRoute):
                continue
            base: Loc = ("routes", rname)
            if _OTHERWISE in route.slots:  # pragma: no cover - not a valid slot name
                continue
            dates: dict[Any, Any] = {
                d: (v if isinstance(v, str) else {s: list(r) for s, r in v.items()})
                for d, v in route.dates.items()
            }
            try:
                get_backend().TimePlan.build(
                    {s: list(slot.when) for s, slot in route.slots.items()},
                    tz=tz,
                    default=_OTHERWISE if route.otherwise is not None else None,
                    calendar=None if route.holidays == "china" else [],
                    dates=dates,
                    workday_as=route.workday_as,
                )
            except TimePlanError as exc:
                for problem in exc.problems:
                    self.add(*self.plan_problem(route, base, problem))

    def plan_problem(self, route: TimeRoute, base: Loc, problem: str) -> tuple[Loc, str]:
        text = problem.replace('"', "'")
        m = _PLAN_SLOT.match(problem)
        if m and m.group(1) in route.slots:
            slot, rule, what = m.groups()
            when = route.slots[slot].when
            i = when.index(rule) if rule in when else None
            loc = (*base, "slots", slot, "when") + ((i,) if i is not None else ())
            return loc, f"rule '{rule}': {what}".replace('"', "'")
        d = _PLAN_DATE.match(problem)
        if d and d.group(1) in route.dates:
            return (*base, "dates", d.group(1)), text
        if problem.startswith("date ") or problem.startswith("bad date "):
            return (*base, "dates"), text
        if problem.startswith("overlap on "):
            return (*base, "slots"), "time slots " + text
        if problem.startswith("no slot covers "):
            return (*base, "slots"), text + "; cover it, or give 'otherwise' a target"
        return base, text

    # -- the graph --------------------------------------------------------------------------
    def edges(self, flow: Flow) -> Iterator[Edge]:
        if "start" not in self.failed_top:
            yield "start", flow.start, ("start",), True
        for name, m in flow.menus.items():
            for key, target in m.keys.items():
                yield f"menus.{name}", target, ("menus", name, "keys", key), False
            yield f"menus.{name}", m.on_fail, ("menus", name, "on_fail"), True
        for name, g in flow.groups.items():
            yield f"groups.{name}", g.on_busy, ("groups", name, "on_busy"), True
            yield f"groups.{name}", g.on_no_answer, ("groups", name, "on_no_answer"), True
        for name, r in flow.routes.items():
            here = f"routes.{name}"
            if isinstance(r, AreaRoute):
                for area, target in r.areas.items():
                    yield here, target, ("routes", name, "areas", area), True
                yield here, r.default, ("routes", name, "default"), True
            else:
                for slot, s in r.slots.items():
                    yield here, s.to, ("routes", name, "slots", slot, "to"), True
                if r.otherwise is not None:
                    yield here, r.otherwise, ("routes", name, "otherwise"), True
        for name, v in flow.voicemail.items():
            if v.keep_waiting is not None:
                yield (
                    f"voicemail.{name}",
                    v.keep_waiting,
                    ("voicemail", name, "keep_waiting"),
                    False,
                )
        for name, c in flow.conferences.items():
            yield f"conferences.{name}", c.on_fail, ("conferences", name, "on_fail"), True
        if flow.extensions is not None:
            yield "extensions", flow.extensions.on_fail, ("extensions", "on_fail"), True

    def check_cycles(self, edges: list[Edge], owners: dict[str, str]) -> None:
        def node_of(target: str) -> str | None:
            if target == "extensions":
                return "extensions"
            return owners.get(target)

        graph: dict[str, list[tuple[str, Loc]]] = {}
        for src, target, loc, auto in edges:
            dst = node_of(target)
            if auto and src != "start" and dst is not None:
                graph.setdefault(src, []).append((dst, loc))
        state: dict[str, int] = {}  # 1: on the stack, 2: done
        stack: list[str] = []
        for root in graph:
            if root in state:
                continue
            # iterative DFS: (node, index of the next edge)
            work: list[tuple[str, int]] = [(root, 0)]
            state[root] = 1
            stack.append(root)
            while work:
                node, i = work[-1]
                out = graph.get(node, [])
                if i == len(out):
                    work.pop()
                    stack.pop()
                    state[node] = 2
                    continue
                work[-1] = (node, i + 1)
                dst, loc = out[i]
                if state.get(dst) == 1:
                    cycle = [*stack[stack.index(dst) :], dst]
                    self.add(
                        loc,
                        "a caller who presses no key loops forever: " + " -> ".join(cycle),
                    )
                elif dst not in state:
                    state[dst] = 1
                    stack.append(dst)
                    work.append((dst, 0))

    def check_reachable(self, flow: Flow, edges: list[Edge], owners: dict[str, str]) -> None:
        graph: dict[str, list[str]] = {}
        for src, target, _loc, _auto in edges:
            graph.setdefault(src, []).append(target)
        reached: set[str] = set()
        todo = [flow.start]
        while todo:
            name = todo.pop()
            if name in reached:
                continue
            reached.add(name)
            node = "extensions" if name == "extensions" else owners.get(name)
            if node is not None:
                todo.extend(graph.get(node, []))
        for name, owner in owners.items():
            if name not in reached:
                self.add(
                    tuple(owner.split(".", 1)),
                    f"unreachable: no path from start leads to '{name}'",
                    "warning",
                )
        if flow.extensions is not None and "extensions" not in reached:
            self.add(
                ("extensions",), "unreachable: no path from start leads to 'extensions'", "warning"
            )
        used: set[str] = set()
        for gname, g in flow.groups.items():
            if gname in reached:
                used.update(g.members)
        if flow.extensions is not None and "extensions" in reached:
            for targets in flow.extensions.numbers.values():
                used.update(targets)
        for name in flow.destinations:
            if name not in used:
                self.add(
                    ("destinations", name),
                    f"destination '{name}' is in no reachable group or extension",
                    "warning",
                )


def _prune_extensions(raw: Any, exc: ValidationError) -> dict[str, Any] | None:
    """The extensions section without the extensions that failed, when that is all that failed.

    So one bad extension among thousands does not hide the rules checked on the others.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("numbers"), dict):
        return None
    bad: set[Any] = set()
    for err in exc.errors():
        loc = err["loc"]
        if loc and loc[0] == "extensions":
            if len(loc) < 3 or loc[1] != "numbers":
                return None
            bad.add(loc[2])
    if not bad:
        return None
    numbers = {k: v for k, v in raw["numbers"].items() if k not in bad}
    pruned = {**raw, "numbers": numbers}
    try:
        Extensions.model_validate(pruned)
    except ValidationError:
        return None
    return pruned
