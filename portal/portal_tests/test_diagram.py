"""The flow as a picture: every node the caller can reach, every key and slot as a labelled
edge, well-formed SVG with every text escaped, on drafts and live versions alike."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import yaml

from portal_tests.common import A_DID, ROOT, example
from routecore_portal.diagram import graph, svg

NS = "{http://www.w3.org/2000/svg}"


def test_every_example_flow_draws_as_well_formed_svg_with_its_nodes():
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        content = path.read_text(encoding="utf-8")
        root = ET.fromstring(str(svg(content, title=path.stem)))
        g = graph(yaml.safe_load(content))
        assert len(root.findall(f".//{NS}rect")) == len(g.kinds), path.name
        assert len(root.findall(f".//{NS}path")) == len(g.edges), path.name


def test_the_menu_keys_and_groups_of_the_two_level_menu():
    g = graph(yaml.safe_load(example(A_DID)))
    edges = {(a, b, label) for a, b, label in g.edges}
    assert ("greeting", "menu:main", "") in edges
    assert ("menu:main", "menu:sales", "1") in edges
    assert ("menu:main", "group:support", "2") in edges
    assert ("group:support", "phone:support_1", "") in edges
    assert g.labels["phone:support_1"] == "support_1 075523456781"
    assert g.labels["group:support"] == "support (round_robin)"


def test_hostile_names_are_escaped_and_broken_documents_do_not_fail():
    flow = {
        "greeting": "<script>x</script>",
        "start": "m&m",
        "menus": {"m&m": {"keys": {"1": "<img src=x>"}}},
    }
    text = str(svg(yaml.safe_dump(flow), title="t<"))
    ET.fromstring(text)
    assert "<script>" not in text and "<img" not in text
    assert "—" in str(svg("[1, 2", title="x")) and "—" in str(svg("- a list", title="x"))


def test_the_version_page_shows_the_picture(a_client, stores):
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    page = a_client.get(f"/n/{A_DID}/flow/1/").content.decode()
    assert 'class="diagram"' in page and "menu: main" in page
