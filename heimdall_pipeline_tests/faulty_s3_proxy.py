"""A small reverse proxy in front of the S3 server that fails a share of object GETs, as a flaky
network or an overloaded MinIO would: 500 InternalError, 503 SlowDown, a connection reset before
any response, and a body cut short (the full Content-Length announced, half the body sent, the
connection closed). Threaded, on loopback; everything else passes through untouched.

No key fails more than `max_failures_in_a_row` times in a row, so a client that retries at least
that often must get every object: the test can assert that everything loads, not merely hope so.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("500", "503", "reset", "truncated")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
_ERROR_BODY = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'


class FaultyS3Proxy:
    def __init__(
        self,
        upstream_url: str,
        failure_rate: float = 0.0,
        *,
        seed: int = 0,
        max_failures_in_a_row: int = 3,
        denied_keys: frozenset[str] = frozenset(),
    ):
        upstream = urlsplit(upstream_url)
        self.upstream = (upstream.hostname, upstream.port)
        self.failure_rate = failure_rate
        self.max_failures_in_a_row = max_failures_in_a_row
        self.denied_keys = denied_keys  # always 403 AccessDenied: a GET no retry can cure
        self.faults: Counter[str] = Counter()  # injected, by kind
        self.object_gets = 0
        self._random = random.Random(seed)
        self._in_a_row: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy._handle(self)

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass  # the connection was reset on purpose

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a reset connection is the point, not an error

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyS3Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def injected(self) -> int:
        return sum(self.faults.values())

    def _choose_fault(self, handler) -> str | None:
        path = urlsplit(handler.path)
        is_object_get = handler.command == "GET" and path.path.strip("/").count("/") >= 1 and not path.query
        if not is_object_get:
            return None
        with self._lock:
            self.object_gets += 1
            key = path.path
            if any(key.endswith("/" + denied) for denied in self.denied_keys):
                return "403"
            if self._in_a_row[key] < self.max_failures_in_a_row and self._random.random() < self.failure_rate:
                fault = self._random.choice(FAULTS)
                self._in_a_row[key] += 1
                self.faults[fault] += 1
                return fault
            self._in_a_row[key] = 0
            return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._choose_fault(handler)
        if fault == "reset":
            # RST instead of FIN: the client sees "connection reset by peer" before any response.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return
        if fault in ("500", "503", "403"):
            code, message = {
                "500": ("InternalError", "injected"),
                "503": ("SlowDown", "Please reduce your request rate."),
                "403": ("AccessDenied", "Access Denied"),
            }[fault]
            payload = _ERROR_BODY.format(code=code, message=message).encode()
            handler.send_response(int(fault))
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        status, headers, payload = self._forward(handler, body)
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                handler.send_header(name, value)
        if fault == "truncated" and len(payload) > 1:
            handler.end_headers()  # Content-Length (forwarded) says the whole body is coming
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            headers = {name: value for name, value in handler.headers.items() if name.lower() not in _HOP_BY_HOP}
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            connection.close()
