"""``routecore import``: a folder of flows drafted, approved and published in one process into one
image; bad files reported while the others go on; Ctrl-C keeps what was committed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from routecore.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from routecore.flow.compile import compile_texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BIN = Path(sys.executable).parent


def platform(folder: Path, copies: int) -> list[str]:
    """``copies`` numbers made from the examples (their own number in each file)."""
    folder.mkdir()
    numbers = []
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("4006*.yaml"))]
    for i in range(copies):
        text = texts[i % len(texts)]
        old = text.split("number:", 1)[1].split("\n", 1)[0].strip().strip('"')
        did = f"400{7000000 + i:07d}"
        (folder / f"{did}.yaml").write_text(text.replace(old, did), encoding="utf-8")
        numbers.append(did)
    return numbers


def test_a_folder_is_approved_and_published_into_one_image(run, tmp_path):
    numbers = platform(tmp_path / "flows", 12)
    (tmp_path / "flows" / "4009999999.yaml").write_text("number: 4009999999\nstart: nowhere\n")
    argv = ["--json", "import", "flows", "--author", "ann", "--approve-by", "bob",
            "--publish-by", "carol", "--batch", "5", "--image", "routes.img"]  # fmt: skip
    code, out, err = run(*argv)
    assert code == EXIT_INVALID  # one file does not validate: said, the others go on
    assert "4009999999" in err and "imported 13/13 files" in err
    summary = json.loads(out)
    assert (summary["files"], summary["invalid"], summary["published"]) == (13, 1, 12)
    code, out, _ = run("--json", "history", numbers[3])
    assert json.loads(out)[0]["state"] == "published"
    code, out, _ = run("--json", "history", "4009999999")
    assert json.loads(out)[0]["state"] == "draft"  # kept as a draft, never submitted
    texts = {d: (tmp_path / "flows" / f"{d}.yaml").read_text(encoding="utf-8") for d in numbers}
    assert (tmp_path / "routes.img").read_bytes() == compile_texts(texts)


def test_submit_only_and_bad_usage(run, tmp_path):
    platform(tmp_path / "flows", 3)
    code, out, _ = run("--json", "import", "flows", "--author", "ann", "--submit")
    assert code == EXIT_OK and json.loads(out)["approved"] == 0
    code, _, err = run("import", "flows", "--author", "ann", "--publish-by", "carol")
    assert code == EXIT_USAGE and "--publish-by needs --approve-by" in err
    code, _, err = run("import", "nowhere", "--author", "ann")
    assert code == EXIT_USAGE and "nowhere: no such file or folder" in err
    code, _, err = run("import", "flows", "--author", "ann", "--approve-by", "ANN ")
    assert code != EXIT_OK and "may not approve" in err


def test_ctrl_c_keeps_the_batches_done_and_publishes_nothing(tmp_path):
    platform(tmp_path / "flows", 600)
    proc = subprocess.Popen(
        [str(BIN / "routecore"), "--store", str(tmp_path / "flows.db"), "import",
         str(tmp_path / "flows"), "--author", "ann", "--approve-by", "bob", "--publish-by",
         "carol", "--batch", "50", "--image", str(tmp_path / "routes.img")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first batch is committed
    assert line.startswith("imported 50/600"), line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted:" in err and "nothing published" in err and "Traceback" not in err
    assert not (tmp_path / "routes.img").exists()
    done = subprocess.run(
        [str(BIN / "routecore"), "--store", str(tmp_path / "flows.db"), "--json", "history",
         "4007000000"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout)[0]["state"] == "approved"  # committed, not live


def test_a_platform_in_shards_through_the_command(run, tmp_path, monkeypatch):
    """ROUTECORE_IMAGE_SHARDS: import, show, simulate and publish on an image set; the host's
    state gets the published capacities of the numbers published."""
    import routecore

    monkeypatch.setenv("ROUTECORE_IMAGE_SHARDS", "8")
    numbers = platform(tmp_path / "flows", 14)
    state = routecore.State.create(tmp_path / "state", destinations=256, memory=16, numbers=32)
    state.close()
    code, out, err = run("import", "flows", "--author", "ann", "--approve-by", "bob",
                         "--publish-by", "carol", "--state", "state")  # fmt: skip
    assert code == EXIT_OK, err
    assert (tmp_path / "routes.img.d").is_dir() and len(
        list((tmp_path / "routes.img.d").iterdir())
    ) > 1
    code, out, _ = run("show", numbers[0])
    assert code == EXIT_OK and f"{numbers[0]}: start" in out
    code, out, _ = run("simulate", numbers[2], "13900000000", "1", "1")
    assert code == EXIT_OK and "dial" in out
    monkeypatch.setenv("ROUTECORE_IMAGE_SHARDS", "x")
    code, _, err = run("history", numbers[0])
    assert code == EXIT_USAGE and "ROUTECORE_IMAGE_SHARDS" in err
