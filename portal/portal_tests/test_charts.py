"""Charts drawn on the server: one bar a value, heights in proportion, every label escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from routecore_portal.charts import bars


def test_bars_are_proportional_and_labels_escaped():
    svg = str(
        bars(["<b>", "a&b", "c"], [("calls", [4, 2, 0]), ("answered", [1, 0, 0])], title="x<y")
    )
    root = ET.fromstring(svg)  # well-formed: every text escaped
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 6
    heights = [float(r.get("height")) for r in rects]
    assert heights[0] == 2 * heights[1] and heights[2] == 0 and heights[0] == 4 * heights[3]
    assert "<b>" not in svg and "&lt;b&gt;" in svg and not re.search(r"<script", svg)


def test_an_empty_chart_is_still_a_chart():
    root = ET.fromstring(str(bars([], [], title="nothing")))
    assert root.findall("{http://www.w3.org/2000/svg}rect") == []
