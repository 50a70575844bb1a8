"""``example_app(charger)``: the devnet's small paid JSON API, in Flask.

The same API as the built-in ``wsgi`` adapter's example (same paths, prices and
answers), so a devnet or a client serves or calls either unchanged:

- ``GET /``: free; the provider, its network and the price list.
- ``GET /v1/quote``: a quote.
- ``GET`` or ``POST /v1/echo``: what it was sent (a payment names one method).
- ``POST /v1/digest``: the SHA-256 and length of the body.
- ``GET /v1/words?n=N``: ``N`` words at a price per word; a bad ``n`` answers
  400 and costs nothing.
- ``GET /v1/fail``: answers 500, or raises with ``?how=raise``; costs nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, jsonify, request

from fontana.clock import now_ms
from fontana.payments.wsgi import (
    DIGEST_PRICE,
    ECHO_PRICE,
    FAIL_PRICE,
    MAX_WORDS,
    QUOTE_PRICE,
    WORD_PRICE,
)
from fontana_flask.extension import Fontana
from fontana_flask.views import charge

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

    from fontana.payments.charger import Charger

QUOTES = (
    "Pay for what you use, and only when it works.",
    "A receipt is a promise with a signature.",
    "Small payments, settled at once, posted for all to check.",
)
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_N = re.compile(r"[0-9]{1,5}", re.ASCII)


def word_count(req: Request) -> int | None:
    """``n`` of the query when it is one number in 1..MAX_WORDS, else ``None``."""
    values = req.args.getlist("n")
    if len(values) != 1 or not _N.fullmatch(values[0]):
        return None
    n = int(values[0])
    return n if 1 <= n <= MAX_WORDS else None


def words_price(req: Request) -> int:
    return WORD_PRICE * (word_count(req) or 1)


def example_app(charger: Charger) -> Flask:
    app = Flask("fontana_example")
    Fontana(app, charger=charger)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {
            "provider": charger.pay_to,
            "network": charger.network,
            "endpoints": [
                {"method": "GET", "path": "/v1/quote", "price_utia": QUOTE_PRICE},
                {"method": "GET", "path": "/v1/echo", "price_utia": ECHO_PRICE},
                {"method": "POST", "path": "/v1/echo", "price_utia": ECHO_PRICE},
                {"method": "POST", "path": "/v1/digest", "price_utia": DIGEST_PRICE},
                {"method": "GET", "path": "/v1/words?n=N", "price_utia_per_word": WORD_PRICE},
                {"method": "GET", "path": "/v1/fail", "price_utia": FAIL_PRICE},
            ],
        }

    @app.get("/v1/quote")
    @charge(utia=QUOTE_PRICE, description="a quote")
    def quote() -> dict[str, Any]:
        return {
            "quote": QUOTES[secrets.randbelow(len(QUOTES))],
            "nonce": secrets.token_hex(8),
            "served_at_ms": now_ms(),
        }

    @app.route("/v1/echo", methods=["GET", "POST"])
    @charge(utia=ECHO_PRICE, description="what it was sent")
    def echo() -> dict[str, Any]:
        return {
            "method": request.method,
            "query": request.query_string.decode("latin-1"),
            "body": request.get_data().decode("utf-8", "replace"),
        }

    @app.post("/v1/digest")
    @charge(utia=DIGEST_PRICE, description="SHA-256 of the body")
    def digest() -> dict[str, Any]:
        body = request.get_data()
        return {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}

    @app.get("/v1/words")
    @charge(price=words_price, description="N words")
    def words() -> ResponseReturnValue:
        n = word_count(request)
        if n is None:
            return jsonify(error=f"n must be 1..{MAX_WORDS}"), 400
        return {"words": [WORDS[i % len(WORDS)] for i in range(n)], "nonce": secrets.token_hex(8)}

    @app.get("/v1/fail")
    @charge(utia=FAIL_PRICE, description="always fails")
    def fail() -> ResponseReturnValue:
        if request.args.getlist("how") == ["raise"]:
            raise RuntimeError("the example's failing endpoint raised, as asked")
        return jsonify(error="failed, as asked"), 500

    return app
