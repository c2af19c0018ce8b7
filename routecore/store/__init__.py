"""Stores: flow versions and their review workflow (SQLite by default)."""

from __future__ import annotations

from routecore.errors import ReviewError
from routecore.store.flows import FlowStore, FlowVersion
from routecore.store.publish import publish_image

__all__ = ["FlowStore", "FlowVersion", "ReviewError", "publish_image"]
