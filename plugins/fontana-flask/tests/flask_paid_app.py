"""The Flask app the real-server tests run under gunicorn: the endpoints of
:mod:`fontana.testing.charging`, configured from ``FONTANA_*`` in the environment."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

from flask import Flask, Request, Response, request, stream_with_context
from fontana_flask import Fontana, charge

from fontana.testing.charging import BIG_BYTES, PRICE, STREAM_CHUNKS, pass_gate

app = Flask(__name__)
Fontana(app)


@app.after_request
def worker_pid(response: Response) -> Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


def ran() -> dict[str, Any]:
    return {"run": secrets.token_hex(16), "pid": os.getpid()}


@app.route("/paid", methods=["GET", "POST"])
@charge(utia=PRICE)
def paid() -> dict[str, Any]:
    if request.method == "GET":
        return ran()
    body = request.get_data()
    return {**ran(), "sha256": hashlib.sha256(body).hexdigest(), "json": request.get_json()}


def price_of(req: Request) -> int:
    return int(req.args["utia"])


@app.get("/priced")
@charge(price=price_of)
def priced() -> dict[str, Any]:
    return ran()


@app.get("/raise")
@charge(utia=PRICE)
def fails_by_raising() -> dict[str, Any]:
    raise RuntimeError("the view failed")


@app.get("/fail")
@charge(utia=PRICE)
def fails_by_status() -> tuple[dict[str, str], int]:
    return {"error": "down"}, 500


@app.get("/stream")
@charge(utia=PRICE)
def stream() -> Response:
    def chunks() -> Iterator[bytes]:
        for _ in range(STREAM_CHUNKS):
            yield b"chunk\n"

    return Response(stream_with_context(chunks()), mimetype="text/plain")


@app.get("/big")
@charge(utia=PRICE)
def big() -> Response:
    return Response(b"x" * BIG_BYTES, mimetype="application/octet-stream")


@app.get("/gate")
@charge(utia=PRICE)
def gate() -> dict[str, Any]:
    return pass_gate(request.args["dir"])
