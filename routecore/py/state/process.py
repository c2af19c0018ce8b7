"""Mirrors ``crates/routecore-core/src/state/process.rs``: processes, is a pid alive, and when
did it start (to tell a reused pid from a lease's owner), and this process's own identity.

Defined once in :mod:`routecore.state.process`, which the Redis store shares.
"""

from __future__ import annotations

from routecore.state.process import (
    namespace_id,
    own_namespace,
    own_start_time,
    pid_alive,
    pid_namespace,
    process_start_time,
)

__all__ = [
    "namespace_id",
    "own_namespace",
    "own_start_time",
    "pid_alive",
    "pid_namespace",
    "process_start_time",
]
