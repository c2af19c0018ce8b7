"""Turn a pytest-benchmark JSON file into the README's table: each group's figures with their
ratio to the native one. Benchmarks name their implementation in ``extra_info["backend"]`` and,
when one round handles many items, the count in ``extra_info["items"]`` (per-item figures).

Usage: python bench/report.py RESULTS.json [MORE.json ...]
"""

from __future__ import annotations

import json
import platform
import sys
from collections import defaultdict
from typing import Any


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main(paths: list[str]) -> None:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    data: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            groups[b["group"] or b["name"]].append(b)
    m = data.get("machine_info", {})
    print(
        f"Machine: {m.get('cpu', {}).get('brand_raw', platform.processor())}, "
        f"{m.get('cpu', {}).get('count', '?')} cores, Python {m.get('python_version', '?')}, "
        f"{data.get('datetime', '')[:10]}"
    )
    print()
    print("| benchmark | implementation | median | per item | ratio to native |")
    print("|---|---|---|---|---|")
    for group in sorted(groups):
        rows = groups[group]

        def per_item(b: dict[str, Any]) -> float:
            return float(b["stats"]["median"]) / int(b["extra_info"].get("items", 1))

        native = [per_item(b) for b in rows if b["extra_info"].get("backend") == "native"]
        base = native[0] if native else None
        for b in sorted(rows, key=per_item):
            name = b["extra_info"].get("backend", b["param"] or b["name"])
            ratio = f"{per_item(b) / base:.1f}×" if base else "n/a"
            print(
                f"| {group} | {name} | {_fmt(b['stats']['median'])} | "
                f"{_fmt(per_item(b))} | {ratio} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:] or [".benchmarks/latest.json"])
