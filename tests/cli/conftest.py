"""The command as an operator runs it, in the test's folder."""

from __future__ import annotations

import io

import pytest

from routecore.cli import main


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    """``run(*argv, stdin=None)``: ``routecore`` run in tmp_path, (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
