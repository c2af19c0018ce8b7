"""Every routing host on the newest published image: ``routecore sync --watch`` follows the flow
store and writes each image published on any host (F1).

Publishing keeps the image in the store, in the transaction that makes its versions live
(``images``; on PostgreSQL announced with ``NOTIFY routecore_image`` at the commit). A follower
on each host listens (``LISTEN``; a store that cannot notify, SQLite, or a lost listening
connection: it looks every ``poll`` seconds anyway), fetches the newest image, checks it against
its SHA-256 and as an image (every checksum), writes it atomically beside the old one (a new
file renamed over the path: a call in progress keeps its mapping) and bumps the host's state
generation, so that every routing process maps it at its next call.

A store out of reach changes nothing on the host: it routes on its last good image, the follower
logs it once (and when the store is back) and its metrics say so (``reachable`` 0, the age of
the image); it catches up at the first look after the store returns. An image that fails its
checks is refused with an error and never written.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from routecore.errors import StoreError, StoreUnavailable
from routecore.store.db import is_postgres, redact

__all__ = ["POLL", "ImageFollower", "serve_metrics"]

log = logging.getLogger("routecore.sync")

POLL = 1.0
"""Seconds between looks at the store when no notification comes."""


class ImageFollower:
    """Keeps the image at ``image_path`` the newest one published to the flow store at
    ``location``; ``on_new`` runs after each image written (the host's generation bump)."""

    def __init__(
        self,
        location: str,
        image_path: str,
        *,
        on_new: Callable[[bytes], object] | None = None,
        poll: float = POLL,
        listen: bool = True,
    ) -> None:
        self.location = location
        self.image_path = image_path
        self.on_new = on_new
        self.poll = poll
        self.listen = listen and is_postgres(location)
        """Whether it waits for PostgreSQL's notification (else it polls only)."""
        self._db: Any = None
        self._listener: Any = None
        self._refused: int | None = None  # the id of an image refused (not looked at again)
        self.sha256 = _file_sha256(image_path)
        """The SHA-256 of the image the host routes on (None: none yet)."""
        self.image_id: int | None = None
        self.reachable = True
        self.synced_at: float | None = None
        """When the host last agreed with the store (seconds)."""
        self.failures = 0
        """Looks that failed (the store out of reach, an image refused)."""

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._close_listener()

    # -- one look -----------------------------------------------------------------------------

    def check(self) -> bool:
        """Look at the store once; True when a new image was written. Never raises for a store
        out of reach (logged once, ``reachable`` False) nor for a bad image (logged, refused)."""
        try:
            wrote = self._check()
        except StoreUnavailable as e:
            self.failures += 1
            if self.reachable:
                log.error("%s: routing goes on with the image this host has", e)
            self.reachable = False
            if self._db is not None:
                self._db.close()
                self._db = None
            return False
        if not self.reachable:
            log.warning("%s: the flow store is back", redact(self.location))
        self.reachable = True
        return wrote

    def _check(self) -> bool:
        if self._db is None:
            from routecore.store.sql import FlowDB

            self._db = FlowDB(self.location)
        latest = self._db.latest_image()
        if latest is None:
            self.synced_at = time.time()
            return False
        if int(latest["id"]) == self._refused:  # refused once, said once: the next one, then
            return False
        if latest["sha256"] in (self.sha256, _file_sha256(self.image_path)):  # this host's own
            self.sha256, self.image_id = latest["sha256"], int(latest["id"])  # publish, too
            self.synced_at = time.time()
            return False
        data = self._db.image_data(int(latest["id"]))
        if data is None:  # a newer one replaced it meanwhile: the next look takes that
            return False
        if hashlib.sha256(data).hexdigest() != latest["sha256"]:
            self.failures += 1
            self._refused = int(latest["id"])
            log.error("image %s: its content does not match its SHA-256, refused", latest["id"])
            return False
        try:
            _verified(data)
        except (ValueError, OSError) as e:
            self.failures += 1
            self._refused = int(latest["id"])
            log.error("image %s is not a good routing image, refused (%s)", latest["id"], e)
            return False
        from routecore.store.publish import image_lock, publish_image, publish_set

        with image_lock(self.image_path):
            if _is_index(data):  # an image set: the shards this host lacks, checked, first
                try:
                    publish_set(self.image_path, data, {}, fetch=self._shard)
                except (StoreError, ValueError) as e:
                    self.failures += 1
                    log.error("image %s: a shard cannot be had (%s); tried again", latest["id"], e)
                    return False
            else:
                publish_image(self.image_path, data)
        self.sha256, self.image_id, self.synced_at = (
            latest["sha256"],
            int(latest["id"]),
            time.time(),
        )
        log.info(
            "%s: image %s (%d bytes, published by %s) written",
            self.image_path, latest["id"], len(data), latest["publisher"],
        )  # fmt: skip
        if self.on_new is not None:
            self.on_new(data)
        return True

    def _shard(self, name: str) -> bytes | None:
        """A shard of an image set from the store, checked against its name (its SHA-256)."""
        data: bytes | None = self._db.shard_data(name)
        if data is not None and f"{hashlib.sha256(data).hexdigest()}.img" != name:
            raise ValueError(f"shard {name}: its content does not match its name")
        if data is not None:
            _verified(data)
        return data

    # -- following ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Look, then wait for a notification (at most ``poll`` s), until ``stop`` is set;
        then close (in this thread: the store's connection is this thread's)."""
        try:
            while not stop.is_set():
                try:
                    self.check()
                except StoreError as e:  # not a flow store, a newer schema: said, tried again
                    self.failures += 1
                    log.error("%s", e)
                self.wait(stop)
        finally:
            self.close()

    def wait(self, stop: threading.Event) -> None:
        """Until a notification of a new image, ``poll`` seconds, or ``stop``."""
        if not self.listen or not self.reachable:
            stop.wait(self.poll)
            return
        try:
            for _ in self._notifications():
                return
        except Exception as e:
            log.debug("listening for images failed (%s); polling", e)
            self._close_listener()
            stop.wait(self.poll)

    def _notifications(self) -> Iterator[Any]:
        import psycopg

        from routecore.store.postgres import CONNECTION_OPTIONS
        from routecore.store.sql import CHANNEL

        if self._listener is None:
            self._listener = psycopg.connect(self.location, autocommit=True, **CONNECTION_OPTIONS)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return iter(self._listener.notifies(timeout=self.poll, stop_after=1))

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None

    # -- what it says -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``reachable``, ``image_id``, ``sha256``, ``synced_at``, ``age`` (seconds since the
        host last agreed with the store) and ``failures``."""
        age = None if self.synced_at is None else max(0.0, time.time() - self.synced_at)
        return {
            "reachable": self.reachable,
            "image_id": self.image_id,
            "sha256": self.sha256,
            "synced_at": self.synced_at,
            "age": age,
            "failures": self.failures,
        }


def _file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _is_index(data: bytes) -> bool:
    from routecore.backend import get_backend
    from routecore.state.image_set import INDEX

    return INDEX in get_backend().Image.from_buffer(data)


def _verified(data: bytes) -> None:
    """``data`` opened as an image and checked whole (ValueError when it is not one)."""
    from routecore.backend import get_backend

    get_backend().Image.from_buffer(data).verify()


def serve_metrics(follower: ImageFollower, host: str, port: int) -> None:
    """The follower's figures for Prometheus on ``host:port``: ``routecore_image_store_reachable``
    (1/0), ``routecore_image_id``, ``routecore_image_age_seconds``, ``routecore_image_sync_
    failures_total``."""
    from prometheus_client import start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector, CollectorRegistry

    class _Figures(Collector):
        def collect(self) -> Iterator[Any]:
            s = follower.status()
            yield GaugeMetricFamily(
                "routecore_image_store_reachable", "1 while the flow store answers",
                value=1.0 if s["reachable"] else 0.0,
            )  # fmt: skip
            yield GaugeMetricFamily(
                "routecore_image_id", "the store's id of the image this host routes on",
                value=float(s["image_id"] or 0),
            )  # fmt: skip
            yield GaugeMetricFamily(
                "routecore_image_age_seconds", "seconds since this host last agreed with the store",
                value=float(s["age"] if s["age"] is not None else -1),
            )  # fmt: skip
            yield CounterMetricFamily(
                "routecore_image_sync_failures", "looks at the store that failed",
                value=float(s["failures"]),
            )  # fmt: skip

    registry = CollectorRegistry()
    registry.register(_Figures())
    start_http_server(port, addr=host, registry=registry)
