"""The asyncio server both adapters run: one task per PBX connection, many calls per process.

- **Peers**: a connection from outside loopback and the ``--allow`` list is closed before a
  byte is read (FastAGI and ESL outbound carry no authentication).
- **Both cores**: ``workers`` > 1 forks that many processes after binding; they share the
  listening socket (the kernel hands each connection to one of them). Each opens its own
  :class:`~routecore.adapter.runtime.Runtime` after the fork. A worker whose parent dies (even
  by SIGKILL) gets SIGTERM: it stops listening at once and drains its calls, so a restarted
  server can bind the port right away.
- **Graceful shutdown**: SIGTERM or SIGINT stops accepting, lets the calls in progress end for
  up to ``drain`` seconds, then cancels those not in a conversation (each cancelled call ends:
  claims released, record written). A conversation (a Dial an agent answered) is never cut by a
  deploy: the PBX bridges it whatever the adapter does, so its agent stays claimed until it
  ends; the server waits for it, unless a second SIGTERM/SIGINT says not to. Then it closes the
  runtime. The parent of workers passes the signals on and waits.
- **Dead peers**: TCP keep-alive on every connection (60 s idle, then 6 probes 10 s apart), so
  a PBX host that vanishes mid-Dial ends its calls within ~2 minutes instead of never.
- **File descriptors**: the soft open-files limit is raised to the hard one at start, and a
  worker holds at most ``max_connections`` connections (default: the limit less
  :data:`FD_RESERVE` for its files). At the cap, a new connection takes the place of the
  oldest one that is not a call yet (a peer that connected and said nothing for a second);
  when there is none, the new one is refused. Both are counted and logged, so stalled peers
  can never crowd out the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from routecore.adapter.call import Observer
from routecore.adapter.config import AdapterConfig
from routecore.adapter.control import keep_alive
from routecore.adapter.runtime import Runtime

__all__ = [
    "FD_RESERVE",
    "Handler",
    "Server",
    "raise_fd_limit",
    "reconcile_command",
    "serve",
    "serve_command",
]

log = logging.getLogger("routecore.adapter")

FD_RESERVE = 64
"""Descriptors a worker keeps for its own files (the store, the state, the image, logs)."""
IDLE_BEFORE_EVICTION = 1.0
"""Seconds a connection that is not a call yet must have been silent to make room for another."""


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; the soft limit now."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY:
        return hard
    if soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    except (ValueError, OSError) as e:
        log.warning("the open-files limit stays at %d: %s", soft, e)
        return soft


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""Serves one PBX connection (the reader and writer are closed by the server afterwards)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: one the system picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Server:
    """The connections of one worker process: accept, check the peer, run the handler."""

    def __init__(self, config: AdapterConfig, handler: Handler) -> None:
        self.config = config
        self.handler = handler
        self.tasks: set[asyncio.Task[None]] = set()
        self.refused = 0
        self.full = 0
        """Connections refused because every connection the worker may hold was a call."""
        self.evicted = 0
        """Connections that had not become a call, closed to make room for a new one."""
        self.limit = config.max_connections or max(16, raise_fd_limit() - FD_RESERVE)
        self._waiting: dict[asyncio.Task[None], tuple[float, asyncio.StreamWriter]] = {}
        self.observer: Observer | None = None
        """Counts the calls (the worker's Metrics when ``--metrics`` is given)."""
        self._servers: list[asyncio.AbstractServer] = []
        self._late: list[asyncio.AbstractServer] = []

    async def listen(self, sock: socket.socket, *, late: bool = False) -> asyncio.AbstractServer:
        """Serve connections arriving on ``sock`` (more than one socket may be served). ``late``:
        keep accepting while the calls drain at shutdown (connections that belong to calls in
        progress, such as Asterisk's answer subroutine)."""
        server = await asyncio.start_server(self._connected, sock=sock, limit=1 << 16)
        (self._late if late else self._servers).append(server)
        return server

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else ""
        if not self.config.allowed(address):
            self.refused += 1
            log.warning("connection from %s refused: not loopback nor in --allow", address)
            writer.close()
            return
        if len(self.tasks) >= self.limit and not self._make_room():
            self.full += 1
            log.warning(
                "connection from %s refused: %d connections, every one a call (--max-connections)",
                address, len(self.tasks),
            )  # fmt: skip
            writer.close()
            return
        keep_alive(writer)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self._waiting[task] = (asyncio.get_running_loop().time(), writer)
        try:
            await self.handler(reader, writer)
        except Exception:  # the handler ends its call itself; this is the last guard
            log.exception("connection from %s failed", address)
        finally:
            self.tasks.discard(task)
            self._waiting.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def active(self) -> None:
        """The current connection is a call now (its handler read what the PBX sent first):
        it is never closed to make room for another."""
        task = asyncio.current_task()
        if task is not None:
            self._waiting.pop(task, None)

    def _make_room(self) -> bool:
        """Close the oldest connection that is not a call yet and has said nothing for
        :data:`IDLE_BEFORE_EVICTION` s (a PBX sends a call's first bytes at once); False when
        there is none."""
        if not self._waiting:
            return False
        task = min(self._waiting, key=lambda t: self._waiting[t][0])
        since, writer = self._waiting[task]
        if asyncio.get_running_loop().time() - since < IDLE_BEFORE_EVICTION:
            return False
        del self._waiting[task]
        self.evicted += 1
        log.warning("at %d connections: the oldest that said nothing is closed", len(self.tasks))
        writer.transport.abort()
        self.tasks.discard(task)  # its task ends by itself, its room is taken now
        return True

    async def shutdown(self, force: asyncio.Event | None = None) -> None:
        """Stop accepting; let calls end for ``drain`` seconds; cancel those not in a
        conversation; wait for the conversations until they end or ``force`` is set (without
        ``force``, cancel them too)."""
        from routecore.adapter.aio import in_conversation

        for server in self._servers:
            server.close()
        pending = set(self.tasks)
        if pending:
            log.info("draining %d calls for up to %.0f s", len(pending), self.config.drain)
            _done, pending = await asyncio.wait(pending, timeout=self.config.drain)
        talking = pending & in_conversation()
        if talking and force is not None and not force.is_set():
            log.info("waiting for %d conversations to end (signal again to cut them)", len(talking))
            for task in pending - talking:
                task.cancel()
            forced = asyncio.create_task(force.wait())
            while talking and not forced.done():
                done, _ = await asyncio.wait({*talking, forced}, return_when="FIRST_COMPLETED")
                talking -= done
            forced.cancel()
            pending = {task for task in pending if not task.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        for server in self._late:
            server.close()
        for server in self._servers + self._late:
            with contextlib.suppress(Exception):
                await server.wait_closed()


MakeHandler = Callable[[Runtime, Server], Awaitable[Handler]]
Control = Callable[[Any], Awaitable[Any]]
"""Opens the PBX control connection of a ``ControlAddress`` (``routecore.adapter.reconcile``)."""


def _adopt(config: AdapterConfig) -> dict[str, Any]:
    """The calls of this host's dead adapters, their agents claimed again by this process,
    before anything listens (``routecore.adapter.reconcile``)."""
    from types import SimpleNamespace

    from routecore.adapter.reconcile import adopt
    from routecore.adapter.runtime import open_state

    if config.calls is None:
        return {}
    from routecore.errors import StoreUnavailable
    from routecore.store.calls import CallStore

    try:
        store = CallStore(config.calls)
    except StoreUnavailable as e:  # routing goes on; the calls of a dead adapter end by deadline
        log.error("%s: the calls of a dead adapter of this host are not adopted", e)
        return {}
    try:
        return adopt(SimpleNamespace(calls=store, state=open_state(config.state)))
    finally:
        store.close()


def _reconciler(
    runtime: Runtime, adopted: dict[str, Any], control: Control | None
) -> asyncio.Task[None]:
    from routecore.adapter.reconcile import Reconciler, control_address

    connect = None
    if control is not None and runtime.config.pbx is not None:
        address = control_address(runtime.config.pbx)

        async def connect() -> Any:
            return await control(address)

    elif adopted:
        log.warning("no --pbx: the PBX cannot be asked which calls of a dead adapter are up")
    return asyncio.get_running_loop().create_task(Reconciler(runtime, adopted, connect).run())


async def _worker(
    config: AdapterConfig,
    sock: socket.socket,
    make: MakeHandler,
    index: int,
    adopted: dict[str, Any] | None = None,
    control: Control | None = None,
) -> None:
    runtime = Runtime(config)
    runtime.start_writer()
    reconciling = None if adopted is None else _reconciler(runtime, adopted, control)
    reaping = None
    if index == 0 and hasattr(runtime.state, "heartbeat"):  # a Redis state: one worker a host
        from routecore.adapter.reaper import reap_forever

        reaping = asyncio.get_running_loop().create_task(reap_forever(runtime.state))
    server = Server(config, _unset_handler)
    stop = asyncio.Event()
    force = asyncio.Event()  # a second signal: cut the conversations too
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        (force if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
    endpoint = None
    try:
        if config.metrics is not None:
            from routecore.adapter.metrics import Metrics, start_http

            metrics = Metrics(runtime.state, per_destination=config.metrics_destinations)
            server.observer = metrics
            endpoint = start_http(config.metrics[0], config.metrics[1] + index, metrics)
        server.handler = await make(runtime, server)
        await server.listen(sock)
        await stop.wait()
        await server.shutdown(force)
    finally:
        for task in (reconciling, reaping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if endpoint is not None:
            endpoint.shutdown()
        runtime.close()


def _run(main: Awaitable[None]) -> None:
    """Run ``main`` on uvloop when it is installed (libuv's loop: about twice the connections
    per second of the standard one), else on asyncio's own loop."""
    try:
        if os.environ.get("ROUTECORE_LOOP") == "asyncio":  # the standard loop, by choice
            raise ImportError
        import uvloop
    except ImportError:
        asyncio.run(main)  # type: ignore[arg-type]
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)  # type: ignore[arg-type]


async def _unset_handler(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    raise RuntimeError("no handler")  # pragma: no cover - replaced before listening


def serve(
    config: AdapterConfig, make: MakeHandler, *, name: str, control: Control | None = None
) -> int:
    """Run the server until SIGTERM/SIGINT (see the module); ``make(runtime, server)`` builds
    the connection handler in each worker; ``control`` opens the PBX control connection that
    reconciles the calls of a dead adapter (the first worker runs it). Returns the process exit
    status."""
    adopted = _adopt(config)  # before listening: no new call may take a talking agent
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    print(f"{name}: listening on {host}:{port} ({config.workers} worker(s))", flush=True)
    if config.workers == 1:
        _run(_worker(config, sock, make, 0, adopted, control))
        return 0
    children = []
    parent = os.getpid()
    for index in range(config.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                _die_with(parent)
                first = index == 0
                _run(_worker(config, sock, make, index, adopted if first else None, control))
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _pid, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return 0 if status == 0 else 1


def reconcile_command(args: Any, *, name: str, control: Control) -> int:
    """An adapter's ``reconcile`` command: for a host whose calls run in processes of their own
    (the process-per-call AGI) and no server, the calls of those that die are adopted,
    reconciled with the PBX and completed (``routecore.adapter.reconcile``) until SIGTERM or
    SIGINT. Exit status 2 (one line) for bad options or no ``--pbx``, 4 for an unusable store."""
    from routecore.adapter.config import config_from
    from routecore.errors import RoutecoreError

    try:
        config = config_from(args)
        if config.pbx is None or config.calls is None:
            raise RoutecoreError("reconcile needs --pbx (the PBX to ask) and --calls")
    except RoutecoreError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        runtime = Runtime(config)
        runtime.start_writer()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from routecore.adapter.reconcile import adopt

        task = _reconciler(runtime, adopt(runtime), control)
        where = str(config.pbx).rsplit("@", 1)[-1]  # never the secret
        print(f"{name}: reconciling the calls of this host with {where}", flush=True)
        try:
            await stop.wait()
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            runtime.close()

    try:
        _run(main())
    except RoutecoreError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 4
    return 0


def _die_with(parent: int) -> None:
    """A worker gets SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``): it stops
    listening at once (a restarted server binds the port) and drains its calls as on a deploy.
    A parent already gone by now is the same signal."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the workers outlive a killed parent
        log.warning("workers cannot follow their parent's death on this system")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def serve_command(
    args: Any, make: MakeHandler, *, name: str, control: Control | None = None
) -> int:
    """An adapter's ``serve`` command from its parsed options: log lines to stderr, then
    :func:`serve`. Exit status 2 (and one line) for bad options, 4 when it cannot listen or
    its call store, state or image cannot be used."""
    from routecore.adapter.config import config_from
    from routecore.errors import RoutecoreError

    try:
        config = config_from(args)
    except RoutecoreError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return serve(config, make, name=name, control=control)
    except OSError as e:
        print(f"{name}: cannot listen on {config.host}:{config.port}: {e}", file=sys.stderr)
        return 4
    except RoutecoreError as e:  # an unusable call store, state or image: one line
        print(f"{name}: {e}", file=sys.stderr)
        return 4
