"""Choosing the backend: the compiled core (``native``) or the pure-Python reference (``py``).

Without the compiled core (a source tree where ``routecore._native`` was never built), asking
for the native backend raises :class:`~routecore.errors.NativeImportError` saying how to build
it, at ``import routecore`` already when ``ROUTECORE_BACKEND`` does not choose ``py``; the
pure-Python reference needs no build.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

from routecore.errors import NativeImportError, RoutecoreError

BACKENDS = ("native", "py")
_MODULES = {"native": "routecore.backend.native", "py": "routecore.py"}
ENV = "ROUTECORE_BACKEND"
BUILD = (
    "build it in the source tree with `make install` (the development setup) or "
    "`maturin develop --release` (in a virtualenv with maturin), or install a routecore wheel; "
    f"or use the pure-Python reference: {ENV}=py"
)


def get_backend(name: str | None = None) -> ModuleType:
    """The backend module ``routecore.backend.native`` or ``routecore.py``.

    ``name`` defaults to the environment variable ``ROUTECORE_BACKEND``, then ``native``.
    """
    chosen = name if name is not None else os.environ.get(ENV, "native")
    if chosen not in BACKENDS:
        raise RoutecoreError(f"unknown backend {chosen!r}: choose one of {', '.join(BACKENDS)}")
    if chosen == "native" and "routecore.backend.native" not in sys.modules:
        require_native()
    return importlib.import_module(_MODULES[chosen])


def check_default_backend() -> None:
    """At ``import routecore``: NativeImportError when the environment chooses the native
    backend (or nothing) and the compiled core is not built. Looks for the file only: the
    extension itself is loaded at the first use of a name."""
    if os.environ.get(ENV, "native") == "native":
        require_native()


def require_native() -> None:
    """NativeImportError, saying how to build it, when ``routecore._native`` is not built."""
    if not native_built():
        raise native_error()


def native_built() -> bool:
    """Whether an extension module ``routecore._native`` is there to import (a directory of
    that name, e.g. Rust sources, is not one)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("routecore._native")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and spec.submodule_search_locations is None


def native_error(cause: ImportError | None = None) -> NativeImportError:
    """The error to raise when the compiled core is not built, or when importing it failed
    with ``cause`` although it is there (built for another Python, a broken build)."""
    if cause is None or not native_built():
        where = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        message = f"routecore's compiled core is not built (no routecore._native in {where})"
    else:
        message = f"routecore's compiled core cannot be loaded ({cause}): rebuild it"
    return NativeImportError(f"{message}: {BUILD}", name="routecore._native")
