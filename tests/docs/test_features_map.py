"""The feature map (``docs/features.md``) and the modules' docstrings say the same thing.

Every feature ID of the brief has a section on the page; every module the page names exists;
each production module's docstring opens with the IDs it serves (its first paragraph, the
summary, ends with them in parentheses: ``… on the shared state (B9, V3).``) and is listed on
the page under exactly those IDs, or, naming none, under the shared groundwork.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
PAGE = ROOT / "docs" / "features.md"
FEATURES = ROOT.parent / "shared" / "FEATURES.md"  # the brief's IDs, beside the checkout

IDS = (
    *(f"B{i}" for i in range(1, 16)),
    *(f"V{i}" for i in range(1, 7)),
    "F1",
    "F2",
    *(f"P{i}" for i in range(1, 5)),
)
"""A copy of the IDs of ``FEATURES.md``, so the rest runs in a clean clone without it."""

ORDER = {fid: i for i, fid in enumerate(IDS)}
GROUNDWORK = "Shared groundwork"
PACKAGES = (  # the production packages: (folder of the package, its import name)
    (ROOT / "routecore", "routecore"),
    (ROOT / "adapters" / "asterisk" / "routecore_asterisk", "routecore_asterisk"),
    (ROOT / "adapters" / "freeswitch" / "routecore_freeswitch", "routecore_freeswitch"),
    (ROOT / "portal" / "routecore_portal", "routecore_portal"),
)
TWIN = "routecore.py"  # the pure-Python twin: its modules reference their native counterpart

_ID = re.compile(r"\b[BVFP]\d{1,2}\b")
_TAGS = re.compile(r"\(((?:[BVFP]\d{1,2})(?:, [BVFP]\d{1,2})*)\)[.:]?$")
_BULLET = re.compile(r"^- ((?:`[^`]+`)(?:, `[^`]+`)*): \S")


def page_sections() -> dict[str, str]:
    """The page's sections: ``### B9 …`` by ID, and the groundwork under its ``##`` heading."""
    text = PAGE.read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        heading = re.match(r"^(#{2,3}) (.*)$", line)
        if heading:
            level, title = heading.groups()
            fid = re.match(r"([BVFP]\d{1,2}) ", title) if level == "###" else None
            current = fid.group(1) if fid else GROUNDWORK if title == GROUNDWORK else None
            if current is not None:
                assert current not in sections, f"docs/features.md: two sections {current}"
                sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def listed(section: str) -> list[str]:
    """The modules a section's bullets name: ``- `a`, `b`: what they do`` (a bullet may go on
    over indented lines)."""
    bullets: list[str] = []
    for line in section.splitlines():
        if line.startswith("- "):
            bullets.append(line)
        elif line.startswith("  ") and bullets:
            bullets[-1] += " " + line.strip()
        else:
            bullets.append("")  # a bullet ends at a line of prose or a blank line
    names: list[str] = []
    for line in bullets:
        bullet = _BULLET.match(line)
        if bullet:
            names += re.findall(r"`([^`]+)`", bullet.group(1))
    return names


def production_modules() -> dict[str, Path]:
    """Every production module by dotted name (the twin's excepted), from the files."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES:
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            if name == TWIN or name.startswith(TWIN + "."):
                continue
            found[name] = path
    return found


def tags(path: Path) -> tuple[str, ...]:
    """The IDs a module's docstring opens with: its first paragraph ends with ``(B9, V3)``.

    An ID written elsewhere in that paragraph is an error: it would read as a tag and not be
    one. The IDs must be known, each once, in the order of FEATURES.md."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc, f"{where}: no module docstring"
    summary = " ".join(doc.split("\n\n", 1)[0].split())
    found = _TAGS.search(summary)
    ids = tuple(found.group(1).split(", ")) if found else ()
    rest = summary[: found.start()] if found else summary
    assert not _ID.search(rest), (
        f"{where}: feature IDs in the summary but not as its closing '(…)': {summary!r}"
    )
    for fid in ids:
        assert fid in ORDER, f"{where}: unknown feature ID {fid}"
    assert list(ids) == sorted(set(ids), key=ORDER.__getitem__), (
        f"{where}: IDs once each, in the order of FEATURES.md: {ids}"
    )
    return ids


def test_the_brief_has_the_ids_this_test_knows():
    if not FEATURES.is_file():
        pytest.skip(f"no {FEATURES} (a clean clone): the copy in this test stands in for it")
    text = FEATURES.read_text(encoding="utf-8")
    brief = re.findall(r"^\|\s*([BVFP]\d{1,2})\s*\|", text, re.MULTILINE)
    assert brief == list(IDS), "FEATURES.md's IDs changed: update IDS here and docs/features.md"


def test_every_feature_has_a_section_with_modules_or_not_built():
    sections = page_sections()
    assert [s for s in sections if s != GROUNDWORK] == list(IDS), "one section an ID, in order"
    for fid in IDS:
        body = sections[fid]
        not_built = "**Not built**" in body
        assert body.strip().splitlines()[0].strip(), f"{fid}: its one-line meaning first"
        if not_built:
            assert not listed(body), f"{fid} is not built, yet names modules"
        else:
            assert listed(body), f"{fid}: no module serves it (or say **Not built** and why)"
    assert listed(sections[GROUNDWORK])


def test_every_module_the_page_names_exists():
    missing = []
    for section in page_sections().values():
        for name in listed(section):
            if "/" in name:
                ok = (ROOT / name).exists()
            else:
                try:
                    ok = importlib.util.find_spec(name) is not None
                except ImportError:
                    ok = False
            if not ok:
                missing.append(name)
    assert not missing, f"docs/features.md names what is not there: {sorted(set(missing))}"


def test_the_docstrings_and_the_page_agree():
    sections = page_sections()
    under: dict[str, set[str]] = {}
    for key, section in sections.items():
        for name in listed(section):
            under.setdefault(name, set()).add(key)
    problems = []
    for name, path in production_modules().items():
        try:
            ids = set(tags(path))
        except AssertionError as e:
            problems.append(str(e).splitlines()[0])
            continue
        on_page = under.get(name, set())
        if not ids:
            if on_page != {GROUNDWORK}:
                problems.append(
                    f"{name}: names no feature, so list it under {GROUNDWORK} (only); "
                    f"listed under {sorted(on_page) or 'nothing'}"
                )
        elif on_page != ids:
            problems.append(
                f"{name}: its docstring names {sorted(ids, key=ORDER.__getitem__)}, "
                f"docs/features.md lists it under {sorted(on_page)}"
            )
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_stray_or_a_missing_tag(tmp_path):
    """The parsing itself: what counts as the opening IDs, and what is refused."""
    good = {
        '"""The dialer: the one owner of a call\'s claims\non the state (B9, V3).\n\nMore."""': (
            "B9",
            "V3",
        ),
        '"""Errors, shared (none of the brief\'s).\n\nB9 may be named down here."""': (),
    }
    path = tmp_path / "m.py"
    for source, expected in good.items():
        path.write_text(source, encoding="utf-8")
        assert tags(path) == expected
    for bad in ('"""Ring groups (B9) and more."""', '"""Order (V3, B9)."""', '"""X (B99)."""'):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(AssertionError):
            tags(path)
