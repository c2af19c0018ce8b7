"""Writing a routing image so that readers see the old file or the new one, never a mix (F1).

The temporary file is created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, a random name in
the image's folder): a file or symlink planted at a name the writer could predict is never
followed nor written, and two writers never share a temporary file.

``step_hook`` is for crash tests: when set, it is called with the name of each step of a
publish as that step completes (:data:`PUBLISH_STEPS`), so a test can kill the process at
exactly that point (``os._exit``) instead of guessing with a sleep.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from routecore.errors import StoreError

__all__ = [
    "LOCK_TIMEOUT", "PUBLISH_STEPS", "image_lock", "publish_image", "publish_set", "step",
    "step_hook",
]  # fmt: skip

PUBLISH_STEPS = ("compiled", "committed", "temp-written", "renamed", "image-written")
"""The steps of ``FlowStore.publish``/``rollback``, in order: the new image compiled (the store's
transaction still open), the store committed, the temporary image file written and synced,
the image renamed into place, the folder synced (the image is written)."""

step_hook: Callable[[str], object] | None = None
"""Tests only: called with each step's name as it completes (None: nothing is called)."""


def step(name: str) -> None:
    """Mark that step ``name`` of a publish has completed (see ``step_hook``)."""
    if step_hook is not None:
        step_hook(name)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _create_temp(folder: str, base: str) -> tuple[int, str]:
    """A new, empty file in ``folder`` that nobody else could have opened or planted."""
    while True:
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _CREATE, 0o666), tmp  # the umask applies, as for open()
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


def _remove_orphans(folder: str, base: str) -> None:
    """Remove temporary files of this image left by writers that died (their pid is gone)."""
    pattern = re.compile(rf"\.{re.escape(base)}\.([0-9]+)\.[0-9a-f]{{16}}\.tmp")
    try:
        names = os.listdir(folder)
    except OSError:  # pragma: no cover - the folder was just written to
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # its writer may still be at work
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            full = os.path.join(folder, name)
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
        except OSError:
            pass


def publish_image(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: an exclusively created temporary file in the
    same folder, fsync, rename over ``path``, fsync of the folder. A crash at any point leaves
    the previous file or the new one in place, and at worst an orphan ``.NAME.PID.*.tmp``
    file, which the next write removes once its process is gone."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = _create_temp(folder, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        step("temp-written")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    step("renamed")
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    _remove_orphans(folder, os.path.basename(target))


SHARDS_KEPT_SECONDS = 600.0
"""A shard file no index lists any more is removed once it is this old: a routing process that
mapped the index before still opens the shards of the calls it takes meanwhile."""


def publish_set(
    path: str | os.PathLike[str],
    index: bytes,
    shards: Mapping[str, bytes],
    fetch: Callable[[str], bytes | None] | None = None,
) -> None:
    """Write an image set (``routecore.state.image_set``): every shard file the ``index``
    lists that is not in the folder yet (from ``shards``, else ``fetch(name)``), each
    atomically, then the index at ``path`` atomically; then remove the shard files neither
    this index nor the one before lists, once :data:`SHARDS_KEPT_SECONDS` old. A crash leaves
    the previous index in place, its shards with it."""
    from routecore.backend import get_backend
    from routecore.state.image_set import INDEX, folder_of, read_index

    target = os.fspath(path)
    folder = folder_of(target)
    os.makedirs(folder, exist_ok=True)
    core = get_backend()
    files = read_index(core.Image.from_buffer(index))
    for name in files:
        if name is None or os.path.exists(os.path.join(folder, name)):
            continue
        data = shards.get(name) if name in shards else (fetch(name) if fetch else None)
        if data is None:
            raise StoreError(f"{target}: shard {name} is neither built nor in the store")
        publish_image(os.path.join(folder, name), data)
    kept = set(files)
    try:
        old = core.Image.open(target)
        if INDEX in old:
            kept |= set(read_index(old))
    except (OSError, ValueError):
        pass
    publish_image(target, index)
    now = time.time()
    for name in os.listdir(folder):
        full = os.path.join(folder, name)
        try:
            if name.endswith(".img") and name not in kept:
                if now - os.lstat(full).st_mtime > SHARDS_KEPT_SECONDS:
                    os.unlink(full)
        except OSError:
            pass


LOCK_TIMEOUT = 30.0
"""Seconds a publisher waits for another one's image lock before giving up (StoreError)."""


@contextmanager
def image_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the exclusive lock of the image at ``path`` (``flock`` of ``.NAME.lock`` beside it,
    created if needed, never through a symlink): one publisher at a time writes an image, so
    an image always follows the store's last commit. The lock dies with its process; waiting
    for it longer than :data:`LOCK_TIMEOUT` seconds is a StoreError."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    lock = os.path.join(folder, f".{os.path.basename(target)}.lock")
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{target}: another process is publishing this image "
                        f"(waited {LOCK_TIMEOUT:g} s)"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)
