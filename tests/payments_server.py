"""A provider process for the payment tests: the example WSGI app, one thread per request.

Settings come from the environment (``FONTANA_HOME``, ``FONTANA_STORAGE_URL``,
``FONTANA_CHARGE_*``). It prints ``listening on <port>`` once it accepts
calls, and stops cleanly on SIGTERM, finishing pending settles.
"""

from __future__ import annotations

import signal
import sys
from socketserver import ThreadingMixIn
from types import FrameType
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fontana.config import load_settings
from fontana.payments.charger import Charger
from fontana.payments.wsgi import example_app


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    charger = Charger.from_settings(load_settings())
    server = make_server(
        "127.0.0.1",
        0,
        example_app(charger),
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
