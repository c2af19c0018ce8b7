"""Loopback peers that answer as Asterisk's manager interface and FreeSWITCH's event socket do,
for the portal's click-to-call tests: they record what they were sent."""

from __future__ import annotations

import socketserver
import threading
from typing import Any

SEAT_PHONE = "13800138100"
CUSTOMER = "13900000042"
AGENT_LEG = f"Local/{SEAT_PHONE}@destinations-00000007;1"
AGENT_UUID = "5d2c1f0e-0d1b-4b7e-9a55-000000000007"


class Fake(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: Any, **behaviour: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.received: list[bytes] = []
        self.behaviour = behaviour
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Ami(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            block = b""
            while not block.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                block += line
            self.server.received.append(block)  # type: ignore[attr-defined]
            fields = dict(
                line.split(": ", 1) for line in block.decode().strip().split("\r\n") if ": " in line
            )
            action, action_id = fields.get("Action"), fields.get("ActionID", "")
            head = f"ActionID: {action_id}\r\n"
            if action == "Originate":
                if self.server.behaviour.get("refuse"):  # type: ignore[attr-defined]
                    self.wfile.write(
                        f"Response: Error\r\n{head}Message: Permission denied\r\n\r\n".encode()
                    )
                    continue
                queued = "Message: Originate successfully queued"
                self.wfile.write(f"Response: Success\r\n{head}{queued}\r\n\r\n".encode())
                self.wfile.write(
                    "\r\n".join(
                        [
                            "Event: OriginateResponse",
                            "Privilege: call,all",
                            head.strip(),
                            "Response: Success",
                            f"Channel: Local/{SEAT_PHONE}@destinations-00000001;1",
                            "Context: agents-out",
                            f"Exten: {CUSTOMER}",
                            "Reason: 4",
                            "Uniqueid: 1765000000.42",
                            "",
                            "",
                        ]
                    ).encode()
                )
            elif action == "Getvar":  # the caller's bridge peer: the agent's leg (or none)
                idle = self.server.behaviour.get("idle")  # type: ignore[attr-defined]
                value = f"Variable: BRIDGEPEER\r\nValue: {'' if idle else AGENT_LEG}"
                self.wfile.write(f"Response: Success\r\n{head}{value}\r\n\r\n".encode())
            elif action == "Hangup" and self.server.behaviour.get("gone"):  # type: ignore[attr-defined]
                self.wfile.write(
                    f"Response: Error\r\n{head}Message: No such channel\r\n\r\n".encode()
                )
            elif action == "Logoff":
                self.wfile.write(
                    f"Response: Goodbye\r\n{head}Message: Thanks for all the fish.\r\n\r\n".encode()
                )
                return
            else:
                self.wfile.write(
                    f"Response: Success\r\n{head}Message: Authentication accepted\r\n\r\n".encode()
                )


class Esl(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"Content-Type: auth/request\n\n")
        while True:
            command = b""
            while not command.endswith(b"\n\n"):
                line = self.rfile.readline()
                if not line:
                    return
                command += line
            self.server.received.append(command)  # type: ignore[attr-defined]
            if command.startswith(b"api originate"):
                body = b"+OK 7c1f0e2a-0d1b-4b7e-9a55-000000000042\n"
                self.wfile.write(
                    b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body
                )
            elif command.startswith(b"api "):  # uuid_getvar bridge_uuid, uuid_setvar, uuid_kill
                idle = self.server.behaviour.get("idle")  # type: ignore[attr-defined]
                gone = self.server.behaviour.get("gone")  # type: ignore[attr-defined]
                if command.startswith(b"api uuid_getvar"):
                    body = b"_undef_" if idle else AGENT_UUID.encode()
                elif command.startswith(b"api uuid_kill") and gone:
                    body = b"-ERR No such channel!\n"
                else:
                    body = b"+OK\n"
                self.wfile.write(
                    b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body
                )
            elif command.startswith(b"exit"):
                self.wfile.write(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
                return
            else:
                self.wfile.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
