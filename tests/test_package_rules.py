"""The package's rules of import, read from the source with ``ast`` (nothing is imported to walk).

(a) No module of ``routecore`` but ``routecore/__init__.py`` imports the package root
    (``import routecore``, ``from routecore import …``): the root only re-exports, lower layers
    import each other (``from routecore.state.format import …`` is fine).
(b) No module outside ``routecore/py/`` imports the pure-Python twin (``routecore.py`` or a
    submodule of it), the adapters neither: the twin serves the differential tests, and the
    backend switch (``routecore.backend``) loads it by name when ``py`` is chosen.
(c) ``routecore.__all__``, the public API, is the list frozen here, and every name resolves.

Each rule is also run on a small source that breaks it, so a rule that can no longer see a
violation fails here too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
PACKAGES = (  # (folder of the package, its import name)
    (ROOT / "routecore", "routecore"),
    (ROOT / "adapters" / "asterisk" / "routecore_asterisk", "routecore_asterisk"),
    (ROOT / "adapters" / "freeswitch" / "routecore_freeswitch", "routecore_freeswitch"),
)
PACKAGE = "routecore"
TWIN = "routecore.py"
ROOT_INIT = "routecore"  # the one module that may import the package root: its __init__

PUBLIC_API = [
    "BACKEND",
    "BACKENDS",
    "KIND_CODES",
    "MODES",
    "ActionError",
    "Answered",
    "Attempt",
    "CallRecord",
    "CallSession",
    "CallStarted",
    "Caller",
    "CallerHungUp",
    "Claim",
    "Classified",
    "Classifier",
    "Collect",
    "Conference",
    "ConferenceResult",
    "Destination",
    "Dial",
    "DialResult",
    "Digits",
    "DropLeg",
    "FlowError",
    "Group",
    "Hangup",
    "Image",
    "KeepAlive",
    "LayoutError",
    "LiveImage",
    "OutboundStarted",
    "Play",
    "RoutecoreError",
    "Routed",
    "SegmentDataError",
    "SegmentTable",
    "SelectionError",
    "SplitMix64",
    "State",
    "StateError",
    "StoreError",
    "StoreUnavailable",
    "Survey",
    "SurveyResult",
    "TimePlan",
    "TimePlanError",
    "Trie",
    "TrieError",
    "Voicemail",
    "VoicemailResult",
    "blob_table",
    "build_image",
    "classify",
    "classify_batch",
    "default_classifier",
    "get_backend",
    "load_flow",
    "load_segments",
    "open_state",
    "route",
    "set_default_classifier",
]
"""``routecore.__all__`` as it was before the package's layout work: the public API it keeps."""


def modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES:
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _from(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The module a ``from … import`` names, a relative one resolved against ``module``."""
    if not node.level:
        return node.module or ""
    here = module.split(".") if is_package else module.split(".")[:-1]
    base = here[: len(here) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported(module: str, source: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything ``source`` imports, anywhere in it (functions and
    ``if TYPE_CHECKING:`` blocks too): ``import a.b`` gives ``a.b``, ``from a import b`` gives
    ``a`` and ``a.b`` (``b`` may be a module), relative imports resolved against ``module``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            name = _from(module, node, is_package)
            yield node.lineno, name
            for alias in node.names:
                yield node.lineno, f"{name}.{alias.name}"


def imports_root(module: str, source: str, is_package: bool) -> list[str]:
    """Rule (a): where a module of the package (not its ``__init__``) imports the root."""
    if module == ROOT_INIT or not module.startswith(PACKAGE + "."):
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name == PACKAGE]
        elif isinstance(node, ast.ImportFrom) and _from(module, node, is_package) == PACKAGE:
            found.append(f"{node.lineno}: from {PACKAGE} import …")
    return found


def imports_twin(module: str, source: str, is_package: bool) -> list[str]:
    """Rule (b): where a module outside the twin imports the twin."""
    if module == TWIN or module.startswith(TWIN + "."):
        return []
    hits: dict[int, str] = {}
    for line, name in imported(module, source, is_package):
        if (name == TWIN or name.startswith(TWIN + ".")) and line not in hits:
            hits[line] = name
    return [f"{line}: {name}" for line, name in sorted(hits.items())]


def _check(rule: Callable[[str, str, bool], list[str]]) -> list[str]:
    broken = []
    for module, path in modules().items():
        where = path.relative_to(ROOT)
        source = path.read_text(encoding="utf-8")
        broken += [f"{where}:{hit}" for hit in rule(module, source, path.name == "__init__.py")]
    return broken


def test_the_walk_sees_every_package() -> None:
    found = modules()
    for _, package in PACKAGES:
        assert package in found, f"no {package}/__init__.py found"
    for name in ("routecore.state.redis", "routecore.state.views", "routecore.py.state"):
        assert name in found


def test_no_module_imports_the_package_root() -> None:
    broken = _check(imports_root)
    assert not broken, (
        "only routecore/__init__.py imports the package root; import the module that defines"
        " the name instead:\n" + "\n".join(broken)
    )


def test_only_the_twin_imports_the_twin() -> None:
    broken = _check(imports_twin)
    assert not broken, (
        "nothing outside routecore/py/ imports the pure-Python twin; share what both need"
        " from a production module (routecore.state.format, routecore.state.checks, …):\n"
        + "\n".join(broken)
    )


def test_the_public_api_is_unchanged() -> None:
    import routecore

    assert list(routecore.__all__) == PUBLIC_API
    missing = [name for name in PUBLIC_API if not hasattr(routecore, name)]
    assert not missing, f"names of routecore.__all__ that do not resolve: {missing}"


# -- each rule sees a violation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        ("routecore.engine.plan", "import routecore\n", False),
        ("routecore.engine.plan", "import os, routecore as rc\n", False),
        ("routecore.engine.plan", "from routecore import State\n", False),
        ("routecore.engine.plan", "def f():\n    from routecore import route\n", False),
        ("routecore.errors", "from . import rules\n", False),
        ("routecore.engine", "from .. import rules\n", True),
    ],
)
def test_rule_a_sees_an_import_of_the_root(module: str, source: str, is_package: bool) -> None:
    assert imports_root(module, source, is_package)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("routecore", "import routecore\nfrom routecore.backend import get_backend\n"),
        ("routecore.engine.plan", "import routecore.state\nfrom routecore.state import x\n"),
        ("routecore.engine.plan", "from routecore.py_helpers import x\n"),
        ("routecore_asterisk.agi", "import routecore\nfrom routecore import route\n"),
    ],
)
def test_rule_a_lets_submodule_imports_pass(module: str, source: str) -> None:
    assert not imports_root(module, source, False)


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        ("routecore.state.views", "import routecore.py\n", False),
        ("routecore.state.views", "import routecore.py.state as s\n", False),
        ("routecore.state.views", "from routecore.py.state import BRANCHES\n", False),
        ("routecore.state.views", "from routecore.py import state\n", False),
        ("routecore.state.views", "from routecore import py\n", False),
        (
            "routecore.state.protocol",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from routecore.py.state import State\n",
            False,
        ),
        ("routecore.errors", "from .py import state\n", False),
        ("routecore.state", "from ..py.state import header\n", True),
        ("routecore_asterisk.agi", "from routecore.py.numbers import classify\n", False),
    ],
)
def test_rule_b_sees_an_import_of_the_twin(module: str, source: str, is_package: bool) -> None:
    assert imports_twin(module, source, is_package)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("routecore.py.state.dest", "from routecore.py.state.header import DEST\n"),
        ("routecore.py", "from routecore.py import state\n"),
        ("routecore.state.views", "from routecore.state.format import DEST\n"),
        ("routecore.state.views", "import routecore.pyx\nfrom routecore.python import x\n"),
    ],
)
def test_rule_b_lets_the_twin_and_other_modules_pass(module: str, source: str) -> None:
    assert not imports_twin(module, source, False)
