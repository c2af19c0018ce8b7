"""Reading a flow file (YAML or JSON) into plain data, with the problems found on the way.

YAML is read with a small, predictable set of implicit types, close to YAML 1.2's core schema:
``true``/``false``, ``null``/``~``, decimal integers without leading zeros, and decimals. So
``010`` or ``0755`` stay strings (YAML 1.1 would read an octal number), ``9:30`` stays a string
(not 570), ``yes``/``no``/``on``/``off`` stay strings, and dates stay ``YYYY-MM-DD`` strings.
Every mapping key is kept as the text written (``1:`` in a menu is the key ``"1"``). A key given
twice in one mapping is an error, reported with its path (PyYAML and json keep the last one).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from routecore.flow.issues import FlowIssue, format_path

__all__ = ["parse_text", "read_flow_file"]

_MAX_DEPTH = 64
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


def read_flow_file(path: str | Path) -> tuple[Any, list[FlowIssue]]:
    """Read and parse a flow file; ``.json`` files are JSON, anything else YAML."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FlowIssue(source, "", f"cannot read the file: {exc}")]
    return parse_text(text, source=source, json_format=source.lower().endswith(".json"))
