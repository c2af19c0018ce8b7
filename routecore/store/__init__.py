"""Stores: flow versions and their review workflow, call records with their reports and
retention (SQLite by default)."""

from __future__ import annotations

from routecore.errors import ReviewError, StoreError
from routecore.store.calls import CallStore, Purged, months_before
from routecore.store.flows import FlowStore, FlowVersion
from routecore.store.publish import publish_image
from routecore.store.reports import REPORTS, day_range, report_rows, write_csv

__all__ = [
    "REPORTS",
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
