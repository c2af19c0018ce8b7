"""Stores: flow versions and their review workflow, call records with their reports and
retention (SQLite by default).

Each name is imported at its first use, so a process that only writes call records
(``routecore.store.calls``) never loads the flow models."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routecore.errors import ReviewError, StoreError
    from routecore.store.browse import CallQuery
    from routecore.store.calls import CallStore, Purged, months_before
    from routecore.store.flows import FlowStore, FlowVersion
    from routecore.store.publish import publish_image
    from routecore.store.reports import REPORTS, day_range, report_rows, write_csv

_HOME = {
    "ReviewError": "routecore.errors",
    "StoreError": "routecore.errors",
    "CallQuery": "routecore.store.browse",
    "CallStore": "routecore.store.calls",
    "Purged": "routecore.store.calls",
    "months_before": "routecore.store.calls",
    "FlowStore": "routecore.store.flows",
    "FlowVersion": "routecore.store.flows",
    "publish_image": "routecore.store.publish",
    "REPORTS": "routecore.store.reports",
    "day_range": "routecore.store.reports",
    "report_rows": "routecore.store.reports",
    "write_csv": "routecore.store.reports",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "REPORTS",
    "CallQuery",
    "CallStore",
    "FlowStore",
    "FlowVersion",
    "Purged",
    "ReviewError",
    "StoreError",
    "day_range",
    "months_before",
    "publish_image",
    "report_rows",
    "write_csv",
]
