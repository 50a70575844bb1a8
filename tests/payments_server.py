"""A provider process for the payment tests: the example WSGI app, one thread per request.

Settings come from the environment (``FONTANA_HOME``, ``FONTANA_STORAGE_URL``,
``FONTANA_CHARGE_*``). It prints ``listening on <port>`` once it accepts
calls, and stops cleanly on SIGTERM, finishing pending settles.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from types import FrameType
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from fontana.config import load_settings
from fontana.payments.charger import Charger
from fontana.payments.wsgi import charge, example_app


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


#: What ``GET /test/slow`` costs: it sleeps ``?ms=`` (for tests that stop a provider mid-call).
SLOW_PRICE = 1_000


def with_slow_route(charger: Charger, app: WSGIApplication) -> WSGIApplication:
    @charge(charger, SLOW_PRICE)
    def slow(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        time.sleep(int(parse_qs(environ["QUERY_STRING"])["ms"][0]) / 1000)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]

    def routed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/test/slow":
            return slow(environ, start_response)
        return app(environ, start_response)

    return routed


def main() -> None:
    charger = Charger.from_settings(load_settings())
    server = make_server(
        "127.0.0.1",
        0,
        with_slow_route(charger, example_app(charger)),
        server_class=ThreadingWSGIServer,
        handler_class=QuietHandler,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        charger.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
