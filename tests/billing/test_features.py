"""Value-added features in the statement (V1, V2, V3, V4, V6): which a number had in a month —
from every flow version live at some moment of it, and the portal's — each billed for the
whole month at the brief's price."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from routecore.billing import builtin_packages, statement
from routecore.billing.features import flow_features, live_versions, month_features
from routecore.billing.months import Month
from routecore.billing.usage import Usage
from routecore.cli import main
from routecore.flow.compile import compile_texts
from routecore.store import FlowStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(did: str) -> str:
    return (EXAMPLES / f"{did}.yaml").read_text(encoding="utf-8")


def test_the_flows_say_which_features_they_use():
    assert flow_features(yaml.safe_load(example("4006001003"))) == set()
    assert flow_features(yaml.safe_load(example("4006001004"))) == {"V1"}
    assert flow_features(yaml.safe_load(example("4006001005"))) >= {"V3"}
    assert flow_features(yaml.safe_load(example("8006001007"))) >= {"V4"}
    only_a_group = {"groups": {"g": {"members": ["a"], "call_memory": True}}}
    assert flow_features(only_a_group) == {"V3"}


def test_every_version_live_at_some_moment_of_the_month_counts():
    events = [
        {"action": "publish", "version": 1, "at": 10.0},
        {"action": "approve", "version": 2, "at": 15.0},
        {"action": "publish", "version": 2, "at": 150.0},
        {"action": "rollback", "version": 1, "at": 170.0},
        {"action": "publish", "version": 3, "at": 250.0},
    ]
    assert live_versions(events, 100.0, 200.0) == [1, 2]  # live at its start, then 2, then 1
    assert live_versions(events, 200.0, 300.0) == [1, 3]
    assert live_versions(events, 0.0, 5.0) == []  # nothing live yet


def test_a_statement_bills_each_feature_for_the_month():
    package = builtin_packages()["2000-1y"]
    month = Month.parse("2026-03")
    plain = statement("4006001004", package, month, month, Usage(), 0)
    billed = statement("4006001004", package, month, month, Usage(), 0, ["V6", "V1", "V5", "X"])
    assert (billed.features, billed.feature_fees) == ("V1,V6", 15_000)  # V5 is the seat fee
    assert billed.total == plain.total + 15_000


def _published(store_path: Path, did: str, content: str) -> None:
    from routecore.cli.common import flow_store

    class Args:
        store = str(store_path)

    store = flow_store(Args)
    try:
        v = store.draft(did, content, "ann")
        store.submit(did, v.version, "ann")
        store.approve(did, v.version, "bob")
        store.publish(
            did, v.version, "bob", image_path=str(store_path.with_name("routes.img")),
            compile=compile_texts,
        )  # fmt: skip
    finally:
        store.close()


def test_the_command_reads_the_flows_features_and_takes_the_portals(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _published(tmp_path / "routecore.db", "4006001004", example("4006001004"))
    month = time.strftime("%Y-%m")
    assert main(["bill", "assign", "4006001004", "2000-1y", "--from", month]) == 0
    capsys.readouterr()
    argv = ["--json", "bill", "statement", "4006001004", "--month", month, "--features", "v6"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["features"], data["feature_fees"]) == ("V1,V6", "150.00")
    assert main([*argv[:-1], "V7"]) == 2
    assert "unknown feature(s) V7" in capsys.readouterr().err
    store = FlowStore(str(tmp_path / "routecore.db"), validate=lambda c, s: c)
    try:
        assert month_features(store, "4006001004", 0, time.time() + 1) == {"V1"}
    finally:
        store.close()
