"""The portal's Django application (B15)."""

from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "routecore_portal"
    verbose_name = "routecore portal"
    default_auto_field = "django.db.models.BigAutoField"
