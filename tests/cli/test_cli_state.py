"""``routecore state``: a host's state file made of the sizes it needs, and how full it is."""

from __future__ import annotations

import json
import os

import pytest

from routecore.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE


def test_create_then_show_how_full_the_tables_and_pools_are(run, tmp_path):
    path = str(tmp_path / "state")
    code, out, err = run(
        "state", "create", "--state", path, "--destinations", "40_000", "--numbers", "100",
        "--counter-blocks", "50",
    )  # fmt: skip
    assert code == EXIT_OK, err
    assert out.splitlines()[1:4] == [
        "destinations: 0 of 40,000 (0.0 %)",
        "lease records: 0 of 40,100 (0.0 %)",  # the default: destinations + 100
        "counter blocks: 0 of 50 (0.0 %)",
    ]
    from routecore.backend import get_backend

    with get_backend().State.open(path) as state:
        state.add_destination("01065528888", capacity=30)  # 31 records from the pool
        state.add_destination("13800138000")  # a phone: its record in its slot
        state.count_branch("4008001234", 9, 1_765_000_000.0)  # blocks 0 and 1
    code, out, _ = run("state", "show", "--state", path, "--json")
    report = json.loads(out)
    assert code == EXIT_OK and report["bytes"] == os.path.getsize(path)
    assert report["destinations"] == {"used": 2, "size": 40_000}
    assert report["lease_records"] == {"used": 31, "size": 40_100}
    assert report["counter_blocks"] == {"used": 2, "size": 50}
    assert (report["memory"], report["numbers"]) == ({"size": 65536}, {"size": 100})


def test_an_existing_file_of_other_sizes_is_refused_and_kept(run, tmp_path):
    path = str(tmp_path / "state")
    assert run("state", "create", "--state", path, "--numbers", "8")[0] == EXIT_OK
    before = os.path.getsize(path)
    code, _, err = run("state", "create", "--state", path, "--numbers", "16")
    assert code == EXIT_ERROR and "other sizes" in err and "Traceback" not in err
    assert os.path.getsize(path) == before


def test_bad_sizes_a_missing_file_and_a_redis_url_are_one_line_errors(run, tmp_path, capsys):
    code, _, err = run("state", "show", "--state", str(tmp_path / "none"))
    assert code == EXIT_ERROR and len(err.strip().splitlines()) == 1
    code, _, err = run("state", "show", "--state", "redis://127.0.0.1:6379/0")
    assert code == EXIT_USAGE and "Redis store" in err
    with pytest.raises(SystemExit) as e:  # argparse's own usage error
        run("state", "create", "--state", str(tmp_path / "s"), "--memory", "0")
    assert e.value.code == EXIT_USAGE
    assert "at least 1, not 0" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_the_state_is_taken_from_the_environment(run, tmp_path, monkeypatch):
    path = str(tmp_path / "env-state")
    monkeypatch.setenv("ROUTECORE_STATE", path)
    assert run("state", "create", "--destinations", "64")[0] == EXIT_OK
    code, out, _ = run("state", "show", "--json")
    assert code == EXIT_OK and json.loads(out)["path"] == path
