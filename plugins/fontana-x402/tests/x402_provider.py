"""A provider process for the x402 tests: Fontana's example WSGI app, one thread per request.

Settings come from the environment (``FONTANA_HOME``, ``FONTANA_STORAGE_URL``);
it prints ``listening on <port>`` once it accepts calls and stops on SIGTERM.
"""

from __future__ import annotations

import signal
from socketserver import ThreadingMixIn
from types import FrameType
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fontana.config import load_settings
from fontana.payments.charger import Charger
from fontana.payments.wsgi import example_app


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    charger = Charger.from_settings(load_settings())
    server = make_server("127.0.0.1", 0, example_app(charger), Server, Quiet)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        charger.close()


if __name__ == "__main__":
    main()
