"""The flow compiler: validated flows → one routing image (B6, B7, B9, B11, B13, V1).

The image is built by ``routecore.build_image``.

Sections of a number ``did`` (all read in place; a call for one number touches only its own):
- ``{did}/flow``: the validated flow as JSON, compressed (``routecore.engine.flow_blob``), in a
  blob table: the structure the call engine walks (decoded when a call for that number
  arrives, never when the image is opened);
- ``{did}/blacklist``: a digit trie, exact numbers and prefixes (value 1);
- ``{did}/area/{route}``: a digit trie from area code to the position of its entry in the route's
  ``areas`` (provinces are matched from the JSON by the caller's province);
- ``{did}/time/{route}``: the route's time plan (slot names are the route's slots; minutes no
  slot covers fall in the slot ``~otherwise``);
- ``{did}/group/{name}``: the ring group (destination numbers and weights in member order);
- ``{did}/ext``: a digit trie from extension to its position in ``extensions.numbers``;
- ``{did}/branches``: JSON, each branch's slot in the live counters (B11): ``menu.key`` labels
  in flow order, then ``extensions.NNN`` (``routecore.engine.plan.branch_slots``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from routecore.backend import get_backend
from routecore.engine import flow_blob
from routecore.engine.plan import BRANCH_SLOTS, branch_slots
from routecore.errors import FlowError
from routecore.flow.issues import FlowIssue
from routecore.flow.model import AreaRoute, Flow, TimeRoute

__all__ = [
    "BRANCH_SLOTS",
    "COMPILER",
    "OTHERWISE",
    "branch_slots",
    "compile_flows",
    "compile_text",
    "compile_texts",
    "describe",
    "image_of",
    "time_plan",
]

COMPILER = "routecore-sections-2"
"""What compiled a number's sections: the cache of compiled sections in the flow store is
valid only for this compiler (a release that changes the sections changes it)."""

OTHERWISE = "~otherwise"
"""The time-plan slot of minutes that no slot of a time route covers."""


def time_plan(route: TimeRoute, tz: str, core: Any = None) -> Any:
    """The TimePlan of a time route (raises TimePlanError as the plan's own build does)."""
    core = core or get_backend()
    dates: dict[str, Any] = {
        d: (v if isinstance(v, str) else {s: list(r) for s, r in v.items()})
        for d, v in route.dates.items()
    }
    return core.TimePlan.build(
        {s: list(slot.when) for s, slot in route.slots.items()},
        tz=tz,
        default=OTHERWISE if route.otherwise is not None else None,
        calendar=None if route.holidays == "china" else [],
        dates=dates,
        workday_as=route.workday_as,
    )


def flow_sections(flow: Flow, core: Any = None) -> dict[str, bytes]:
    """The image sections of one validated flow, built with ``core`` (a backend module:
    ``routecore.backend.native`` or ``routecore.py``; the package's own by default)."""
    core = core or get_backend()
    did = flow.number
    text = flow.model_dump_json()
    out: dict[str, bytes] = {f"{did}/flow": core.blob_table(flow_blob.encode(text.encode()))}
    slots = json.dumps(branch_slots(json.loads(text)), ensure_ascii=False, separators=(",", ":"))
    out[f"{did}/branches"] = core.blob_table(slots.encode())
    if flow.blacklist.numbers or flow.blacklist.prefixes:
        prefixes = dict.fromkeys(flow.blacklist.prefixes, 1)
        exact = dict.fromkeys(flow.blacklist.numbers, 1)
        out[f"{did}/blacklist"] = core.Trie.build(prefixes, exact=exact).to_bytes()
    for name, route in flow.routes.items():
        if isinstance(route, AreaRoute):
            codes = {k: i for i, k in enumerate(route.areas) if k[:1].isdigit()}
            out[f"{did}/area/{name}"] = core.Trie.build(codes).to_bytes()
        elif isinstance(route, TimeRoute):
            out[f"{did}/time/{name}"] = time_plan(route, flow.timezone, core).to_bytes()
    for name, group in flow.groups.items():
        members = [flow.destinations[m] for m in group.members]
        out[f"{did}/group/{name}"] = core.Group.build(
            [(d.number, d.weight) for d in members],
            mode=group.mode,
            idle_first=group.idle_first,
            ring_timeout=group.ring_timeout,
        ).to_bytes()
    if flow.extensions is not None and flow.extensions.numbers:
        exts = {e: i for i, e in enumerate(flow.extensions.numbers)}
        out[f"{did}/ext"] = core.Trie.build(exact=exts).to_bytes()
    return out


def compile_flows(
    flows: Iterable[Flow],
    *,
    progress: Callable[[int], object] | None = None,
    core: Any = None,
) -> bytes:
    """One routing image holding every flow (``progress(n)`` after each flow, if given).

    One flow a number: a flow whose sections another flow already gave (two flows of one
    number) is refused with FlowError, never laid over the first."""
    core = core or get_backend()
    sections: dict[str, bytes] = {}
    for n, flow in enumerate(flows, start=1):
        for name, table in flow_sections(flow, core).items():
            if name in sections:
                raise FlowError(
                    [
                        FlowIssue(
                            flow.number,
                            "number",
                            f"two flows of {flow.number} (section {name}): an image holds one "
                            "flow a number",
                        )
                    ]
                )
            sections[name] = table
        if progress is not None:
            progress(n)
    return bytes(core.build_image(sections))


def _validated(did: str, text: str) -> Flow:
    from routecore.flow import loads_flow

    flow = loads_flow(text, source=did, json_format=text.lstrip().startswith("{"))[0]
    if flow.number != did:
        raise FlowError(
            [
                FlowIssue(
                    did, "number", f"this is the flow of {flow.number}, given as the flow of {did}"
                )
            ]
        )
    return flow


def compile_texts(contents: Mapping[str, str]) -> bytes:
    """The image of flow documents given as text by number (the store's publish step).

    Each is validated again (FlowError if one fails), and each must be the flow of the number
    it is given under: a content whose ``number`` is another key's (or any other number) is
    refused with FlowError, so one number's flow never replaces another's routes."""
    return compile_flows([_validated(did, text) for did, text in sorted(contents.items())])


def compile_text(did: str, text: str) -> dict[str, bytes]:
    """The image sections of the flow document ``text`` of ``did``, validated (FlowError) and
    checked to be that number's flow, as :func:`compile_texts` checks each."""
    return flow_sections(_validated(did, text))


def image_of(sections: Iterable[Mapping[str, bytes]]) -> bytes:
    """One routing image of the sections of many numbers (each number's from
    :func:`compile_text`: its names begin with its own number, so none overlap)."""
    merged: dict[str, bytes] = {}
    for one in sections:
        merged.update(one)
    return bytes(get_backend().build_image(merged))


def describe(image: Any, did: str) -> dict[str, Any]:
    """What the image holds for one number, readable: its flow, groups, time and area routes."""
    flow = flow_blob.decode(image.blob(f"{did}/flow"))
    groups = {}
    for name in flow.get("groups", {}):
        g = image.group(f"{did}/group/{name}")
        groups[name] = {
            "mode": g.mode,
            "idle_first": g.idle_first,
            "ring_timeout": g.ring_timeout,
            "numbers": list(g.numbers),
            "weights": list(g.weights),
        }
    times = {}
    for name, route in flow.get("routes", {}).items():
        if route.get("by") == "time":
            plan = image.time_plan(f"{did}/time/{name}")
            times[name] = {"tz": plan.tz, "slots": list(plan.slot_names)}
    return {
        "number": did,
        "start": flow["start"],
        "sections": [n for n in image.names() if n.startswith(did + "/")],
        "groups": groups,
        "time_routes": times,
        "flow": flow,
    }
