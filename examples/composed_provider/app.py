"""A paid Flask API that buys from another one (see README.md to run it).

``GET /outfit?city=NAME`` sells what to wear today for 2500 utia. To answer,
the view buys the city's forecast from examples/flask_provider
(``UPSTREAM_URL``, ``GET /weather``, 1500 utia) and pays for it from the
provider's own wallet: the key ``payer``, not the key that is paid for outfits
and signs their receipts (``FONTANA_CHARGE_KEY_NAME``). The answer carries the
forecast's receipt, signed by the upstream provider.

If buying the forecast fails (the upstream refuses, charges nothing, cannot be
reached, or the payer's budget or funds run out), the view answers 502 and so
its own consumer is not charged either.
"""

from __future__ import annotations

import os
from typing import Any

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from fontana_flask import Fontana, charge

from fontana.config import load_settings
from fontana.errors import ConfigError, FontanaError
from fontana.ledger import open_ledger
from fontana.sdk import Budget, Client
from fontana.wallet import load_key

OUTFIT_PRICE = 2500
#: The key that pays upstream: a float kept apart from what the provider earns.
PAYER_KEY = "payer"
#: What the payer may spend, fee included: one forecast a call, a bounded amount a day.
PAYER_BUDGET = Budget(per_call=2_000, per_day=100_000)
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:8000").rstrip("/")

app = Flask(__name__)
Fontana(app)


def make_payer() -> Client:
    """The process's one paying client, shared by every request thread: one pool, one budget.

    Made when the module is imported, which gunicorn does in each worker after
    forking (not with ``--preload``: a ledger connection must not cross a fork).
    """
    settings = load_settings()
    if settings.charge.key_name == PAYER_KEY:
        raise ConfigError(f"the key {PAYER_KEY!r} pays upstream; charge with another key")
    return Client(load_key(settings.home, PAYER_KEY), open_ledger(settings), budget=PAYER_BUDGET)


payer = make_payer()


def upstream_failed(message: str) -> ResponseReturnValue:
    """502: this view failed, so the charge is released and its consumer keeps the money."""
    return jsonify(error="upstream_failed", message=message), 502


def what_to_wear(weather: Any) -> str | None:
    """Advice for the forecast, or ``None`` if the upstream's answer is not one."""
    if not isinstance(weather, dict):
        return None
    sky, degrees = weather.get("sky"), weather.get("temperature_c")
    if not isinstance(sky, str) or isinstance(degrees, bool) or not isinstance(degrees, int):
        return None
    layer = "a coat" if degrees < 10 else "a sweater" if degrees < 20 else "a t-shirt"
    extra = {"rain": ", and take an umbrella", "snow": " and boots", "sunny": " and a hat"}
    return layer + extra.get(sky, "")


@app.get("/")
def index() -> ResponseReturnValue:
    """Free: what the API sells, and for how much."""
    return {"GET /outfit?city=NAME": f"{OUTFIT_PRICE} utia"}


@app.get("/outfit")
@charge(utia=OUTFIT_PRICE, description="what to wear today in one city, from a bought forecast")
def outfit() -> ResponseReturnValue:
    city = request.args.get("city", "")
    try:
        bought = payer.get(f"{UPSTREAM_URL}/weather", params={"city": city})
    except FontanaError as exc:  # nothing was paid, or the upstream's answer proved nothing
        return upstream_failed(f"paying for the forecast failed: {exc.code}: {exc.message}")
    except requests.RequestException as exc:
        return upstream_failed(f"the forecast's provider did not answer: {type(exc).__name__}")
    if bought.receipt is None:
        status = bought.response.status_code
        return upstream_failed(f"the forecast's provider answered {status} and charged nothing")
    try:
        weather = bought.response.json()
    except ValueError:
        weather = None
    advice = what_to_wear(weather)
    if advice is None:  # paid for, but useless: this call fails, the payment upstream stands
        return upstream_failed("the forecast's provider answered something that is no forecast")
    return {
        "city": city,
        "wear": advice,
        "weather": weather,
        "upstream_receipt": bought.receipt.to_json(),
    }
