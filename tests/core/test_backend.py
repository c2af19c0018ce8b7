"""Choosing the backend: the environment variable, get_backend, and a clear error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import routecore
from routecore.errors import RoutecoreError


@pytest.mark.parametrize("name", ["native", "py"])
def test_environment_variable_selects_the_backend(name):
    env = {**os.environ, "ROUTECORE_BACKEND": name}
    code = (
        "import routecore; c = routecore.classify('13800138000');"
        "print(routecore.BACKEND, type(c).__module__, c.area_code)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    module = "routecore._native" if name == "native" else "routecore.py.numbers"
    assert out.stdout.split() == [name, module, "010"]


def test_get_backend_and_unknown_names():
    assert routecore.get_backend("py").NAME == "py"
    assert routecore.get_backend("native").NAME == "native"
    with pytest.raises(RoutecoreError, match="unknown backend 'rust'"):
        routecore.get_backend("rust")


def test_both_backends_export_the_same_names():
    native, ref = routecore.get_backend("native"), routecore.get_backend("py")
    assert sorted(native.__all__) == sorted(ref.__all__)
    for name in ref.__all__:
        if name != "classify":  # bound lazily on the native side
            assert hasattr(native, name) and hasattr(ref, name), name
