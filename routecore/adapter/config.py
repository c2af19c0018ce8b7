"""The options of both adapter servers, from the command line or the environment.

Every option has an environment variable (the command line wins) and an embedded default:

=================  ======================  =================================================
option             environment             default
=================  ======================  =================================================
``--image``        ``ROUTECORE_IMAGE``     ``routes.img`` (written by ``routecore publish``)
``--state``        ``ROUTECORE_STATE``     ``/dev/shm/routecore-state`` (made when missing), or
                                           ``redis://host:port/db`` shared by many hosts
``--calls``        ``ROUTECORE_CALLS``     ``calls.db`` (the call records; ``none``: keep none),
                                           or ``postgresql://…`` shared by many hosts
``--spool``        ``ROUTECORE_SPOOL``     ``spool`` (a PostgreSQL call store's records wait
                                           there while it is out of reach)
``--prompts``      ``ROUTECORE_PROMPTS``   ``prompts``
``--recordings``   ``ROUTECORE_RECORDINGS`` ``recordings``
``--dial``         ``ROUTECORE_DIAL``      the adapter's default template (``kind=template``…)
``--listen``       ``ROUTECORE_LISTEN``    ``127.0.0.1:<the PBX's port>``
``--allow``        ``ROUTECORE_ALLOW``     none: loopback peers only
``--workers``      ``ROUTECORE_WORKERS``   1 (one process per core: ``--workers 2``)
``--metrics``      ``ROUTECORE_METRICS``   none (``127.0.0.1:9464``: Prometheus; worker i on
                                           port + i; off loopback only with ``--allow``)
``--metrics-destinations``                 off: per-destination series (phone numbers as
                   ``ROUTECORE_METRICS_DESTINATIONS``  labels; ``1``: on)
``--drain``        ``ROUTECORE_DRAIN``     60 s a SIGTERM waits for calls to end
``--max-connections`` ``ROUTECORE_MAX_CONNECTIONS`` the open-files limit less 64: connections
                                           a worker holds at once
``--pbx``          ``ROUTECORE_PBX``       none: the PBX's control connection, to reconcile
                                           calls of a dead adapter
                                           (``ami://user:secret@host:5038``,
                                           ``esl://:password@host:8021``)
=================  ======================  =================================================

The PBX connects without authentication (FastAGI, ESL outbound), so a server listens on
loopback unless told otherwise, and listening elsewhere needs ``--allow`` (addresses or
networks of the PBX hosts); a peer outside it is closed before a byte is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from routecore.adapter.dialstrings import DialTemplates
from routecore.adapter.errors import AdapterError
from routecore.adapter.values import checked

if TYPE_CHECKING:  # argparse and ipaddress are imported where used: a process per call needs
    import argparse  # neither (its options come from the environment)
    import ipaddress

    Network = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["AdapterConfig", "add_options", "config_from", "env_options"]


@dataclass(frozen=True)
class AdapterConfig:
    """What an adapter server (or a process-per-call script) runs with."""

    dial: DialTemplates
    image: str = "routes.img"
    state: str = "/dev/shm/routecore-state"
    calls: str | None = "calls.db"
    spool: str = "spool"
    prompts: str = "prompts"
    recordings: str = "recordings"
    host: str = "127.0.0.1"
    port: int = 0
    allow: tuple[Network, ...] = field(default=())
    workers: int = 1
    metrics: tuple[str, int] | None = None
    metrics_destinations: bool = False
    """Per-destination metric series (the destinations' numbers as labels)."""
    drain: float = 60.0
    reply_timeout: float = 30.0
    """Seconds a PBX may take to answer a short command (a Dial or a recording has none)."""
    keepalive_every: float = 300.0
    max_connections: int | None = None
    """Connections one worker holds at once (None: its open-files limit less a reserve)."""
    pbx: str | None = None
    """The PBX's control connection (``routecore.adapter.reconcile.control_address``)."""

    def allowed(self, peer: str) -> bool:
        """A peer address may talk to the server: loopback, or inside ``allow``."""
        import ipaddress

        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # an IPv4 peer of a dual-stack socket (``[::]``)
        if address.is_loopback:
            return True
        return any(address in network for network in self.allow)


def env_options(*, port: int, dial: str) -> SimpleNamespace:
    """The options as the environment (or the embedded defaults) gives them: what
    :func:`config_from` takes, without a command line (a process-per-call script)."""
    env = os.environ.get
    return SimpleNamespace(
        image=env("ROUTECORE_IMAGE", "routes.img"),
        state=env("ROUTECORE_STATE", "/dev/shm/routecore-state"),
        calls=env("ROUTECORE_CALLS", "calls.db"),
        spool=env("ROUTECORE_SPOOL", "spool"),
        prompts=env("ROUTECORE_PROMPTS", "prompts"),
        recordings=env("ROUTECORE_RECORDINGS", "recordings"),
        dial=None,
        dial_default=dial,
        listen=env("ROUTECORE_LISTEN", f"127.0.0.1:{port}"),
        allow=env("ROUTECORE_ALLOW", ""),
        workers=env("ROUTECORE_WORKERS", "1"),
        metrics=env("ROUTECORE_METRICS", ""),
        metrics_destinations=env("ROUTECORE_METRICS_DESTINATIONS", "") in ("1", "true", "yes"),
        drain=env("ROUTECORE_DRAIN", "60"),
        pbx=env("ROUTECORE_PBX", ""),
        max_connections=env("ROUTECORE_MAX_CONNECTIONS", ""),
    )


def add_options(parser: argparse.ArgumentParser, *, port: int, dial: str) -> None:
    """The shared options (see the module), with ``port`` and ``dial`` as the adapter's own
    defaults."""
    d = env_options(port=port, dial=dial)
    add = parser.add_argument
    add("--image", default=d.image, help="the routing image")
    add(
        "--state",
        default=d.state,
        help="the shared state: a file, or redis://host:port/db (rediss, unix) for many hosts",
    )
    add(
        "--calls",
        default=d.calls,
        help="the call store: a file, or postgresql://… for many hosts ('none': keep none)",
    )
    add(
        "--spool",
        default=d.spool,
        help="where a PostgreSQL call store's records wait while it is out of reach [spool]",
    )
    add("--prompts", default=d.prompts, help="the prompt folder")
    add("--recordings", default=d.recordings, help="the recording folder")
    add(
        "--dial",
        action="append",
        default=None,
        metavar="KIND=TEMPLATE",
        help=f"dial template, repeatable (kinds: default extension mobile landline service "
        f"international) [{dial}]",
    )
    parser.set_defaults(dial_default=dial)
    add("--listen", default=d.listen, help="host:port")
    add("--allow", default=d.allow, help="PBX addresses/networks, commas")
    add("--workers", default=d.workers, help="server processes [1]")
    add("--metrics", default=d.metrics, help="host:port of /metrics (loopback unless --allow)")
    add(
        "--metrics-destinations",
        action="store_true",
        default=d.metrics_destinations,
        help="per-destination series (phone numbers as labels); off by default",
    )
    add("--drain", default=d.drain, help="seconds a SIGTERM lets calls end [60]")
    add(
        "--max-connections",
        default=d.max_connections,
        help="connections a worker holds at once [the open-files limit less 64]",
    )
    add(
        "--pbx",
        default=d.pbx,
        help="the PBX's control connection, to reconcile calls of a dead adapter: "
        "ami://user:secret@host:5038 or esl://:password@host:8021 (better in ROUTECORE_PBX)",
    )


def _number(text: Any, what: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise AdapterError(f"{what}: not a number: {text!r}") from None


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise AdapterError(f"{what}: expected host:port, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def config_from(
    args: argparse.Namespace | SimpleNamespace, *, serving: bool = True
) -> AdapterConfig:
    """The configuration of parsed options (or :func:`env_options`); a clear
    :class:`AdapterError` for a bad one. ``serving`` False: a process per call, which listens
    nowhere (the server options are neither read nor checked)."""
    specs = args.dial if args.dial is not None else os.environ.get("ROUTECORE_DIAL", "").split()
    calls = None if args.calls in ("", "none") else args.calls
    for folder, what in ((args.prompts, "--prompts"), (args.recordings, "--recordings")):
        checked(os.path.abspath(folder), what)  # they go into PBX commands
    config = AdapterConfig(
        dial=DialTemplates.parse(specs, args.dial_default),
        image=args.image,
        state=args.state,
        calls=calls,
        spool=getattr(args, "spool", None) or "spool",
        prompts=args.prompts,
        recordings=args.recordings,
    )
    if not serving:
        return config
    import dataclasses
    import ipaddress

    workers = _number(args.workers, "--workers", int)
    drain = _number(args.drain, "--drain", float)
    host, port = _host_port(args.listen, "--listen")
    try:
        words = [a.strip() for a in args.allow.split(",") if a.strip()]
        allow = tuple(ipaddress.ip_network(a, strict=False) for a in words)
    except ValueError as e:
        raise AdapterError(f"--allow: {e}") from None
    if not _loopback(host) and not allow:
        raise AdapterError(
            f"--listen {host}: the PBX connects without authentication; listening off loopback "
            "needs --allow with the PBX hosts' addresses"
        )
    metrics = _host_port(args.metrics, "--metrics") if args.metrics else None
    if metrics is not None and not _loopback(metrics[0]) and not allow:
        raise AdapterError(
            f"--metrics {metrics[0]}: the endpoint has no authentication; serving it off "
            "loopback needs --allow (the hosts of the network that may scrape it)"
        )
    if not 1 <= workers <= 64:
        raise AdapterError(f"--workers: 1-64, got {workers}")
    if not 0 <= drain <= 86400:
        raise AdapterError(f"--drain: 0-86400 seconds, got {drain}")
    most = getattr(args, "max_connections", "") or None
    max_connections = None if most is None else _number(most, "--max-connections", int)
    if max_connections is not None and not 4 <= max_connections <= 1 << 20:
        raise AdapterError(f"--max-connections: 4-1048576, got {max_connections}")
    pbx = getattr(args, "pbx", "") or None
    if pbx is not None:
        from routecore.adapter.reconcile import control_address

        control_address(pbx)  # a bad URL is refused here, with the reason
    return dataclasses.replace(
        config,
        host=host,
        port=port,
        allow=allow,
        workers=workers,
        metrics=metrics,
        metrics_destinations=bool(getattr(args, "metrics_destinations", False)),
        drain=drain,
        pbx=pbx,
        max_connections=max_connections,
    )
