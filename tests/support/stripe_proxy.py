"""A small HTTP proxy in front of localstripe that behaves like the real Stripe API
where localstripe does not, and that can misbehave on purpose.

- Idempotency keys are honoured as Stripe honours them: a POST repeated with the
  same `Idempotency-Key` gets the first answer replayed (`Idempotent-Replayed:
  true`) and reaches localstripe once; the same key with other parameters is a
  400 `idempotency_error`; the same key while the first is still running is a 409.
- `fail_next(n)` answers the next n requests with a Stripe-style 500 without
  forwarding them; `delay_next(seconds)` forwards the next request (the charge
  happens) and then holds the answer longer than the client waits, as when the
  network drops the response.
- Every request that arrives is recorded in `requests`, in order.

The project's own code is not touched: only the Stripe base URL points here.
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "content-encoding"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    replayed: bool
    forwarded: bool


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class StripeProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._replies: dict[str, tuple[str, _Answer]] = {}  # key -> (params digest, answer)
        self._in_flight: set[str] = set()
        self._failures: list[tuple[str, int]] = []  # (path prefix, status)
        self._delays: list[tuple[str, float]] = []  # (path prefix, seconds)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "StripeProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- Misbehaviour -------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 500, path: str = "/") -> None:
        """Answer the next `count` requests whose path starts with `path` with an error."""
        with self._lock:
            self._failures.extend([(path, status)] * count)

    def delay_next(self, seconds: float, *, path: str = "/") -> None:
        """Forward the next request for `path`, then hold its answer for `seconds`."""
        with self._lock:
            self._delays.append((path, seconds))

    def recover(self) -> None:
        """Stripe is back: forget the failures and delays not used yet."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def writes(self, path_prefix: str) -> list[Seen]:
        """POSTs that arrived for a path (e.g. "/v1/payment_intents"), replays included."""
        return [r for r in self.requests if r.method == "POST" and r.path.startswith(path_prefix)]

    def forwarded_writes(self, path_prefix: str) -> list[Seen]:
        """POSTs for a path that reached localstripe (did something there)."""
        return [r for r in self.writes(path_prefix) if r.forwarded]

    # --- The proxy ----------------------------------------------------------------

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        key = headers.get("Idempotency-Key") if method == "POST" else None
        digest = hashlib.sha256(f"{path}\n".encode() + body).hexdigest()
        with self._lock:
            failure = _take(self._failures, path)
            delay = _take(self._delays, path) if failure is None else None
            if failure is not None:
                self._record(method, path, key, replayed=False, forwarded=False)
                return _stripe_error(failure, "api_error", "Injected server error.")
            if key and key in self._in_flight:
                self._record(method, path, key, replayed=False, forwarded=False)
                return _stripe_error(409, "idempotency_error", "Request already in progress.")
            if key and key in self._replies:
                known_digest, answer = self._replies[key]
                self._record(method, path, key, replayed=True, forwarded=False)
                if known_digest != digest:
                    return _stripe_error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be "
                        "used with the same parameters they were first used with.",
                    )
                return _Answer(
                    answer.status, {**answer.headers, "Idempotent-Replayed": "true"}, answer.body
                )
            if key:
                self._in_flight.add(key)
            self._record(method, path, key, replayed=False, forwarded=True)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = requests.request(
                method, self.upstream + path, headers=forwarded, data=body, timeout=30
            )
            answer = _Answer(
                upstream.status_code,
                {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP},
                upstream.content,
            )
            with self._lock:
                if key and upstream.status_code < 500:
                    self._replies[key] = (digest, answer)
        finally:
            with self._lock:
                self._in_flight.discard(key)
        if delay:
            time.sleep(delay)
        return answer

    def _record(self, method, path, key, *, replayed, forwarded) -> None:
        self.requests.append(Seen(method, path.split("?")[0], key, replayed, forwarded))

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = proxy._answer(self.command, self.path, dict(self.headers), body)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (delay_next): that is the point

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        return Handler


def _take(rules: list, path: str):
    """Remove and return the value of the first rule whose prefix matches `path`."""
    for index, (prefix, value) in enumerate(rules):
        if path.startswith(prefix):
            del rules[index]
            return value
    return None


def _stripe_error(status: int, error_type: str, message: str) -> _Answer:
    body = json.dumps({"error": {"type": error_type, "message": message}}).encode()
    return _Answer(status, {"Content-Type": "application/json"}, body)
