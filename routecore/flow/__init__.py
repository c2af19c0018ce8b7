"""Flows: the per-400-number routing configuration, read from YAML or JSON and validated.

``load_flow("flows/4008001234.yaml")`` reads and validates one flow file and returns a typed
:class:`Flow`, or raises :class:`FlowError` listing every error at once, each a
:class:`FlowIssue` naming the file, the path inside the document and the rule. The format is
described in ``docs/flow-format.md``; :func:`json_schema` gives its JSON Schema (also committed
as ``docs/flow.schema.json``) for editors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routecore.errors import FlowError
from routecore.flow.issues import FlowIssue
from routecore.flow.loader import parse_text, read_flow_file
from routecore.flow.model import Flow
from routecore.flow.validate import validate_flow

__all__ = [
    "Flow",
    "FlowError",
    "FlowIssue",
    "json_schema",
    "load_flow",
    "loads_flow",
    "validate_flow",
]


def load_flow(path: str | Path) -> Flow:
    """Read and validate one flow file (``.json``: JSON, otherwise YAML).

    Raises :class:`FlowError` with every error found (and the warnings). The warnings of a valid
    flow are dropped here; :func:`validate_flow` returns them.
    """
    data, issues = read_flow_file(path)
    return _finish(data, issues, str(path))[0]


def loads_flow(
    text: str, *, source: str, json_format: bool = False
) -> tuple[Flow, list[FlowIssue]]:
    """Parse and validate flow text; returns the flow and its warnings, like validate_flow."""
    data, issues = parse_text(text, source=source, json_format=json_format)
    return _finish(data, issues, source)


def _finish(data: Any, issues: list[FlowIssue], source: str) -> tuple[Flow, list[FlowIssue]]:
    if data is None and issues:
        raise FlowError(issues)
    try:
        flow, warnings = validate_flow(data, source=source)
    except FlowError as exc:
        raise FlowError(issues + exc.errors, exc.warnings) from None
    if issues:
        raise FlowError(issues, warnings)
    return flow, warnings


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the flow format, for editors and other tools."""
    schema = Flow.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
