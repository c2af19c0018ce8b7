"""The Prometheus endpoint of an adapter server (``--metrics host:port``, path ``/metrics``).

Per worker process (worker i on port + i), counted by the server itself:
``routecore_calls_total{outcome}``, ``routecore_call_errors_total``,
``routecore_decisions_total``, ``routecore_active_calls``, and the histograms
``routecore_decision_seconds`` (one engine step) and ``routecore_setup_seconds`` (a PBX
connection to the first command). Read from the host's shared state at each scrape, so they
include the calls of every process on the host (process-per-call scripts write no metric files;
they count into the state): ``routecore_destinations_busy`` (destinations with a call now),
``routecore_destination_calls_busy`` (calls on them), and the totals
``routecore_destinations_offered_total``, ``…_answered_total``, ``…_talk_seconds_total``, and
of a state file how full its pools are: ``routecore_state_lease_records_used`` beside
``routecore_state_lease_records`` (the pool's size), ``routecore_state_counter_blocks_used``
beside ``routecore_state_counter_blocks`` (a full pool refuses a larger capacity or a number's
new branches: alert well before). The
destinations are customers' and agents' phone numbers: per-destination series
(``routecore_destination_offered_total{destination="…"}`` and the others) are exported only
when asked for (``--metrics-destinations``), never by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics", "start_http"]

_FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class _StateCollector(Collector):
    def __init__(self, state: Any, per_destination: bool) -> None:
        self.state = state
        self.per_destination = per_destination

    def collect(self) -> Iterator[Any]:
        destinations = self.state.destinations_now()
        busy = GaugeMetricFamily("routecore_destinations_busy", "destinations with a call now")
        busy.add_metric([], sum(1 for d in destinations if d.busy))
        calls = GaugeMetricFamily("routecore_destination_calls_busy", "calls on destinations")
        calls.add_metric([], sum(d.busy for d in destinations))
        yield busy
        yield calls
        yield from self._pools()
        for field, doc in (
            ("offered", "calls offered to destinations"),
            ("answered", "calls destinations answered"),
            ("talk_seconds", "seconds destinations talked"),
        ):
            total = CounterMetricFamily(f"routecore_destinations_{field}", doc)
            total.add_metric([], sum(getattr(d, field) for d in destinations))
            yield total
            if not self.per_destination:
                continue
            family = CounterMetricFamily(
                f"routecore_destination_{field}", doc + ", each", labels=["destination"]
            )
            for d in destinations:
                family.add_metric([d.number], getattr(d, field))
            yield family

    def _pools(self) -> Iterator[Any]:
        """How full a state file's pools are (a Redis store has none)."""
        pool_use = getattr(self.state, "pool_use", None)
        if pool_use is None:
            return
        used = pool_use()
        sizes = (self.state.leases, self.state.counter_blocks)
        for name, what, n, size in (
            ("lease_records", "lease records", used[0], sizes[0]),
            ("counter_blocks", "counter blocks", used[1], sizes[1]),
        ):
            family = GaugeMetricFamily(f"routecore_state_{name}_used", f"{what} handed out")
            family.add_metric([], n)
            yield family
            family = GaugeMetricFamily(f"routecore_state_{name}", f"{what} in the pool")
            family.add_metric([], size)
            yield family


class Metrics:
    """The counters of one worker (an :class:`~routecore.adapter.call.Observer`)."""

    def __init__(self, state: Any = None, *, per_destination: bool = False) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.calls = Counter("routecore_calls", "calls ended", ["outcome"], registry=r)
        self.errors = Counter("routecore_call_errors", "calls ended by an error", registry=r)
        self.decisions = Counter("routecore_decisions", "engine steps", registry=r)
        self.active = Gauge("routecore_active_calls", "calls in progress", registry=r)
        self.decision_seconds = Histogram(
            "routecore_decision_seconds", "one engine step", buckets=_FAST, registry=r
        )
        self.setup_seconds = Histogram(
            "routecore_setup_seconds", "connection to first command", buckets=_FAST, registry=r
        )
        if state is not None:
            r.register(_StateCollector(state, per_destination))

    def call_started(self) -> None:
        self.active.inc()

    def setup(self, seconds: float) -> None:
        self.setup_seconds.observe(seconds)

    def decision(self, seconds: float) -> None:
        self.decisions.inc()
        self.decision_seconds.observe(seconds)

    def call_ended(self, outcome: str, error: str | None) -> None:
        self.active.dec()
        self.calls.labels(outcome).inc()
        if error is not None:
            self.errors.inc()


class Endpoint:
    """A running ``/metrics`` HTTP endpoint."""

    def __init__(self, server: Any, thread: Any) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_port

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_http(host: str, port: int, metrics: Metrics) -> Endpoint:
    """Serve ``metrics`` on ``host:port`` from a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return Endpoint(server, thread)
