"""``example_app(charger)``: a small paid JSON API, what the devnet's consumer calls.

- ``GET /``: free; the price list.
- ``GET /weather?city=NAME``: 1500 utia; a made-up forecast. Without ``city`` it
  answers 400, and the caller keeps the money.
- ``POST /echo``: 100 utia plus 1 per byte of the body; its length and SHA-256.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, jsonify, request

from fontana_flask.extension import Fontana
from fontana_flask.views import charge

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

    from fontana.payments.charger import Charger

WEATHER_PRICE = 1500
ECHO_BASE_PRICE = 100
_SKIES = ("sunny", "cloudy", "rain", "fog", "wind", "snow")


def echo_price(req: Request) -> int:
    """100 utia plus 1 per byte: the body is what costs."""
    return ECHO_BASE_PRICE + len(req.get_data(cache=True))


def example_app(charger: Charger) -> Flask:
    app = Flask("fontana_example")
    Fontana(app, charger=charger)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {
            "service": "fontana example (Flask)",
            "prices_utia": {"GET /weather?city=NAME": WEATHER_PRICE, "POST /echo": "100 + 1/byte"},
        }

    @app.get("/weather")
    @charge(utia=WEATHER_PRICE)
    def weather() -> ResponseReturnValue:
        city = request.args.get("city", "")
        if not city:
            return jsonify(error="missing_city", message="add ?city=NAME"), 400
        seed = hashlib.sha256(city.encode()).digest()
        return {"city": city, "sky": _SKIES[seed[0] % len(_SKIES)], "temperature_c": seed[1] % 35}

    @app.post("/echo")
    @charge(price=echo_price)
    def echo() -> dict[str, Any]:
        body = request.get_data(cache=True)
        return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    return app
