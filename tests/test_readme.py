"""The README's tour runs as written, and its commented answers are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import routecore

README = Path(__file__).resolve().parent.parent / "README.md"


def test_tour_runs_and_answers_match(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    code = "\n".join(blocks)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_segments.csv").write_text(
        "segment,area_code,province,city\n1999999,0571,浙江,杭州\n", encoding="utf-8"
    )
    saved = routecore.default_classifier()
    ns: dict[str, object] = {}
    try:
        exec(compile(code, "README.md", "exec"), ns)
        assert routecore.classify("19999990000").city == "杭州"  # the tour's own table
        # Lines of the form `expr  # 'answer'` or `# (a, b)`: the comment is the value.
        checked = 0
        for line in code.splitlines():
            m = re.match(
                r"^(routecore\.\S.*?|black\.lookup.*?|state\.recall.*?)\s+# (\(.*?\)|'[^']*')", line
            )
            if m:
                assert repr(eval(m.group(1), ns)).startswith(m.group(2).rstrip(")")), line
                checked += 1
        assert checked >= 7
    finally:
        routecore.set_default_classifier(saved)
    assert routecore.classify("19999990000").city != "杭州"


@pytest.mark.parametrize("command", ["make install", "make test"])
def test_readme_names_the_two_commands(command):
    assert command in README.read_text(encoding="utf-8")
