"""Reading a flow file (YAML or JSON) into plain data, with the problems found on the way.

YAML is read with a small, predictable set of implicit types, close to YAML 1.2's core schema:
``true``/``false``, ``null``/``~``, decimal integers without leading zeros, and decimals. So
``010`` or ``0755`` stay strings (YAML 1.1 would read an octal number), ``9:30`` stays a string
(not 570), ``yes``/``no``/``on``/``off`` stay strings, and dates stay ``YYYY-MM-DD`` strings.
Every mapping key is kept as the text written (``1:`` in a menu is the key ``"1"``). A key given
twice in one mapping is an error, reported with its path (PyYAML and json keep the last one).

Limits, each reported as a problem of the document (so a ``FlowError``, never another
exception): a document of more than :data:`MAX_DOCUMENT_BYTES` bytes is not read at all (a
flow is a few kilobytes; reading 30 MB of YAML takes half a minute), values nested more than
:data:`MAX_DEPTH` deep (YAML or JSON), and more than a million values (YAML aliases).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from routecore.flow.issues import FlowIssue, format_path

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "parse_text", "read_flow_file", "read_flow_text"]

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""The largest flow document read (UTF-8 bytes): 4 MiB, a thousand times a large flow."""
MAX_DEPTH = 64
"""How deep values may nest in a flow document."""
_MAX_DEPTH = MAX_DEPTH
_MAX_NODES = 1_000_000  # aliases can make a small file expand exponentially

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")

_STR = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


class _Loader(yaml.SafeLoader):
    """SafeLoader with only the implicit types above (composition only: no constructors run)."""


# Not SafeLoader's resolvers: only the ones added below (add_implicit_resolver would copy them).
_Loader.yaml_implicit_resolvers = {}


_Loader.add_implicit_resolver(_BOOL_TAG, _BOOL, list("tTfF"))
_Loader.add_implicit_resolver(_NULL_TAG, _NULL, ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


class _Converter:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[FlowIssue] = []
        self.nodes = 0

    def issue(self, path: list[str | int], message: str) -> None:
        self.issues.append(FlowIssue(self.source, format_path(path), message))

    def convert(self, node: yaml.Node, path: list[str | int]) -> Any:
        line = node.start_mark.line + 1
        self.nodes += 1
        if self.nodes == _MAX_NODES:
            self.issue(path, f"too many values (more than {_MAX_NODES})")
        if self.nodes >= _MAX_NODES:
            return None
        if len(path) > _MAX_DEPTH:
            self.issue(path, f"nested too deeply (line {line})")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, [*path, i]) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.issue(path, f"a key must be a plain value (line {line})")
                    continue
                key = str(key_node.value)
                if key in out:
                    kline = key_node.start_mark.line + 1
                    self.issue([*path, key], f"key '{key}' is given twice (line {kline})")
                    continue
                out[key] = self.convert(value_node, [*path, key])
            return out
        self.issue(path, f"unsupported YAML node (line {line})")  # pragma: no cover
        return None

    def scalar(self, node: yaml.ScalarNode, path: list[str | int]) -> Any:
        text = str(node.value)
        tag = node.tag
        if tag == _STR:
            return text
        if tag == _INT_TAG and _INT.match(text):
            return int(text)
        if tag == _FLOAT_TAG and _FLOAT.match(text):
            return float(text)
        if tag == _BOOL_TAG and _BOOL.match(text):
            return text.lower() == "true"
        if tag == _NULL_TAG and _NULL.match(text):
            return None
        self.issue(path, f"unsupported YAML tag {tag} (line {node.start_mark.line + 1})")
        return None


class _Dups(dict[str, Any]):
    """A JSON object that remembers the keys given twice."""

    dups: list[str]


def _json_pairs(pairs: list[tuple[str, Any]]) -> _Dups:
    out = _Dups()
    out.dups = []
    for key, value in pairs:
        if key in out:
            out.dups.append(key)
        else:
            out[key] = value
    return out


def _json_plain(value: Any, path: list[str | int], conv: _Converter) -> Any:
    if len(path) > _MAX_DEPTH and isinstance(value, dict | list):
        conv.issue(path, "nested too deeply")
        return None
    if isinstance(value, dict):
        for key in getattr(value, "dups", []):
            conv.issue([*path, key], f"key '{key}' is given twice")
        return {k: _json_plain(v, [*path, k], conv) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_plain(v, [*path, i], conv) for i, v in enumerate(value)]
    return value


def parse_text(text: str, *, source: str, json_format: bool = False) -> tuple[Any, list[FlowIssue]]:
    """Parse YAML (or JSON) text into plain data; ``None`` when it cannot be read at all."""
    conv = _Converter(source)
    size = _size(text)
    if size > MAX_DOCUMENT_BYTES:
        conv.issue([], _too_large(size))
        return None, conv.issues
    if json_format:
        try:
            raw = json.loads(text, object_pairs_hook=_json_pairs)
        except (ValueError, RecursionError) as exc:
            conv.issue([], f"not valid JSON: {exc}")
            return None, conv.issues
        return _json_plain(raw, [], conv), conv.issues
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError) as exc:
        conv.issue([], "not valid YAML: " + " ".join(str(exc).split()))
        return None, conv.issues
    if len(nodes) != 1:
        conv.issue([], f"a flow file holds one YAML document, found {len(nodes)}")
        return None, conv.issues
    return conv.convert(nodes[0], []), conv.issues


def _size(text: str) -> int:
    """The UTF-8 bytes of ``text``, or its length when that many characters cannot exceed the
    limit (a character is at most 4 bytes): a short text is never encoded."""
    if len(text) * 4 <= MAX_DOCUMENT_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _too_large(size: int | None) -> str:
    got = f"{size} bytes" if size is not None else "larger"
    return f"the document is {got}: a flow document has at most {MAX_DOCUMENT_BYTES} bytes"


def read_flow_text(path: str | Path) -> tuple[str | None, list[FlowIssue]]:
    """The text of a flow file, or None and the problem: unreadable, not UTF-8, or larger than
    :data:`MAX_DOCUMENT_BYTES` (never read past that, whatever the file is)."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
        if len(raw) > MAX_DOCUMENT_BYTES:
            size = os.path.getsize(path) if os.path.isfile(path) else None
            return None, [FlowIssue(source, "", _too_large(size))]
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FlowIssue(source, "", f"cannot read the file: {exc}")]
    return text.replace("\r\n", "\n").replace("\r", "\n"), []  # as text mode reads it


def read_flow_file(path: str | Path) -> tuple[Any, list[FlowIssue]]:
    """Read and parse a flow file; ``.json`` files are JSON, anything else YAML."""
    source = str(path)
    text, issues = read_flow_text(path)
    if text is None:
        return None, issues
    return parse_text(text, source=source, json_format=source.lower().endswith(".json"))
