"""Hypothesis strategies shared by the test modules: random valid flows."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
