"""SMPP 3.4 toward a carrier's SMS gateway, on smpplib's PDUs and client (B2, B3).

``smpp://<system_id>:<password>@<host>:<port>?source=<sender number>&rate=<per second>``:
bound as a transceiver (submits and delivery receipts on one connection). Chinese text goes
as UCS-2 (``data_coding`` 8); a message longer than one SMS is split into parts with a
concatenation header (UDH, ``esm_class`` 0x40), each part its own ``submit_sm`` and message id.
Every part asks for a delivery receipt (``registered_delivery`` 1); receipts (``deliver_sm``
with ``id:… stat:DELIVRD err:…``) and the phones' replies (a ``deliver_sm`` that is not a
receipt: ``T``/``TD`` opts out) are collected while the provider reads. An idle connection
sends ``enquire_link`` every :data:`ENQUIRE_EVERY` seconds; a connection that fails is bound
again with back-off (1 s doubling to :data:`BACKOFF_MAX`).

Refusals: throttled (``ESME_RTHROTTLED`` 0x58), queue full (0x14), system error (0x08), no
a gateway that cannot be bound are temporary; any other ``command_status`` (a bad number 0x0B,
…) is permanent. A part that left without an answer (no answer in time, the connection lost)
leaves the message in doubt (:class:`~routecore.sms.providers.InDoubt`): not sent again.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from routecore.errors import RoutecoreError
from routecore.sms.providers import InDoubt, Permanent, Receipt, Reply, Temporary

__all__ = ["BACKOFF_MAX", "ENQUIRE_EVERY", "SmppProvider"]

log = logging.getLogger("routecore.sms")

ENQUIRE_EVERY = 30.0
BACKOFF_MAX = 60.0
REPLY_TIMEOUT = 10.0
TEMPORARY_STATUS = {0x58: "ESME_RTHROTTLED", 0x14: "ESME_RMSGQFUL", 0x08: "ESME_RSYSERR"}
_RECEIPT = re.compile(rb"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)(?:.*?err:(?P<err>\S+))?", re.S)


class SmppProvider:
    """One transceiver bind to an SMSC (see the module)."""

    name = "smpp"

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        source: str,
        *,
        rate: float = 10.0,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.source = system_id, password, source
        self.rate = rate
        self.timeout = timeout
        self._client: Any = None
        self._answers: dict[int, Any] = {}
        self._receipts: list[Receipt] = []
        self.replies: list[Reply] = []
        """Replies from phones collected while reading (the sender takes them)."""
        self._last_io = time.monotonic()
        self._backoff = 1.0
        self._retry_at = 0.0

    @classmethod
    def from_url(cls, url: str) -> SmppProvider:
        """The provider a ``smpp://`` URL names (RoutecoreError when it cannot be read)."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme != "smpp" or not parts.hostname or not parts.username:
            raise RoutecoreError(
                f"not an SMPP provider URL: {url!r} (smpp://system_id:password@host:port?source=…)"
            )
        if not query.get("source", "").isdigit():
            raise RoutecoreError("the SMPP provider needs ?source=<the sender's number>")
        try:
            rate = float(query.get("rate", "10"))
            port = parts.port or 2775
        except ValueError as e:
            raise RoutecoreError(f"the SMPP provider URL: {e}") from None
        if not 0 < rate <= 10_000:
            raise RoutecoreError(f"rate must be 0-10000 messages a second, not {rate}")
        return cls(
            parts.hostname,
            port,
            unquote(parts.username),
            unquote(parts.password or ""),
            query["source"],
            rate=rate,
        )

    # -- the connection ----------------------------------------------------------------------

    def _bound(self) -> Any:
        """The bound client, binding (again) when there is none; Temporary while the gateway
        cannot be reached (tried again after the back-off)."""
        if self._client is not None:
            return self._client
        now = time.monotonic()
        if now < self._retry_at:
            raise Temporary("unbound", f"{self.host}:{self.port} not retried for a moment")
        import smpplib.client
        import smpplib.exceptions

        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(self._answered)
        client.set_message_received_handler(self._received)
        client.set_error_pdu_handler(self._answered)
        try:
            client.connect()
            client.bind_transceiver(system_id=self.system_id, password=self.password)
        except (smpplib.exceptions.PDUError, smpplib.exceptions.ConnectionError, OSError) as e:
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self._drop(client)
            raise Temporary("bind", f"{self.host}:{self.port}: {e}") from None
        log.info("SMPP: bound to %s:%s as %s", self.host, self.port, self.system_id)
        self._client, self._backoff, self._last_io = client, 1.0, time.monotonic()
        return client

    @staticmethod
    def _drop(client: Any) -> None:
        try:
            client.disconnect()
        except Exception:  # a socket already gone
            pass

    def _lost(self, why: str) -> Temporary:
        if self._client is not None:
            self._drop(self._client)
        self._client = None
        log.warning("SMPP: the connection to %s:%s was lost: %s", self.host, self.port, why)
        return Temporary("connection", why)

    def _answered(self, pdu: Any, **_: Any) -> None:
        self._answers[int(pdu.sequence)] = pdu

    def _received(self, pdu: Any, **_: Any) -> int:
        text = bytes(getattr(pdu, "short_message", b"") or b"")
        if not int(getattr(pdu, "esm_class", 0) or 0) & 0x04:  # not a receipt: the phone's reply
            coding = int(getattr(pdu, "data_coding", 0) or 0)
            said = text.decode("utf-16-be" if coding == 8 else "latin-1", "replace")
            self.replies.append(Reply(_text(getattr(pdu, "source_addr", b"")), said))
            return 0
        found = _RECEIPT.search(text)
        if found is not None:
            err = (found.group("err") or b"").decode("ascii", "replace")
            stat = found.group("stat").decode("ascii")
            self._receipts.append(
                Receipt(
                    found.group("id").decode("ascii", "replace"),
                    stat == "DELIVRD",
                    stat + (f"/{err}" if err else ""),
                )
            )
        return 0  # ESME_ROK: the receipt (or a reply from the phone) is taken

    def _read(self, until: float, sequence: int | None) -> Any:
        """Read PDUs until the answer to ``sequence`` (None: until nothing more is waiting)."""
        import select

        client = self._client
        while True:
            if sequence is not None and sequence in self._answers:
                return self._answers.pop(sequence)
            wait = max(until - time.monotonic(), 0.0) if sequence is not None else 0.0
            readable, _, _ = select.select([client._socket], [], [], wait)
            if not readable:
                if sequence is None:
                    return None
                raise self._lost(f"no answer to submit_sm {sequence} in {self.timeout:g} s")
            try:
                client.read_once(auto_send_enquire_link=False)
            except Exception as e:  # closed, reset, a PDU that cannot be read
                raise self._lost(str(e) or type(e).__name__) from None
            self._last_io = time.monotonic()

    # -- the provider ------------------------------------------------------------------------

    def send(self, to: str, text: str, reference: str, kind: str = "") -> tuple[str, ...]:
        import smpplib.consts
        import smpplib.gsm

        client = self._bound()
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        ids: list[str] = []
        for part in parts:
            try:
                pdu = client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_UNK,
                    source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    source_addr=self.source,
                    dest_addr_ton=smpplib.consts.SMPP_TON_UNK,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=to,
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=True,
                )
            except (TimeoutError, OSError) as e:
                lost = self._lost(str(e))
                if not ids:  # nothing of it left: safe to try again
                    raise lost from None
                raise InDoubt("connection", f"lost after {len(ids)} part(s): {e}") from None
            try:
                answer = self._read(time.monotonic() + self.timeout, int(pdu.sequence))
            except Temporary as e:  # the part left; whether the gateway took it is unknown
                raise InDoubt(e.code, e.detail) from None
            status = int(answer.status)
            if status in TEMPORARY_STATUS:
                raise Temporary(TEMPORARY_STATUS[status], f"part {len(ids) + 1} of {len(parts)}")
            if status != 0:
                raise Permanent(f"0x{status:02X}", f"submit_sm refused ({reference})")
            ids.append(_text(answer.message_id))
        return tuple(ids)

    def receipts(self) -> list[Receipt]:
        if self._client is not None:
            try:
                self._read(0.0, None)
                if time.monotonic() - self._last_io > ENQUIRE_EVERY:
                    self._enquire()
            except Temporary:
                pass  # the next send binds again
        got, self._receipts = self._receipts, []
        return got

    def _enquire(self) -> None:
        import smpplib.smpp

        pdu = smpplib.smpp.make_pdu("enquire_link", client=self._client)
        try:
            self._client.send_pdu(pdu)
        except OSError as e:
            raise self._lost(str(e)) from None
        self._last_io = time.monotonic()

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.unbind()
            except Exception:
                pass
            self._drop(self._client)
            self._client = None


def _text(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
