"""The sender: takes the call store's outbox in order and hands each message to its provider,
at the provider's rate, keeping every attempt and the final status (B2, B3, V2).

Each message is marked as being sent (committed) before its request leaves; the provider's
answer is recorded after. A temporary refusal is tried again with back-off (10 s doubling, at
most :data:`RETRY_MAX`) until its attempts are spent; a permanent one is final at once. When
the sender starts, messages it left in doubt (a crash between the mark and the answer) are
failed with the code ``in_doubt``, and so is a message whose request left without an answer
(the provider's :class:`~routecore.sms.providers.InDoubt`): never sent twice. Delivery
receipts make a sent message ``delivered`` (or ``failed`` with the gateway's state). A phone
that replies ``T`` or ``TD`` is put on the opt-out list of the number it answers, and a message
to a phone on its number's list is failed as ``opted_out`` without reaching the provider. A
bulk campaign's message (``marketing``, V2) waits for its ``not_before`` and is held back in
the recipient's quiet hours (:data:`QUIET_HOURS`) until they end, no attempt counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routecore.rules import DEFAULT_TZ
from routecore.sms.providers import InDoubt, Permanent, Provider, Reply, Temporary
from routecore.store.sms_delivery import Deliveries

__all__ = ["OPT_OUT_WORDS", "QUIET_HOURS", "RETRY_FIRST", "RETRY_MAX", "Sender", "apply_reply"]

log = logging.getLogger("routecore.sms")

OPT_OUT_WORDS = frozenset({"T", "TD", "退订"})
"""Replies that opt a phone out (回T退订)."""
QUIET_HOURS = (21, 8)
"""No marketing message from 21:00 to 08:00 in the recipient's time (held until the window)."""
RETRY_FIRST = 10.0
RETRY_MAX = 600.0
BATCH = 100


class Sender:
    """Delivers the outbox of the call store at ``calls`` through ``provider``."""

    def __init__(
        self,
        calls: str,
        provider: Provider,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        quiet: tuple[int, int] = QUIET_HOURS,
        tz: str = DEFAULT_TZ,
    ) -> None:
        from routecore.store import CallStore

        CallStore(calls).close()  # the outbox is there (a new file gets the schema)
        self.deliveries = Deliveries(calls)
        self.provider = provider
        self.clock = clock
        self.sleep = sleep
        self.quiet = quiet
        self.tz = ZoneInfo(tz)
        self._next_at = 0.0  # the rate's next free moment (monotonic)
        self.stop = threading.Event()
        for sms_id in self.deliveries.in_doubt():
            log.warning("SMS %d: in doubt after a stop (its answer was never recorded)", sms_id)
            self.deliveries.failed(
                sms_id, "in_doubt", "the sender stopped while sending: not sent again", clock()
            )

    def _pace(self) -> None:
        wait = self._next_at - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._next_at = max(self._next_at, time.monotonic()) + 1.0 / self.provider.rate

    def send_one(self, row: dict[str, Any]) -> str:
        """Try one outbox row; its state after (sent, queued, failed)."""
        sms_id = int(row["id"])
        if row["kind"] == "marketing":
            opens = self.window_opens(self.clock())
            if opens is not None:
                self.deliveries.postpone(sms_id, opens, "quiet hours", self.clock())
                return "later"
        if self.deliveries.opted_out(str(row["did"]), str(row["to_number"])):
            self.deliveries.failed(
                sms_id, "opted_out", "the phone opted out of this number's messages", self.clock()
            )
            return "failed"
        self._pace()  # only what reaches the provider counts toward its rate
        attempt = self.deliveries.begin(sms_id, self.provider.name, self.clock())
        try:
            ids = self.provider.send(
                str(row["to_number"]), str(row["text"]), f"sms {sms_id}", str(row["kind"])
            )
        except Temporary as e:
            delay = min(RETRY_FIRST * 2 ** (attempt - 1), RETRY_MAX)
            now = self.clock()
            self.deliveries.retry(sms_id, e.code, e.detail, now, now + delay)
            log.info("SMS %d: %s, tried again in %.0f s", sms_id, e, delay)
            return "queued"
        except Permanent as e:
            self.deliveries.failed(sms_id, e.code, e.detail, self.clock())
            log.warning("SMS %d to %s refused: %s", sms_id, row["to_number"], e)
            return "failed"
        except InDoubt as e:
            self.deliveries.failed(sms_id, "in_doubt", str(e), self.clock())
            log.warning("SMS %d: in doubt (%s): not sent again", sms_id, e)
            return "failed"
        self.deliveries.sent(sms_id, ids, self.clock())
        return "sent"

    def window_opens(self, now: float) -> float | None:
        """None inside the hours marketing may be sent (the recipient's zone: mainland China's
        mobiles); else when they open again (08:00 by default)."""
        start, end = self.quiet  # quiet from `start` o'clock to `end` o'clock
        local = datetime.fromtimestamp(now, self.tz)
        if end <= local.hour < start:
            return None
        opens = local.replace(hour=end, minute=0, second=0, microsecond=0)
        if local.hour >= start:
            opens += timedelta(days=1)
        return opens.timestamp()

    def run_once(self) -> dict[str, int]:
        """Send what is due now and take the receipts that came; counts by outcome."""
        done = {"sent": 0, "queued": 0, "failed": 0, "later": 0, "receipts": 0}
        for row in self.deliveries.due(self.clock(), BATCH):
            if self.stop.is_set():
                break
            done[self.send_one(row)] += 1
        for receipt in self.provider.receipts():
            if self.deliveries.receipt(
                receipt.message_id, receipt.delivered, receipt.code, self.clock()
            ):
                done["receipts"] += 1
        replies = getattr(self.provider, "replies", None)
        while replies:
            self.reply(replies.pop(0))
        return done

    def reply(self, reply: Reply) -> str | None:
        """A phone's reply (see :func:`apply_reply`)."""
        return apply_reply(self.deliveries, reply, self.clock())

    def run(self, idle: float = 1.0) -> None:
        """Until :attr:`stop` is set: send what is due, then wait ``idle`` seconds when there
        was nothing to send."""
        try:
            while not self.stop.is_set():
                done = self.run_once()
                if not any(done[k] for k in ("sent", "queued", "failed", "later")):
                    self.stop.wait(idle)
        finally:
            self.provider.close()
            self.deliveries.close()


def apply_reply(deliveries: Deliveries, reply: Reply, now: float) -> str | None:
    """A phone's reply: ``T``/``TD`` (退订, any case, blanks around) puts it on the opt-out list
    of the 400 number whose message it answers; that number (None: not an opt-out, or no
    message of ours went to that phone)."""
    if reply.text.strip().upper() not in OPT_OUT_WORDS:
        return None
    did = deliveries.last_did(reply.number)
    if did is None:
        log.info("SMS reply %r from %s answers no message of ours", reply.text, reply.number)
        return None
    deliveries.opt_out(did, reply.number, now, f"reply {reply.text.strip()!r}")
    log.info("SMS: %s opted out of %s", reply.number, did)
    return did
