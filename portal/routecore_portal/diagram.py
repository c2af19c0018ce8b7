"""A number's IVR drawn as a picture: the greeting, menus and their keys, time and area routes,
groups and their destinations, voicemail, conferences and extensions, as server-rendered SVG
(B15, F1).

The flow document is read as data (the YAML of a version, valid or not yet); columns are the
steps from the greeting, so a caller's path reads left to right. Every text is escaped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html import escape
from typing import Any

import yaml
from django.utils.safestring import SafeString, mark_safe

COLUMN, ROW, BOX_W, BOX_H, PAD = 200, 46, 168, 32, 16
KINDS = ("greeting", "menu", "route", "group", "voicemail", "conference", "extensions", "phone")


@dataclass
class Graph:
    kinds: dict[str, str] = field(default_factory=dict)  # node -> kind
    labels: dict[str, str] = field(default_factory=dict)  # node -> text shown
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)


def _section(flow: dict[str, Any], name: str) -> dict[str, Any]:
    value = flow.get(name)
    return value if isinstance(value, dict) else {}


def graph(flow: dict[str, Any]) -> Graph:
    g = Graph()
    phones = {
        name: str((d or {}).get("number", "")) if isinstance(d, dict) else str(d)
        for name, d in _section(flow, "destinations").items()
    }
    names = {
        **{f"menu:{m}": "menu" for m in _section(flow, "menus")},
        **{f"route:{r}": "route" for r in _section(flow, "routes")},
        **{f"group:{x}": "group" for x in _section(flow, "groups")},
        **{f"voicemail:{v}": "voicemail" for v in _section(flow, "voicemail")},
        **{f"conference:{c}": "conference" for c in _section(flow, "conferences")},
    }
    by_name = {key.split(":", 1)[1]: key for key in names}

    def node(target: object) -> str:
        """The node a flow name leads to (a destination or a bare number is a phone)."""
        text = str(target)
        if text == "extensions" and isinstance(flow.get("extensions"), dict):
            g.kinds["extensions"] = "extensions"
            count = len(_section(flow["extensions"], "numbers"))
            g.labels["extensions"] = f"extensions ({count})"
            return "extensions"
        if text in by_name:
            key = by_name[text]
            g.kinds[key], g.labels[key] = names[key], text
            return key
        key = f"phone:{text}"
        g.kinds[key] = "phone"
        g.labels[key] = f"{text} {phones[text]}" if text in phones else text
        return key

    def edge(src: str, target: object, label: str = "") -> None:
        if target is not None and str(target):
            g.edges.append((src, node(target), label))

    g.kinds["greeting"] = "greeting"
    g.labels["greeting"] = f"greeting: {flow.get('greeting', '—')}"
    edge("greeting", flow.get("start"))
    for m, menu in _section(flow, "menus").items():
        src = node(m)
        for key, target in _section(menu or {}, "keys").items():
            edge(src, target, str(key))
        edge(src, (menu or {}).get("on_fail"), "fail")
    for r, route in _section(flow, "routes").items():
        src, route = node(r), route or {}
        for slot, spec in _section(route, "slots").items():
            edge(src, (spec or {}).get("to") if isinstance(spec, dict) else spec, str(slot))
        for area, target in _section(route, "areas").items():
            edge(src, target, str(area))
        edge(src, route.get("otherwise"), "otherwise")
        edge(src, route.get("default"), "default")
    for x, group in _section(flow, "groups").items():
        src, group = node(x), group or {}
        mode = group.get("mode", "sequential")
        g.labels[src] = f"{x} ({mode})"
        for member in group.get("members") or []:
            edge(src, member)
        edge(src, group.get("on_busy"), "busy")
        edge(src, group.get("on_no_answer"), "no answer")
    for v, box in _section(flow, "voicemail").items():
        edge(node(v), (box or {}).get("keep_waiting"), "keep waiting")
    for c, room in _section(flow, "conferences").items():
        edge(node(c), (room or {}).get("on_fail"), "fail")
    if "extensions" in g.kinds:
        edge("extensions", flow["extensions"].get("on_fail"), "fail")
    return g


def _columns(g: Graph) -> list[list[str]]:
    depth = {"greeting": 0}
    queue = deque(["greeting"])
    while queue:
        src = queue.popleft()
        for a, b, _ in g.edges:
            if a == src and b not in depth:
                depth[b] = depth[src] + 1
                queue.append(b)
    last = max(depth.values(), default=0) + 1
    columns: list[list[str]] = [[] for _ in range(last + 1)]
    for name in g.kinds:
        columns[depth.get(name, last)].append(name)
    return [c for c in columns if c]


def svg(content: str, *, title: str) -> SafeString:
    """The diagram of a flow document, or a short note when it cannot be read as one."""
    try:
        flow = yaml.safe_load(content)
    except yaml.YAMLError:
        flow = None
    if not isinstance(flow, dict):
        return mark_safe('<p class="error">—</p>')
    g = graph(flow)
    columns = _columns(g)
    at: dict[str, tuple[float, float]] = {}
    for c, names in enumerate(columns):
        for r, name in enumerate(names):
            at[name] = (PAD + c * COLUMN, PAD + r * ROW)
    width = PAD * 2 + len(columns) * COLUMN
    height = PAD * 2 + max(len(c) for c in columns) * ROW
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
        f' class="diagram" width="{width}" height="{height}"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for a, b, label in g.edges:
        (x1, y1), (x2, y2) = at[a], at[b]
        sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        back = ex <= sx
        if back:  # back to an earlier column: around below
            ex, ey = x2 + BOX_W / 2, y2 + BOX_H
            d = f"M{sx},{sy} C{sx + 40},{sy + 60} {ex},{ey + 60} {ex},{ey}"
        else:
            d = f"M{sx},{sy} C{sx + 30},{sy} {ex - 30},{ey} {ex},{ey}"
        parts.append(f'<path d="{d}" class="edge"/>')
        if label:  # beside the end of the edge, where the caller arrives
            lx, ly, anchor = (ex + 6, ey + 12, "start") if back else (ex - 4, ey - 4, "end")
            parts.append(
                f'<text x="{lx:.0f}" y="{ly:.0f}" class="edge-label"'
                f' text-anchor="{anchor}">{escape(label)}</text>'
            )
    for name, (x, y) in at.items():
        kind = g.kinds[name]
        parts.append(
            f'<g class="node {kind}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}"'
            f' rx="5"/><text x="{x + 8}" y="{y + 21}">{escape(g.labels[name][:26])}</text>'
            f"<title>{escape(kind)}: {escape(g.labels[name])}</title></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
