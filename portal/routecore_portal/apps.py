"""The portal's Django application (B15)."""

from __future__ import annotations

import os

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "routecore_portal"
    verbose_name = "routecore portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Undo Django's change of the process's TZ (it sets it to TIME_ZONE at start): aware
        datetimes do not need it, and every other part of the process would see another local
        time (the PBX harness's log times were 8 hours off under pytest)."""
        import time

        from django.conf import settings

        original = getattr(settings, "ORIGINAL_TZ", None)
        if original is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = original
        if hasattr(time, "tzset"):
            time.tzset()
