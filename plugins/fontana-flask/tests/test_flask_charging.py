"""``@charge`` in a Flask app, in process, on a real SQLite ledger and the real charger.

What a real server cannot show as directly: Flask's own error handling after a
failed view, bodies still readable in every form, async views, the extension
built from app config, one charger per process across a fork, the example app.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Request, abort, request
from flask.testing import FlaskClient
from fontana_flask import Fontana, charge
from fontana_flask.plugin import FlaskAdapter
from werkzeug.test import TestResponse

from fontana.address import encode_address
from fontana.config import load_settings
from fontana.payments.charger import Charger
from fontana.testing.charging import (
    ALLOCATION,
    BODY_FORMS,
    FEE,
    PRICE,
    PROVIDER_KEY,
    UTXOS_PER_CONSUMER,
    Answer,
    Chain,
    PaidCall,
    challenge_then_pay,
    check_receipt,
    isolate,
    make_chain,
    not_charged,
    rejection,
)

FUNDS = ALLOCATION * UTXOS_PER_CONSUMER


class Teapot(Exception):
    """An application error its own handler turns into an answer."""


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chain]:
    """A chain on a SQLite file; no developer config reaches the app."""
    isolate(monkeypatch, tmp_path)
    made = make_chain(f"sqlite:///{tmp_path}/ledger.db", tmp_path / "home")
    yield made
    made.ledger.storage.close()


def app_config(chain: Chain) -> dict[str, str]:
    return {
        "FONTANA_HOME": str(chain.home),
        "FONTANA_STORAGE_URL": chain.url,
        "FONTANA_CHARGE_KEY_NAME": PROVIDER_KEY,
    }


@pytest.fixture
def app(chain: Chain) -> Iterator[Flask]:
    app = Flask("paid")
    app.config.update(app_config(chain))
    Fontana(app)

    @app.route("/paid", methods=["GET", "POST"])
    @charge(utia=PRICE, description="a paid echo")
    def paid() -> dict[str, Any]:
        body = request.get_data()
        form = {k: v for k, v in request.form.items()}
        files = {k: f.read().decode() for k, f in request.files.items()}
        return {"sha256": hashlib.sha256(body).hexdigest(), "form": form, "files": files}

    @app.get("/missing")
    @charge(utia=PRICE)
    def missing() -> str:
        abort(404)

    @app.errorhandler(Teapot)
    def teapot(_: Teapot) -> tuple[str, int]:
        return "handled by the app", 200

    @app.get("/teapot")
    @charge(utia=PRICE)
    def raises_teapot() -> str:
        raise Teapot

    @app.get("/async")
    @charge(utia=PRICE)
    async def asynchronous() -> dict[str, str]:
        return {"ran": "async"}

    def bad_price(_: Request) -> int:
        return 1.5  # type: ignore[return-value]

    @app.get("/bad-price")
    @charge(price=bad_price)
    def bad() -> str:
        return "never"

    yield app
    Fontana.close(app)


def respond(response: TestResponse) -> Answer:
    return Answer(
        response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.data
    )


def paid_call(
    client: FlaskClient, chain: Chain, method: str, target: str, **kwargs: Any
) -> PaidCall:
    """The challenge, then the call paid by a fresh consumer."""

    def send(headers: Mapping[str, str]) -> Answer:
        return respond(client.open(target, method=method, headers=dict(headers), **kwargs))

    return challenge_then_pay(chain, send)


def test_extension_from_app_config_challenges_and_settles(app: Flask, chain: Chain) -> None:
    client = app.test_client()
    call = paid_call(client, chain, "GET", "/paid?q=1")
    body = rejection(call.challenge, 402, "payment_required")
    assert body["accepts"][0]["payTo"] == encode_address(chain.provider)
    assert body["resource"]["url"] == "http://localhost/paid?q=1"
    assert body["resource"]["description"] == "a paid echo"
    assert call.answer.status == 200, call.answer.body
    check_receipt(chain, call.answer, call.consumer, call.tx, "GET", "/paid?q=1")
    assert chain.balance(call.consumer.public_key) == FUNDS - PRICE - FEE
    retry = respond(client.get("/paid?q=1", headers={"PAYMENT-SIGNATURE": call.header}))
    assert (retry.status, retry.body) == (200, call.answer.body)
    assert retry.headers["content-type"] == "application/json"
    assert retry.header_json("payment-response") == call.answer.header_json("payment-response")


@pytest.mark.parametrize(("content_type", "body", "form", "files"), BODY_FORMS)
def test_the_view_still_reads_the_body_it_was_charged_for(
    app: Flask,
    chain: Chain,
    content_type: str,
    body: bytes,
    form: dict[str, str],
    files: dict[str, str],
) -> None:
    call = paid_call(
        app.test_client(), chain, "POST", "/paid", data=body, content_type=content_type
    )
    assert call.answer.status == 200, call.answer.body
    digest = hashlib.sha256(body).hexdigest()
    assert call.answer.json() == {"sha256": digest, "form": form, "files": files}
    check_receipt(chain, call.answer, call.consumer, call.tx, "POST", "/paid", body)


def test_abort_in_a_paid_view_is_flasks_404_and_not_charged(app: Flask, chain: Chain) -> None:
    call = paid_call(app.test_client(), chain, "GET", "/missing")
    assert call.answer.status == 404
    assert "payment-response" not in call.answer.headers  # the view raised: no answer of its own
    not_charged(chain, call)


def test_an_exception_reaches_the_apps_error_handler_and_is_not_charged(
    app: Flask, chain: Chain
) -> None:
    call = paid_call(app.test_client(), chain, "GET", "/teapot")
    # The app's handler answers 200, but the view raised: the consumer keeps the money.
    assert (call.answer.status, call.answer.body) == (200, b"handled by the app")
    assert "payment-response" not in call.answer.headers
    not_charged(chain, call)


def test_an_uncaught_exception_propagates_to_flask(app: Flask, chain: Chain) -> None:
    app.testing = True  # Flask re-raises instead of answering 500
    client = app.test_client()
    consumer = chain.consumer()

    @app.get("/boom")
    @charge(utia=PRICE)
    def boom() -> str:
        raise LookupError("the view's own error")

    tx, header = chain.payment(consumer, respond(client.get("/boom")))
    with pytest.raises(LookupError, match="the view's own error"):
        client.get("/boom", headers={"PAYMENT-SIGNATURE": header})
    assert not chain.applied(tx.txid)
    again, header = chain.payment(consumer, respond(client.get("/paid")), source=tx.inputs[0])
    assert client.get("/paid", headers={"PAYMENT-SIGNATURE": header}).status_code == 200
    assert chain.applied(again.txid)


def test_async_views_are_charged(app: Flask, chain: Chain) -> None:
    call = paid_call(app.test_client(), chain, "GET", "/async")
    assert (call.answer.status, call.answer.json()) == (200, {"ran": "async"})
    assert chain.applied(call.tx.txid)


def test_a_price_function_that_returns_no_integer_is_the_providers_bug(app: Flask) -> None:
    app.testing = True
    with pytest.raises(TypeError, match="int number of utia"):
        app.test_client().get("/bad-price")


def test_a_given_charger_serves_an_app_without_the_extension(chain: Chain) -> None:
    settings = load_settings(environ=app_config(chain), cwd=chain.home)
    charger = Charger.from_settings(settings)
    try:
        app = Flask("bare")
        adapter = FlaskAdapter(settings)

        @app.get("/")
        @adapter.charge(utia=7, charger=charger)
        def view() -> str:
            return "paid"

        call = paid_call(app.test_client(), chain, "GET", "/")
        assert (call.answer.status, call.answer.body) == (200, b"paid")
        check_receipt(chain, call.answer, call.consumer, call.tx, "GET", "/", amount=7)
    finally:
        charger.close()


def test_each_process_builds_its_own_charger(app: Flask) -> None:
    parent = Fontana.charger(app)
    assert Fontana.charger(app) is parent
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            child = Fontana.charger(app)
            code = 0 if child is not parent and Fontana.charger(app) is child else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert Fontana.charger(app) is parent


def test_example_app_is_the_wsgi_examples_api_in_flask(chain: Chain) -> None:
    settings = load_settings(environ=app_config(chain), cwd=chain.home)
    charger = Charger.from_settings(settings)
    try:
        client = FlaskAdapter(settings).example_app(charger).test_client()
        index = client.get("/").get_json()
        assert index["provider"] == encode_address(chain.provider)
        quote = paid_call(client, chain, "GET", "/v1/quote")
        assert quote.answer.status == 200, quote.answer.body
        check_receipt(
            chain, quote.answer, quote.consumer, quote.tx, "GET", "/v1/quote", amount=1000
        )
        echo = paid_call(client, chain, "POST", "/v1/echo?a=1", data="héllo".encode())
        assert echo.answer.json() == {"method": "POST", "query": "a=1", "body": "héllo"}
        check_receipt(
            chain, echo.answer, echo.consumer, echo.tx, "POST", "/v1/echo?a=1",
            "héllo".encode(), 500,
        )  # fmt: skip
        digest = paid_call(client, chain, "POST", "/v1/digest", data=b"twelve bytes")
        assert digest.answer.json()["bytes"] == 12
        check_receipt(
            chain, digest.answer, digest.consumer, digest.tx, "POST", "/v1/digest",
            b"twelve bytes", 20_000,
        )  # fmt: skip
        words = paid_call(client, chain, "GET", "/v1/words?n=3")
        assert words.challenge.header_json("payment-required")["accepts"][0]["amount"] == "300"
        assert words.answer.json()["words"] == ["alpha", "bravo", "charlie"]
        for target in ("/v1/words?n=0", "/v1/fail"):
            failed = paid_call(client, chain, "GET", target)
            assert failed.answer.status in (400, 500)
            not_charged(chain, failed)
    finally:
        charger.close()


def test_a_request_no_payment_can_name_is_400_malformed(app: Flask) -> None:
    """A target past the binding's 2048 bytes cannot be paid for: a typed 400, no crash."""
    answer = respond(app.test_client().get("/paid?x=" + "a" * 3000))
    body = rejection(answer, 400, "malformed")
    assert body["accepts"] == []
