"""A mail server on loopback that keeps every message, for the simulation to read.

The site sends through Django's SMTP backend (`EMAIL_URL=smtp://127.0.0.1:PORT`),
the path production takes. A folder of files (`file://`) would be simpler to
serve, but Django names each file by the second and the backend object's id, and
two prefork worker processes can pick the same name and interleave their writes.
Here each message arrives whole over its own SMTP transaction.
"""

import re
import socketserver
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str  # the plain-text part


def _parse(raw: bytes, recipients: list[str]) -> Mail:
    message: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    part = message.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    return Mail(tuple(r.lower() for r in recipients), str(message["Subject"] or ""), text)


class Mailbox:
    """An SMTP server (just enough of RFC 5321 for Django's backend) and its messages."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "Mailbox":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _keep(self, mail: Mail) -> None:
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()

    def to(self, address: str, subject_has: str = "") -> list[Mail]:
        address = address.lower()
        with self._lock:
            return [
                m
                for m in self.messages
                if address in m.to and subject_has.lower() in m.subject.lower()
            ]

    def wait_for(self, address: str, subject_has: str, *, count: int = 1, timeout: float = 60):
        """The messages to `address` whose subject has `subject_has`, once there are `count`."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [
                    m
                    for m in self.messages
                    if address.lower() in m.to and subject_has.lower() in m.subject.lower()
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {subject_has!r} email to {address} in {timeout}s")
                self._arrived.wait(min(left, 1.0))

    def _handler_class(self):
        mailbox = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 patronage-sim ESMTP")
                recipients: list[str] = []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].decode(errors="replace").upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 patronage-sim")
                    elif verb == "MAIL":
                        recipients = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        found = re.search(rb"<([^>]*)>", line)
                        recipients.append(found.group(1).decode() if found else "")
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while True:
                            data = self.rfile.readline()
                            if data in (b".\r\n", b".\n", b""):
                                break
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        mailbox._keep(_parse(b"".join(lines), recipients))
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:  # RSET, NOOP and the rest
                        self.reply("250 OK")

        return Handler
