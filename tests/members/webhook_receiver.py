"""A newsroom's webhook receiver, for the tests: an HTTP server in a thread on a free
loopback port that answers each request as scripted and keeps what it received."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.processes import free_port

OK, ERROR, SLOW, REDIRECT = "ok", "error", "slow", "redirect"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers the n-th request with `script[n]` (the last one once the script runs out):
    OK is 200, ERROR is 500, SLOW answers 200 only after `slow_seconds` (past the sender's
    timeout), REDIRECT is a 302 to /elsewhere."""

    def __init__(self, *script: str, slow_seconds: float = 3.0) -> None:
        self.script = list(script) or [OK]
        self.slow_seconds = slow_seconds
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/patronage"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    n = len(receiver.received)
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                answer = receiver.script[min(n, len(receiver.script) - 1)]
                if answer == SLOW:
                    time.sleep(receiver.slow_seconds)
                try:
                    if answer == REDIRECT:
                        self.send_response(302)
                        self.send_header("Location", "/elsewhere")
                    else:
                        self.send_response(500 if answer == ERROR else 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting (SLOW)
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def paths(self) -> list[str]:
        return [request.path for request in self.received]
