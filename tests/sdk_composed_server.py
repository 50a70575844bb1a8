"""A provider whose paid view pays another Fontana API with the provider's own wallet.

``GET /v1/summary`` costs ``SUMMARY_PRICE``; to answer it, the view buys a quote
from ``UPSTREAM_URL`` with the wallet key ``payer`` (not the key that receives
payments and signs receipts), within its own budget. The upstream's receipt
goes into the answer. Settings come from the environment like any provider's;
it prints ``listening on <port>`` and stops on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fontana.config import load_settings
from fontana.ledger import open_ledger
from fontana.payments.charger import Charger
from fontana.payments.wsgi import charge
from fontana.sdk import Budget, Client
from fontana.wallet import load_key

SUMMARY_PRICE = 3_000


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    settings = load_settings()
    charger = Charger.from_settings(settings)
    upstream = os.environ["UPSTREAM_URL"]
    # One client for the process, shared by every request thread: one pool, one budget.
    client = Client(
        load_key(settings.home, "payer"),
        open_ledger(settings),
        budget=Budget(per_call=2_000, per_day=100_000),
    )

    def summary(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        paid = client.get(f"{upstream}/v1/quote")
        if paid.receipt is None:
            status, data = "502 Bad Gateway", {"error": "the upstream call failed"}
        else:
            status = "200 OK"
            data = {
                "summary": paid.response.json()["quote"][:20],
                "upstream_receipt": paid.receipt.to_json(),
            }
        body = json.dumps(data).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    app = charge(charger, SUMMARY_PRICE, description="a summary of a bought quote")(summary)
    server = make_server("127.0.0.1", 0, app, Server, Quiet)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        client.close()
        charger.close()


if __name__ == "__main__":
    main()
