"""A misbehaving network between Stripe and the webhook endpoint.

Every webhook delivery (the emulator's and the simulation's own events) goes
through this proxy, which, drawing from a seeded random generator:

- drops 10% of them: answers 200 or 500 to the sender and forwards nothing (only
  reconciliation can bring those events back);
- delays a third of the rest by up to `max_delay` seconds before forwarding, so
  events arrive out of order;
- duplicates a quarter of the rest: the copy goes at the same moment (concurrently)
  or a few seconds later.

The sender gets the endpoint's own answer for the first copy.
"""

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

DROP, DELAY, DUPLICATE = 0.10, 1 / 3, 0.25


@dataclass
class ChaosStats:
    received: int = 0
    dropped: int = 0
    delayed: int = 0
    duplicated: int = 0
    forwarded: int = 0
    refused: Counter = field(default_factory=Counter)  # the endpoint's answers >= 300


class ChaosProxy:
    """An HTTP server on loopback that forwards POSTs to `target` with chaos."""

    def __init__(
        self, target: str, *, seed: int, max_delay: float = 6.0, calm: bool = False
    ) -> None:
        self.target = target
        self.max_delay = max_delay
        self.calm = calm  # forward every delivery at once, once (the browser journeys)
        self.stats = ChaosStats()
        self._random = random.Random(f"chaos-{seed}")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"

    def start(self) -> "ChaosProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def idle(self) -> bool:
        """No delivery held, forwarding or waiting to be duplicated."""
        with self._lock:
            return self._in_flight == 0

    def _draw(self) -> tuple[bool, int, float, str | None, float]:
        """(drop, answer if dropped, delay, duplicate: None | "now" | "later", later by)."""
        with self._lock:
            r = self._random
            self.stats.received += 1
            if self.calm:
                self._in_flight += 1
                return False, 0, 0.0, None, 0.0
            if r.random() < DROP:
                self.stats.dropped += 1
                return True, r.choice((200, 500)), 0.0, None, 0.0
            delay = r.uniform(0.2, self.max_delay) if r.random() < DELAY else 0.0
            duplicate = None
            if r.random() < DUPLICATE:
                duplicate = r.choice(("now", "later"))
                self.stats.duplicated += 1
            if delay:
                self.stats.delayed += 1
            self._in_flight += 1
            return False, 0, delay, duplicate, r.uniform(0.5, self.max_delay)

    def _forward(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            # A new connection each time, as Stripe makes them (a kept-alive one may have
            # been closed by the server meanwhile, which would look like a lost delivery).
            answer = requests.post(self.target, data=body, headers=headers, timeout=60)
            status = answer.status_code
        except requests.RequestException as exc:
            status, why = 599, f"no answer ({type(exc).__name__})"
        else:
            why = str(status)
        with self._lock:
            self.stats.forwarded += 1
            if status >= 300:
                self.stats.refused[why] += 1
        return status

    def _later(self, body: bytes, headers: dict[str, str], seconds: float) -> None:
        try:
            time.sleep(seconds)
            self._forward(body, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def deliver(self, body: bytes, headers: dict[str, str]) -> int:
        """One delivery as the sender makes it; returns the status the sender gets."""
        drop, answer, delay, duplicate, later_by = self._draw()
        if drop:
            return answer
        try:
            if delay:
                time.sleep(delay)
            if duplicate is not None:
                with self._lock:
                    self._in_flight += 1
                wait = 0.0 if duplicate == "now" else later_by
                threading.Thread(
                    target=self._later, args=(body, headers, wait), daemon=True
                ).start()
            return self._forward(body, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {
                    "Content-Type": self.headers.get("Content-Type", "application/json"),
                    "Stripe-Signature": self.headers.get("Stripe-Signature", ""),
                }
                status = proxy.deliver(body, headers)
                reply = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        return Handler
