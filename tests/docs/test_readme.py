"""The README's tour runs as written, and its commented answers are the real ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import routecore

README = Path(__file__).resolve().parents[2] / "README.md"


def test_tour_runs_and_answers_match(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    code = "\n".join(blocks)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    (tmp_path / "my_segments.csv").write_text(
        "segment,area_code,province,city\n1999999,0571,浙江,杭州\n", encoding="utf-8"
    )
    saved = routecore.default_classifier()
    ns: dict[str, object] = {}
    lines = code.splitlines()
    checked = 0
    try:
        # Statement by statement, so each answer is the value at that point of the tour.
        for stmt in ast.parse(code).body:
            if not isinstance(stmt, ast.Expr):
                exec(compile(ast.Module([stmt], []), "README.md", "exec"), ns)
                continue
            value = eval(compile(ast.Expression(stmt.value), "README.md", "eval"), ns)
            answer = _answer(lines, stmt.end_lineno or stmt.lineno)
            if answer is not None:
                _matches(repr(value), answer, lines[stmt.lineno - 1])
                checked += 1
        assert routecore.classify("19999990000").city == "杭州"  # the tour's own table
        assert checked >= 12
    finally:
        routecore.set_default_classifier(saved)
    assert routecore.classify("19999990000").city != "杭州"


# `expr  # answer`, or the answer alone on the next line: a repr (a tuple, list, str or int),
# possibly shortened with "...", then any words.
_ANSWER = re.compile(r"#\s+(\(.*\)|\[.*(?:\]|\.\.\.)|'[^']*'|-?\d+)(?:\s|$)")


def _answer(lines: list[str], end: int) -> str | None:
    tail = lines[end - 1].split("  # ", 1)
    if len(tail) == 2:
        m = _ANSWER.match("# " + tail[1].strip())
        return m.group(1) if m else None
    if end < len(lines) and lines[end].startswith("# "):
        m = _ANSWER.match(lines[end])
        return m.group(1) if m else None
    return None


def _matches(actual: str, answer: str, line: str) -> None:
    """``actual`` reads as ``answer``: the pieces between "..." appear in order."""
    pieces = answer.split("...")
    assert actual.startswith(pieces[0]), (line, actual)
    at = len(pieces[0])
    for piece in pieces[1:]:
        piece = piece.strip(", ")
        found = actual.find(piece, at)
        assert found >= 0, (line, actual, piece)
        at = found + len(piece)


@pytest.mark.parametrize("command", ["make install", "make test"])
def test_readme_names_the_two_commands(command):
    assert command in README.read_text(encoding="utf-8")
