"""Opening a routing image: the same cost for 10 sections or 10,000 (only the header is read).

Beside it, the reference backend, and the lookup of one section by name.
"""

from __future__ import annotations

from typing import Any

import pytest

import routecore.backend.native
import routecore.py

BACKENDS = {"native": routecore.backend.native, "py": routecore.py}


def _image(backend: Any, sections: int) -> bytes:
    one = backend.Trie.build({"010": 1, "0755": 2}, exact={"13800138000": 3}).to_bytes()
    return bytes(backend.build_image([(f"4008{i:06d}", one) for i in range(sections)]))


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("sections", [10, 10_000])
def test_open_image(benchmark: Any, tmp_path: Any, backend_name: str, sections: int) -> None:
    backend = BACKENDS[backend_name]
    path = tmp_path / "routes.img"
    path.write_bytes(_image(backend, sections))
    benchmark.group = f"open an image file of {sections} sections"
    benchmark.extra_info["backend"] = backend_name
    image = benchmark(backend.Image.open, path)
    assert len(image) == sections


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_find_section_and_lookup(benchmark: Any, backend_name: str) -> None:
    backend = BACKENDS[backend_name]
    image = backend.Image.from_buffer(_image(backend, 10_000))
    benchmark.group = "find a section among 10,000 and look a number up"
    benchmark.extra_info["backend"] = backend_name
    got = benchmark(lambda: image.trie("4008004321").lookup("075512345678"))
    assert got == 2
