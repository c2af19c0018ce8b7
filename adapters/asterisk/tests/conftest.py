"""Make ``routecore_asterisk`` importable from a source checkout (before it is installed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("routecore_asterisk") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
