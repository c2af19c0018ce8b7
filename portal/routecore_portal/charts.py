"""Bar charts drawn on the server as SVG (no script, no CDN): the values are the chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 40, 28, 12


def bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
) -> SafeString:
    """Grouped bars: one group per label, one bar per series (``(name, values)``; at most 3)."""
    n = max(len(labels), 1)
    peak = max([1, *(v for _, values in series for v in values)])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    group = plot_w / n
    bar = min(max(group * 0.8 / max(len(series), 1), 1.0), 48.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}"'
        ' class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" class="tick" text-anchor="end">{peak}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    for s, (name, values) in enumerate(series):
        for i, value in enumerate(values):
            h = plot_h * value / peak
            x = LEFT + i * group + (group - len(series) * bar) / 2 + s * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' class="bar s{s}"><title>{escape(labels[i])} {escape(name)}: {value}</title>'
                "</rect>"
            )
    step = max(1, n // 12)
    for i in range(0, len(labels), step):
        x = LEFT + i * group + group / 2
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 10}" class="tick" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
