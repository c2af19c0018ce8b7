"""Errors at the door: without the compiled core, ``import routecore`` says how to build it.

Each case runs Python in a subprocess on a copy of the ``routecore`` package without the built
extension (``routecore/_native*.so``), put first on the path: a source tree where nobody ran
``make install``. The pure-Python backend (``ROUTECORE_BACKEND=py``) still works there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import routecore

PACKAGE = Path(routecore.__file__).resolve().parent
EXAMPLE = PACKAGE.parent / "examples" / "4006001002.yaml"  # time routes: the zone is checked


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder holding a copy of the package without the compiled core."""
    shutil.copytree(
        PACKAGE,
        tmp_path / "routecore",
        ignore=shutil.ignore_patterns("_native*", "__pycache__"),
    )
    return tmp_path


def run(tree: Path, code: str, backend: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ROUTECORE_BACKEND", "PYTHONSAFEPATH")}
    env["PYTHONPATH"] = str(tree)
    if backend is not None:
        env["ROUTECORE_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True
    )


def assert_says_how_to_build(stderr: str) -> None:
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("routecore.errors.NativeImportError: "), stderr
    assert "compiled core is not built" in last
    for hint in ("make install", "maturin develop --release", "ROUTECORE_BACKEND=py"):
        assert hint in last, (hint, last)


def test_the_copy_is_what_runs(tree: Path) -> None:
    out = run(tree, "import routecore; print(routecore.__file__)", "py")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tree / "routecore" / "__init__.py")


@pytest.mark.parametrize("backend", [None, "native"])
@pytest.mark.parametrize("sources", [False, True], ids=["nothing", "a _native folder"])
def test_import_says_how_to_build_the_core(tree: Path, backend: str | None, sources: bool) -> None:
    """Unset or ``native``, the default backend needs the core; a folder named ``_native`` (Rust
    sources once lived there) is not the core either: it used to import as an empty namespace
    package and fail later with "cannot import name 'MODES'"."""
    if sources:
        (tree / "routecore" / "_native").mkdir()
        (tree / "routecore" / "_native" / "lib.rs").write_text("// not built\n")
    out = run(tree, "import routecore", backend)
    assert out.returncode == 1
    assert_says_how_to_build(out.stderr)


def test_the_error_is_an_import_error_and_a_routecore_error(tree: Path) -> None:
    code = (
        "try:\n"
        "    import routecore\n"
        "except ImportError as e:\n"
        "    print(*(c.__name__ for c in type(e).__mro__), e.name)\n"
    )
    out = run(tree, code, None)
    assert out.returncode == 0, out.stderr
    names = out.stdout.split()
    assert names[0] == "NativeImportError" and names[-1] == "routecore._native"
    assert "RoutecoreError" in names and "ImportError" in names


def test_the_pure_python_backend_needs_no_build(tree: Path) -> None:
    """With ``ROUTECORE_BACKEND=py`` everything works; asking for the native backend by name
    (``get_backend("native")``, ``import routecore.backend.native``) raises the same clear error."""
    code = f"""
import routecore
from routecore.errors import NativeImportError, RoutecoreError
from routecore.cli import main
from routecore.flow import load_flow
from routecore.flow.compile import compile_flows

assert routecore.BACKEND == "py"
assert routecore.classify("13800138000").area_code == "010"
image = routecore.Image.from_buffer(compile_flows([load_flow({str(EXAMPLE)!r})]))
assert image.names()
argv = ["simulate", "--flow", {str(EXAMPLE)!r}, "4006001002", "13800138000", "answer", "hangup"]
assert main(argv) == 0
for ask in (
    lambda: routecore.get_backend("native"),
    lambda: __import__("routecore.backend.native"),
):
    try:
        ask()
    except NativeImportError as e:
        assert isinstance(e, ImportError) and isinstance(e, RoutecoreError)
        assert "make install" in str(e) and "maturin develop --release" in str(e)
    else:
        raise AssertionError("the native backend without its core")
print("ok")
"""
    out = run(tree, code, "py")
    assert out.returncode == 0, out.stderr
    assert "dial_result outcome=answered" in out.stdout and out.stdout.split()[-1] == "ok"


def test_a_core_that_cannot_be_loaded_says_to_rebuild(tree: Path) -> None:
    """A file where the extension should be that is not one (a broken or foreign build): the
    import passes (the file is there), its first use says it cannot be loaded."""
    so = PACKAGE.glob("_native*.so")
    name = next(so).name
    (tree / "routecore" / name).write_bytes(b"not an ELF file")
    out = run(tree, "import routecore; routecore.State", None)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("routecore.errors.NativeImportError: "), out.stderr
    assert "cannot be loaded" in last and "rebuild it" in last and "make install" in last
