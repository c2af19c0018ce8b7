"""Template filters of the portal: an outcome's label (B15)."""

from __future__ import annotations

from django import template

from routecore_portal import labels

register = template.Library()


@register.filter
def outcome(code: object) -> str:
    return labels.outcome(code)
