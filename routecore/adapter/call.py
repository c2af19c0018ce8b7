"""One call as an adapter drives it: the session, the answer moment, keep-alives, the end of
the call whatever ends it, and its one log line.

An adapter makes a :class:`CallDriver` per call and pumps :meth:`CallDriver.steps`: each step
is an Action to carry out on the channel, answered with the Event it produced (or None). The
loop that pumps is :func:`routecore.adapter.blocking.run` (a process per call) or
:func:`routecore.adapter.aio.run` (a server); both end every call through
:meth:`CallDriver.guard`, so a hang-up, a protocol error, a timeout or a bug in the adapter
ends the session (every claim released, one record) and never escapes to the server.

With a ``journal`` (the runtime's, when it keeps records) the call is journaled in the call store
from its start (``routecore.store.journal``): when its first command has been answered, when a
Dial rings (the destinations it holds), when an agent answers and at every keep-alive; its
record replaces the row at the end. A call whose adapter dies is completed from
that row (``routecore.adapter.reconcile``).

The call's log line (logger ``routecore.call``, level INFO) is one JSON object: ``call``,
``protocol``, ``did``, ``caller``, ``outcome``, ``answered_by``, ``talk_seconds``, ``setup_ms``
(connection to first command), ``decide_ms`` (time in the engine), ``seconds`` (the whole
call), ``error`` (what broke it, when something did).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from routecore.adapter.errors import AdapterError, ChannelGone

__all__ = ["CallDriver", "Observer"]

log = logging.getLogger("routecore.adapter")
call_log = logging.getLogger("routecore.call")


class Observer(Protocol):
    """What a server counts (``routecore.adapter.metrics``); a process per call has none."""

    def call_started(self) -> None: ...
    def setup(self, seconds: float) -> None: ...
    def decision(self, seconds: float) -> None: ...
    def call_ended(self, outcome: str, error: str | None) -> None: ...


class CallDriver:
    """One call's session (from ``runtime.session()``) and its bookkeeping."""

    __slots__ = (
        "_answer",
        "_begun",
        "_claimed",
        "_decide",
        "_error",
        "_journaled",
        "_setup",
        "call_id",
        "caller",
        "channel",
        "cut",
        "did",
        "ended",
        "journal",
        "observer",
        "protocol",
        "session",
        "talking",
    )

    def __init__(
        self,
        session: Any,
        *,
        protocol: str,
        observer: Observer | None = None,
        journal: Callable[[Any], None] | None = None,
        channel: str = "",
    ) -> None:
        self.session = session
        self.protocol = protocol
        self.observer = observer
        self.journal = journal
        """Where the call's journal rows go (``Runtime.journal``; None: not journaled)."""
        self.channel = channel
        """The PBX's id of the caller's channel (default: the call id)."""
        self.cut: str | None = None
        """Why the adapter itself ended the call, when it did (``drained``: a shutdown)."""
        self._claimed: tuple[str, ...] = ()
        self._answer: tuple[str, float] | None = None
        self._journaled = False
        self.call_id = ""
        self.did = ""
        self.caller = ""
        self.ended = False
        self.talking = False
        """An agent answered the Dial now in progress (the conversation goes on)."""
        self._begun = time.monotonic()
        self._setup: float | None = None
        self._decide = 0.0
        self._error: str | None = None
        if observer is not None:
            observer.call_started()

    # -- the engine ---------------------------------------------------------------------------

    def handle(self, event: Any) -> list[Any]:
        """The session's Actions for ``event``, timed."""
        t = time.perf_counter()
        actions: list[Any] = self.session.handle(event)
        spent = time.perf_counter() - t
        self._decide += spent
        if self.observer is not None:
            self.observer.decision(spent)
        return actions

    def steps(self, first: Any) -> Generator[Any, Any, None]:
        """The Actions of the call from its first Event on; send each one's Event (or None)."""
        self.call_id = first.call_id
        self.did = first.did
        self.caller = str(getattr(first, "caller", None) or getattr(first, "agent", ""))
        queue = deque(self.handle(first))
        while queue:
            action = queue.popleft()
            if action.__class__.__name__ == "Dial":
                self._claimed, self._answer = tuple(action.targets), None
                self._journal()
            event = yield action
            if not self._journaled:
                self._journal()  # the first command is out: the call is journaled from here
            if event is not None:
                queue.extend(self.handle(event))
                if event.__class__.__name__ == "DialResult":
                    # released; the row keeps the last claims: a crash before the next Dial or
                    # the end holds those agents until the PBX says the call is over
                    self._claimed, self._answer = (), None

    def answered(self, target: str, at: float | None = None) -> list[Any]:
        """The answer moment: ``target`` picked up (B9) at ``at`` (None: now). Actions to carry
        out now (``DropLeg`` when another target had won)."""
        from routecore.engine.actions import Answered

        if self.ended:
            return []
        self.talking = True
        when = time.time() if at is None else at
        actions = self.handle(Answered(target, at=when))
        if self._answer is None and target in self._claimed:
            self._claimed, self._answer = (target,), (target, when)
            self._journal()
        return actions

    def keep_alive(self) -> None:
        """Renew the call's leases (the adapter's timer while a Dial waits)."""
        from routecore.engine.actions import KeepAlive

        if not self.ended:
            self.handle(KeepAlive(at=time.time()))
            self._journal()

    def _journal(self) -> None:
        """Hand the call's journal row, as it stands now, to ``journal``."""
        record = self.session.record
        if self.journal is None or record is None or self.ended or self.session.done:
            return
        from routecore.adapter.journal import entry

        self._journaled = True
        try:
            self.journal(entry(self, record, self._claimed, self._answer))
        except Exception:  # the call goes on: its record is still written at its end
            log.exception("call %s: journaling failed", self.call_id)

    def first_command(self) -> None:
        """The first command went to the PBX: the call's setup time ends here."""
        if self._setup is None:
            self._setup = time.monotonic() - self._begun
            if self.observer is not None:
                self.observer.setup(self._setup)

    # -- the end ------------------------------------------------------------------------------

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Whatever leaves this block (the call's end, a hang-up, an error) ends the call."""
        try:
            yield
        except ChannelGone:
            pass
        except AdapterError as e:
            self._error = f"{type(e).__name__}: {e}"
            log.warning("call %s: %s", self.call_id or "?", self._error)
        except Exception as e:  # a bug must end this call, never the server
            self._error = f"{type(e).__name__}: {e}"
            log.exception("call %s failed", self.call_id or "?")
        finally:
            self.end()

    def end(self) -> None:
        """End the session if it still runs (the caller is gone: every claim is released, the
        record written), then log the call's line. Idempotent."""
        if self.ended:
            return
        self.ended = True
        from routecore.engine.actions import CallerHungUp

        session = self.session
        if session.record is not None and not session.done:
            # The caller did not hang up when a shutdown cut the call or the PBX broke the
            # protocol: the record says so (a conversation stays ``answered``).
            reason = self.cut or ("error" if self._error else None)
            if reason is not None and session.record.outcome == "in_progress":
                session.record.outcome = reason
            try:
                self.handle(CallerHungUp(at=time.time()))
            except Exception:
                log.exception("call %s: ending the session failed", self.call_id)
        record = session.record
        outcome = getattr(record, "outcome", None) or ("error" if self._error else "not_started")
        if self.observer is not None:
            self.observer.call_ended(outcome, self._error)
        if call_log.isEnabledFor(logging.INFO):
            call_log.info(json.dumps(self.summary(outcome), ensure_ascii=False))

    def summary(self, outcome: str) -> dict[str, Any]:
        """The call's log line as a dict."""
        record = self.session.record
        return {
            "call": self.call_id,
            "protocol": self.protocol,
            "did": self.did,
            "caller": self.caller,
            "outcome": outcome,
            "answered_by": getattr(record, "answered_by", None),
            "talk_seconds": getattr(record, "talk_seconds", 0),
            "setup_ms": None if self._setup is None else round(self._setup * 1e3, 3),
            "decide_ms": round(self._decide * 1e3, 3),
            "seconds": round(time.monotonic() - self._begun, 3),
            "error": self._error,
        }
