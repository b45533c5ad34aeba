"""A TCP proxy on loopback in front of a server (PostgreSQL, Redis, SMTP, Stripe's
emulator) that a test can take down and bring back, to fail the server for the
processes that talk to it through here, and only for them.

- `down()`: the port refuses connections and every open one is closed, as when the
  server has died; `up()` listens again on the same port, as when it is back.
- `lose_answer_to(pattern)`: the next request (bytes from the client) matching
  `pattern` reaches the server, but its answer never comes back: the connection is
  closed when the server starts answering, and the proxy goes down. The server did
  the work; the client cannot know it (a crash or a network cut at the worst moment).

Nothing of the server is touched: the shared PostgreSQL and Redis keep serving
everyone else.
"""

import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field

CHUNK = 65536
# Bytes of the previous read kept when matching, so a pattern split between two reads
# of the stream is still found.
OVERLAP = 256


@dataclass(eq=False)  # each pair is itself (hashed by identity)
class _Pair:
    """A client's connection and ours to the server, pumped by two threads.

    Other threads only shut the sockets down (which wakes the pumps); the last pump to
    end closes them. A socket closed under a thread blocked on it would free its
    descriptor for the next socket opened in this process, which that thread would then
    read from."""

    client: socket.socket
    server: socket.socket
    tail: bytes = b""  # the end of what the client sent last, for matching
    losing: bool = False  # the server's next answer is dropped and the pair cut
    pumps: int = 2
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cut(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pump_ended(self) -> None:
        self.cut()
        with self.lock:
            self.pumps -= 1
            last = self.pumps == 0
        if last:
            self.client.close()
            self.server.close()


class TcpProxy:
    """Forwards 127.0.0.1:`port` (a free one unless given) to `target_host`:`target_port`."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._lose: re.Pattern[bytes] | None = None
        self._lost = threading.Event()

    @property
    def url_host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def start(self) -> "TcpProxy":
        return self.up()

    def up(self) -> "TcpProxy":
        """Listen (again, on the same port): the server is reachable through here."""
        with self._lock:
            if self._listener is not None:
                return self
            listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()
        return self

    def down(self) -> None:
        """Refuse new connections and close the open ones: the server is gone."""
        with self._lock:
            listener, self._listener = self._listener, None
            acceptor, self._acceptor = self._acceptor, None
            pairs, self._pairs = self._pairs, set()
            self._lose = None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the acceptor, which closes it
        if acceptor is not None and acceptor is not threading.current_thread():
            acceptor.join(timeout=10)  # the port is free again when it returns
        for pair in pairs:
            pair.cut()

    def lose_answer_to(self, pattern: bytes) -> None:
        """The next request matching `pattern` (a regular expression over the bytes the
        client sends) is delivered, its answer is lost, and the proxy goes down."""
        self._lost.clear()
        with self._lock:
            self._lose = re.compile(pattern, re.IGNORECASE | re.DOTALL)

    def wait_for_lost_answer(self, timeout: float = 30) -> None:
        if not self._lost.wait(timeout):
            raise AssertionError(f"no request matched within {timeout}s")

    # --- Forwarding ---------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        try:
            self._accept_until_down(listener)
        finally:
            listener.close()

    def _accept_until_down(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # down()
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    client.close()
                    server.close()
                    return
                pair = _Pair(client, server)
                self._pairs.add(pair)
            threading.Thread(target=self._client_to_server, args=(pair,), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(pair,), daemon=True).start()

    def _client_to_server(self, pair: _Pair) -> None:
        try:
            while data := pair.client.recv(CHUNK):
                with self._lock:
                    pattern = self._lose
                    if pattern is not None and pattern.search(pair.tail + data):
                        self._lose = None
                        pair.losing = True  # before the server can answer
                pair.tail = data[-OVERLAP:]
                pair.server.sendall(data)
        except OSError:
            pass
        self._forget(pair)

    def _server_to_client(self, pair: _Pair) -> None:
        try:
            while data := pair.server.recv(CHUNK):
                if pair.losing:
                    self.down()
                    self._lost.set()
                    break
                pair.client.sendall(data)
        except OSError:
            pass
        self._forget(pair)

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
        pair.pump_ended()
