"""``fontana serve``'s HTTP server: the standard library's WSGI server, threaded and bounded.

One thread per connection, at most ``max_threads`` at once (further connections
wait in the listen backlog), and a socket timeout so a client that stops
sending cannot hold a thread. For production, run the same app under a real
WSGI server (``gunicorn 'fontana.node:create_app()'``, docs/node.md).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from socketserver import TCPServer, ThreadingMixIn
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from fontana.errors import FontanaError

log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8547
DEFAULT_THREADS: Final = 64
#: Seconds a connection may sit silent (mid-request) before it is dropped.
SOCKET_TIMEOUT_S: Final = 30


#: Codes of the errors the HTTP layer answers before the app sees a request.
_HTTP_ERROR_CODES: Final = {
    400: "malformed",
    408: "timeout",
    414: "uri_too_long",
    431: "headers_too_large",
    505: "http_version",
}


class _Handler(WSGIRequestHandler):
    timeout = SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The HTTP layer's own refusals (request line or headers too long, bad syntax) in
        the API's JSON error shape rather than the standard library's HTML page."""
        self.log_error("code %d, message %s", code, message)
        error = {
            "code": _HTTP_ERROR_CODES.get(code, "http_error"),
            "message": message or HTTPStatus(code).phrase,
        }
        body = json.dumps({"error": error}, ensure_ascii=True).encode("ascii")
        self.send_response(code, HTTPStatus(code).phrase)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


class NodeServer(ThreadingMixIn, WSGIServer):
    """A WSGI server with one thread per connection, ``max_threads`` at most."""

    # Shutting down waits for the requests in flight (each bounded by the socket timeout).
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], max_threads: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(max_threads)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own bind looks up the host's FQDN, a DNS round trip nobody reads.
        TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]
        self.setup_environ()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A dropped or timed-out connection is the client's business, not a traceback."""
        log.debug("connection from %s failed", client_address, exc_info=True)

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server_port}"


def make_server(
    app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_threads: int = DEFAULT_THREADS
) -> NodeServer:
    """A bound server for ``app`` (port 0 picks a free one: see ``server.url``)."""
    try:
        server = NodeServer((host, port), max_threads)
    except (OSError, UnicodeError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FontanaError(
            f"cannot listen on {host}:{port}: {reason}", code="listen_failed"
        ) from None
    server.set_app(app)
    return server
