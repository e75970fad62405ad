"""A real HTTP receiver on loopback that fails on demand, for webhook tests.

The path chooses the behaviour: ``/<name>/ok``, ``/<name>/500``, ``/<name>/301``,
``/<name>/410``, ``/<name>/hang``, ``/<name>/reset``, ``/<name>/big`` (a 10 MB
answer), ``/<name>/flaky`` (500 on the first request of each webhook-id, then 200).
Each request is recorded with when it started and ended.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    name: str
    mode: str
    headers: dict[str, str]
    body: str
    started: float
    ended: float = 0.0


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def to(self, name: str, mode: str = "ok") -> str:
        return f"{self.url}/{name}/{mode}"

    def of(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.name == name]

    def wait_for(self, name: str, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of(name)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{name}: {len(self.of(name))} requests, expected {count}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            _, name, mode = self.path.split("/", 2)
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            item = Received(
                name, mode, {k.lower(): v for k, v in self.headers.items()}, body,
                time.monotonic(),
            )  # fmt: skip
            with receiver.lock:
                first = not any(
                    r.headers.get("webhook-id") == item.headers.get("webhook-id")
                    for r in receiver.requests
                    if r.name == name
                )
                receiver.requests.append(item)
            try:
                self._answer(mode, first)
            finally:
                item.ended = time.monotonic()

        def _answer(self, mode: str, first: bool) -> None:
            if receiver.delay:
                time.sleep(receiver.delay)
            if mode == "hang":
                receiver.release.wait(30)
                return
            if mode == "reset":
                # RST instead of an answer.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                return
            status = {"ok": 200, "500": 500, "301": 301, "410": 410, "big": 200}.get(mode, 200)
            if mode == "flaky":
                status = 500 if first else 204
            self.send_response(status)
            if status == 301:
                self.send_header("Location", f"{receiver.url}/redirected/ok")
            if mode == "big":
                size = 10 * 1024 * 1024
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(size // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the sender stopped reading: what we want
                return
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def running(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """The receiver on a free loopback port; over TLS with ``tls`` (a server context)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver("")))
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    receiver = Receiver(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
