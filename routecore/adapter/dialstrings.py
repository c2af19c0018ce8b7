"""Dial-string templates per kind of number: which PBX channel rings a destination (B1).

A template is a checked value (:func:`routecore.adapter.values.checked`) with ``{number}``
once, e.g. ``PJSIP/{number}@trunk`` or ``Local/{number}@destinations`` on Asterisk,
``sofia/gateway/trunk/{number}`` or ``loopback/{number}/destinations`` on FreeSWITCH. A number
of at most 6 digits is an ``extension``; a longer one is ``mobile``, ``landline``, ``service``
or ``international`` as routecore classifies it; each kind without a template of its own uses
the ``default`` one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from routecore.adapter.errors import AdapterError
from routecore.adapter.values import checked

__all__ = ["KINDS", "DialTemplates"]

KINDS: Final = ("default", "extension", "mobile", "landline", "service", "international")
_EXTENSION_MAX = 6


class DialTemplates:
    """The templates of one adapter, checked when made."""

    __slots__ = ("_by_kind",)

    def __init__(self, templates: Mapping[str, str]) -> None:
        if "default" not in templates:
            raise AdapterError("dial templates: a 'default' template is needed")
        for kind, template in templates.items():
            if kind not in KINDS:
                raise AdapterError(f"dial templates: unknown kind {kind!r} ({', '.join(KINDS)})")
            if not isinstance(template, str) or template.count("{number}") != 1:
                raise AdapterError(f"dial template {kind}: {template!r} needs '{{number}}' once")
            checked(template.replace("{number}", "0"), f"dial template {kind}")
        self._by_kind = dict(templates)

    @classmethod
    def parse(cls, specs: Iterable[str], default: str) -> DialTemplates:
        """From ``kind=template`` words (``mobile=PJSIP/{number}@trunk``); a word without
        ``=`` is the default template; ``default`` when none is given."""
        templates = {"default": default}
        for spec in specs:
            kind, sep, template = spec.partition("=")
            if not sep:
                kind, template = "default", spec
            templates[kind.strip()] = template.strip()
        return cls(templates)

    @property
    def templates(self) -> dict[str, str]:
        return dict(self._by_kind)

    def kind(self, number: str) -> str:
        """The kind of a destination number (see the module)."""
        if len(number) <= _EXTENSION_MAX:
            return "extension"
        from routecore.engine.callerid import default_classify

        return str(default_classify()(number).kind)

    def dial_string(self, number: str) -> str:
        """The channel that rings ``number``: its kind's template (or the default) filled."""
        checked(number, "dial target")
        template = self._by_kind["default"]
        if len(self._by_kind) > 1:  # classify only when a kind has a template of its own
            template = self._by_kind.get(self.kind(number), template)
        return template.replace("{number}", number)
