"""A paid weather API on Flask: one decorator per paid route (see README.md to run it).

The provider's settings come from Fontana's usual sources (``fontana.toml``,
``.env``, ``FONTANA_*`` variables) or from ``FONTANA_*`` keys in ``app.config``:
the ledger (``FONTANA_STORAGE_URL``) and the key that is paid and signs
receipts (``FONTANA_CHARGE_KEY_NAME``).
"""

from __future__ import annotations

import hashlib

from flask import Flask, Request, jsonify, request
from flask.typing import ResponseReturnValue
from fontana_flask import Fontana, charge

app = Flask(__name__)
# /summary's price reads the body before anyone has paid: bound it (Flask sets no bound).
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
Fontana(app)

SKIES = ("sunny", "cloudy", "rain", "fog", "wind", "snow")


@app.get("/")
def index() -> ResponseReturnValue:
    """Free: what the API sells, and for how much."""
    return {"GET /weather?city=NAME": "1500 utia", "POST /summary": "100 utia + 1 per byte"}


@app.get("/weather")
@charge(utia=1500, description="today's weather in one city")
def weather() -> ResponseReturnValue:
    city = request.args.get("city", "")
    if not city:
        # 400 or more: the payment is released, the caller keeps the money.
        return jsonify(error="missing_city", message="add ?city=NAME"), 400
    seed = hashlib.sha256(city.lower().encode()).digest()
    return {"city": city, "sky": SKIES[seed[0] % len(SKIES)], "temperature_c": seed[1] % 35}


def summary_price(req: Request) -> int:
    """Longer texts cost more: 100 utia plus 1 per byte."""
    return 100 + len(req.get_data(cache=True))


@app.post("/summary")
@charge(price=summary_price, description="counts the words of the posted text")
def summary() -> ResponseReturnValue:
    text = request.get_data(as_text=True)
    return {"bytes": len(text.encode()), "words": len(text.split())}
