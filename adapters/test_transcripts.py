"""The transcripts kept in the repository are the platform's captured bytes, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


def test_the_copies_match_the_platforms_captures() -> None:
    for parent in Path(__file__).resolve().parents:
        shared = parent / "shared" / "protocol"
        if shared.is_dir():
            break
    else:
        pytest.skip("the platform's shared/protocol is not beside this checkout")
    for original in sorted(shared.glob("*")):
        assert (TRANSCRIPTS / original.name).read_bytes() == original.read_bytes(), original.name
