"""The words people read for routecore's codes: call outcomes (B15)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

OUTCOMES = {
    "answered": gettext_lazy("answered"),
    "voicemail": gettext_lazy("voicemail left"),
    "conference": gettext_lazy("conference"),
    "blacklisted": gettext_lazy("blacklisted"),
    "no_route": gettext_lazy("no route"),
    "busy": gettext_lazy("busy"),
    "no_answer": gettext_lazy("no answer"),
    "caller_hung_up": gettext_lazy("caller hung up"),
    "not_answered": gettext_lazy("not answered"),
    "normal": gettext_lazy("ended normally"),
    "error": gettext_lazy("error"),
    "cut": gettext_lazy("cut off"),
    "drained": gettext_lazy("ended by a restart"),
    "in_progress": gettext_lazy("in progress"),
}


def outcome(code: object) -> str:
    """The label of an outcome code (the code itself when it is not known)."""
    return str(OUTCOMES.get(str(code), code))
