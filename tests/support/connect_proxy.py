"""A loopback HTTP CONNECT proxy with Basic authentication (tests only).

It proves that the input really tunnels through the configured proxy and sends the
proxy credentials: every CONNECT is recorded with its target and whether the
credentials matched. Wrong or missing credentials get ``407``.
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass(frozen=True)
class Connect:
    target: str  # host:port the client asked for
    authorized: bool


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1").strip()
        headers = {}
        while True:
            line = self.rfile.readline(65537).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        method, _, rest = request_line.partition(" ")
        target = rest.split(" ")[0]
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
            return
        authorized = headers.get("proxy-authorization") == self.server.expected_authorization
        self.server.record(Connect(target, authorized))
        if not authorized:
            self.wfile.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
            )
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        self._tunnel(self.connection, upstream)

    @staticmethod
    def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
        with upstream:
            sockets = [client, upstream]
            while True:
                readable, _, failed = select.select(sockets, [], sockets, 30)
                if failed or not readable:
                    return
                for source in readable:
                    try:
                        data = source.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, expected_authorization: Optional[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.expected_authorization = expected_authorization
        self.connects: List[Connect] = []
        self._lock = threading.Lock()

    def record(self, connect: Connect) -> None:
        with self._lock:
            self.connects.append(connect)

    def handle_error(self, request: object, client_address: Tuple[str, int]) -> None:
        pass  # a client that hangs up mid-tunnel is not a test failure


class ConnectProxy:
    """``with ConnectProxy("user", "password") as proxy:`` serves on ``proxy.port``."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._server = _Server(f"Basic {token}")
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def connects(self) -> List[Connect]:
        return list(self._server.connects)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
