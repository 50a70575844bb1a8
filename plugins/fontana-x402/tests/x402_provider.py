"""A provider process for the x402 tests: Fontana's example app, one thread per request.

``python x402_provider.py flask`` serves the Flask adapter's example app (a real
Flask provider), ``wsgi`` the built-in WSGI adapter's.

Settings come from the environment (``FONTANA_HOME``, ``FONTANA_STORAGE_URL``);
it prints ``listening on <port>`` once it accepts calls and stops on SIGTERM.
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


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    charger = Charger.from_settings(load_settings())
    if sys.argv[1:] == ["flask"]:
        from fontana_flask.example import example_app as flask_example_app

        app = flask_example_app(charger)
    else:
        app = example_app(charger)
    server = make_server("127.0.0.1", 0, app, Server, Quiet)

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
