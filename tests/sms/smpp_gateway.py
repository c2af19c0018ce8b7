"""An SMS gateway for the tests: a real SMPP 3.4 server over loopback TCP, written on smpplib's
own PDUs (the same codec as the client side, not a mock of the client). It binds transceivers,
answers ``submit_sm`` with a message id (or with the ``command_status`` the test asks for),
sends a delivery receipt (``deliver_sm``) per part, answers ``enquire_link`` and ``unbind``,
and may drop the connection after a given submit, as a gateway that crashes does."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from smpplib import smpp


class _Sequences:
    """What smpplib's PDUs ask of a client: the next sequence number."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Submitted:
    """One ``submit_sm`` as the gateway received it."""

    destination: str
    source: str
    data_coding: int
    esm_class: int
    short_message: bytes
    message_id: str


@dataclass
class Behaviour:
    """What the gateway does: ``statuses`` the command_status of the next submits (0 when
    none is left), ``drop_after`` close the connection (no answer) at that submit (1-based,
    counted over all connections), ``receipt`` the ``stat`` of each receipt (None: none)."""

    statuses: list[int] = field(default_factory=list)
    drop_after: int | None = None
    receipt: str | None = "DELIVRD"
    password: str = "secret"


class Gateway:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.submitted: list[Submitted] = []
        self.binds = 0
        self.enquiries = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        self._seq = 1000
        self._codec = _Sequences()
        self.bound: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket) -> bytes | None:
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (length,) = struct.unpack(">L", head)
        body = b""
        while len(body) < length - 4:
            chunk = conn.recv(length - 4 - len(body))
            if not chunk:
                return None
            body += chunk
        return head + body

    def _reply(self, conn: socket.socket, name: str, request: Any, **fields: Any) -> None:
        pdu = smpp.make_pdu(name, client=self._codec, **fields)
        pdu.sequence = request.sequence
        conn.sendall(pdu.generate())

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._conversation(conn)
        except OSError:
            pass  # the client reset the connection (its timeout, its close)
        finally:
            conn.close()

    def _conversation(self, conn: socket.socket) -> None:
        while True:
            data = self._read(conn)
            if data is None:
                return
            request: Any = smpp.parse_pdu(data, client=self._codec)
            name = request.command
            if name == "bind_transceiver":
                self.bound = conn
                ok = request.password.decode() == self.behaviour.password
                self.binds += ok
                status = 0 if ok else 0x0E  # ESME_RINVPASWD
                self._reply(conn, "bind_transceiver_resp", request, status=status,
                            system_id="gateway")  # fmt: skip
            elif name == "enquire_link":
                self.enquiries += 1
                self._reply(conn, "enquire_link_resp", request)
            elif name == "unbind":
                self._reply(conn, "unbind_resp", request)
                return
            elif name == "submit_sm":
                if not self._submit(conn, request):
                    return
            elif name in ("deliver_sm_resp", "enquire_link_resp"):
                pass

    def _submit(self, conn: socket.socket, request: Any) -> bool:
        with self._lock:
            count = len(self.submitted) + 1
            if self.behaviour.drop_after is not None and count == self.behaviour.drop_after:
                self.behaviour.drop_after = None
                self.submitted.append(self._record(request, ""))
                return False  # received, never answered: the gateway died
            status = self.behaviour.statuses.pop(0) if self.behaviour.statuses else 0
            self._seq += 1
            message_id = f"m{self._seq}" if status == 0 else ""
            if status == 0:
                self.submitted.append(self._record(request, message_id))
        self._reply(conn, "submit_sm_resp", request, status=status,
                    message_id=message_id)  # fmt: skip
        if status == 0 and self.behaviour.receipt is not None:
            text = (f"id:{message_id} sub:001 dlvr:001 submit date:2612072130 done date:"
                    f"2612072130 stat:{self.behaviour.receipt} err:000 text:").encode()  # fmt: skip
            receipt = smpp.make_pdu(
                "deliver_sm", client=self._codec, source_addr=request.destination_addr.decode(),
                destination_addr=request.source_addr.decode(), esm_class=0x04, short_message=text,
            )  # fmt: skip
            conn.sendall(receipt.generate())
        return True

    def reply(self, number: str, text: str) -> None:
        """A phone's reply (mobile-originated ``deliver_sm``, UCS-2) on the bound connection."""
        assert self.bound is not None
        pdu = smpp.make_pdu(
            "deliver_sm", client=self._codec, source_addr=number, destination_addr="1065900001",
            esm_class=0, data_coding=8, short_message=text.encode("utf-16-be"),
        )  # fmt: skip
        self.bound.sendall(pdu.generate())

    @staticmethod
    def _record(request: Any, message_id: str) -> Submitted:
        return Submitted(
            request.destination_addr.decode(),
            request.source_addr.decode(),
            int(request.data_coding),
            int(request.esm_class),
            bytes(request.short_message),
            message_id,
        )
