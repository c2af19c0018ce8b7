"""One finding of flow validation: where it is (file and dotted path), what rule it breaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FlowIssue", "Severity", "format_path"]

Severity = Literal["error", "warning"]


def format_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``("menus", "main", "keys", "9")`` -> ``menus.main.keys.9``; the document is ``""``."""
    return ".".join(str(part) for part in loc)


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """A problem found in a flow document.

    ``source`` is the file (or any label the caller gave), ``path`` the dotted path of the value
    inside the document (``""`` for the document itself), ``message`` the rule it breaks, and
    ``severity`` ``"error"`` (the flow is rejected) or ``"warning"`` (it is accepted).
    ``str()`` gives ``4008001234.yaml: menus.main.keys.9: unknown target 'sales2'``.
    """

    source: str
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"
