"""Every test suite of the checkout (``tests``, ``adapters``, ``portal/portal_tests``): the host's
shared state is one made for the run, never the machine's own.

A command or a portal page that publishes bumps the generation of the state at
``$ROUTECORE_STATE``, else of ``/dev/shm/routecore-state`` when that file exists: without this, a
test would change the state of whatever routes calls on the machine, and fail on a file of
another layout left there.
"""

from __future__ import annotations

import os
import tempfile

os.environ["ROUTECORE_STATE"] = os.path.join(
    tempfile.mkdtemp(prefix="routecore-test-state-"), "state"
)


def pytest_sessionstart() -> None:
    """The run's state file, made with the default sizes (a few MiB, a few milliseconds)."""
    from routecore.backend import get_backend

    get_backend().State.create(os.environ["ROUTECORE_STATE"]).close()
