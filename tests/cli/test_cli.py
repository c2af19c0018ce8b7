"""The routecore command, as an operator scripts it: exit codes, messages, --json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import routecore
from routecore.cli import EXIT_INVALID, EXIT_OK, EXIT_REVIEW, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BRANCHES = EXAMPLES / "4006001001.yaml"


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--store", str(tmp_path / "flows.db"), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_validate_good_and_broken_files(run, tmp_path):
    code, out, _ = run("validate", str(BRANCHES))
    assert code == EXIT_OK and out.strip() == f"{BRANCHES}: ok"
    broken = tmp_path / "4006001001.yaml"
    broken.write_text(
        BRANCHES.read_text(encoding="utf-8").replace("start: branches", "start: nowhere")
    )
    code, out, _ = run("validate", str(broken))
    assert code == EXIT_INVALID
    assert f"{broken}: start: unknown target 'nowhere'" in out
    code, out, _ = run("--json", "validate", str(BRANCHES), str(broken))
    report = json.loads(out)
    assert code == EXIT_INVALID and report[0]["errors"] == [] and report[1]["errors"]


def test_review_and_publish_from_the_command_line(run, tmp_path):
    image = str(tmp_path / "routes.img")
    state = routecore.State.create(tmp_path / "state", destinations=64, memory=16, numbers=4)
    state.add_destination("01065528888", capacity=1, online=False)  # the desk, known already
    flow = tmp_path / "4006001001.yaml"
    flow.write_text(
        BRANCHES.read_text(encoding="utf-8").replace(
            'number: "010-6552-8888", agent_id: 802',
            'number: "010-6552-8888", agent_id: 802, capacity: 4',
        )
    )
    code, out, _ = run("draft", str(flow), "--author", "ann")
    assert code == EXIT_OK and out.strip() == "4006001001 v1: draft by ann"
    assert run("submit", "4006001001", "1", "--by", "ann")[0] == EXIT_OK
    code, _, err = run("approve", "4006001001", "1", "--by", "ann")
    assert code == EXIT_REVIEW and "ann wrote it and may not approve it" in err
    assert run("approve", "4006001001", "1", "--by", "bob")[0] == EXIT_OK
    code, out, _ = run(
        "publish",
        "4006001001",
        "1",
        "--by",
        "carol",
        "--image",
        image,
        "--state",
        str(tmp_path / "state"),
    )
    assert code == EXIT_OK and "published (live)" in out
    assert state.generation == 1
    desk = state.destination("01065528888")  # publishing gave it its capacity, kept it offline
    assert (desk.capacity, desk.online) == (4, False)
    code, out, _ = run("show", "4006001001", "--image", image)
    assert code == EXIT_OK and "group beijing: sequential, idle first" in out
    code, out, _ = run("--json", "history", "4006001001")
    assert json.loads(out)[0]["state"] == "published"
    v2 = tmp_path / "v2.yaml"
    v2.write_text(
        BRANCHES.read_text(encoding="utf-8").replace("ring_timeout: 30", "ring_timeout: 45")
    )
    run("draft", str(v2), "--author", "ann")
    code, out, _ = run("diff", "4006001001", "1", "2")
    assert "-    ring_timeout: 30" in out and "+    ring_timeout: 45" in out


def test_a_flow_that_does_not_validate_cannot_be_submitted(run, tmp_path):
    broken = tmp_path / "4006001001.yaml"
    broken.write_text("number: '4006001001'\nstart: nowhere\n")
    assert run("draft", str(broken), "--author", "ann")[0] == EXIT_OK  # drafts may be unfinished
    code, _, err = run("submit", "4006001001", "1", "--by", "ann")
    assert code == EXIT_INVALID and "unknown target 'nowhere'" in err


def test_compile_writes_an_image(run, tmp_path):
    out_path = tmp_path / "all.img"
    code, out, _ = run(
        "--json", "compile", *map(str, sorted(EXAMPLES.glob("*.yaml"))), "-o", str(out_path)
    )
    assert code == EXIT_OK and json.loads(out)["numbers"] == 7
    assert len(routecore.Image.open(out_path)) > 7


def test_the_installed_command_runs():
    exe = shutil.which("routecore", path=str(Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run([exe, "validate", str(BRANCHES)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith(": ok")
    done = subprocess.run([exe, "nonsense"], capture_output=True, text=True)
    assert done.returncode == 2
