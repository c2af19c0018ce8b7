"""Processes: is a pid alive, when did it start, and this process's own identity.

A lease names its owner by pid, start time (to tell a reused pid from the owner) and PID
namespace; the twin's state file (``routecore.py.state``) and the Redis store
(``routecore.state.redis``) both take them from here, as the compiled core does from
``crates/routecore-core/src/state/process.rs``.
"""

from __future__ import annotations

import os

from routecore.state.format import MASK32

__all__ = [
    "namespace_id",
    "own_namespace",
    "own_start_time",
    "pid_alive",
    "pid_namespace",
    "process_start_time",
]


def pid_namespace() -> int:
    """The PID namespace of this process: the inode of ``/proc/self/ns/pid`` (0 if unreadable).

    Pids (and so lease owners) mean the same process only within one PID namespace.
    """
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def namespace_id(inode: int) -> int:
    """The id a lease record stores for a PID namespace: the low 32 bits of its inode (0 =
    unknown)."""
    return inode & MASK32


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks since boot), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = raw[raw.rfind(b")") + 1 :].split()
    try:
        return int(rest[22 - 3])  # rest[0] is field 3
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """``kill(pid, 0)``: False only when the process is gone (ESRCH) or the pid is impossible."""
    if not 0 < pid <= 0x7FFFFFFF:
        return False  # 0 would signal our own process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


_own: tuple[int, int, int] = (0, 0, 0)  # pid, start time, PID namespace id


def _own_process() -> tuple[int, int, int]:
    global _own
    pid = os.getpid()
    if _own[0] != pid:
        _own = (pid, process_start_time(pid) or 0, namespace_id(pid_namespace()))
    return _own


def own_start_time() -> int:
    """This process's start time (0 where /proc is missing); recomputed after a fork."""
    return _own_process()[1]


def own_namespace() -> int:
    """This process's PID namespace id as a lease record stores it (0 where /proc is missing);
    recomputed after a fork (a child forked into a new PID namespace has its own)."""
    return _own_process()[2]
