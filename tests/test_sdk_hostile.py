"""A hostile provider: the real charger behind a WSGI layer that lies in its headers.

The client must refuse to pay a challenge for another call, and must not count
a call as paid on a receipt or settle response that does not prove it; the
inputs of such a payment are set aside, never freed for a double spend.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from ledger_helpers import key, pub
from payments_helpers import CONSUMERS, FUNDS, init_chain, payments_genesis

from fontana.address import encode_address
from fontana.ledger import Ledger
from fontana.payments.backends import LedgerBackend
from fontana.payments.charger import Charger
from fontana.payments.wsgi import QUOTE_PRICE, example_app
from fontana.payments.x402 import (
    PAYMENT_REQUIRED,
    PaymentRequired,
    PaymentRequirement,
    encode_header,
)
from fontana.sdk import Client
from fontana.sdk.errors import ChallengeError, SettlementError
from fontana.sdk.payer import Payer
from fontana.sdk.sources import LedgerSource

Tamper = Callable[[str, list[tuple[str, str]]], list[tuple[str, str]]]


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def rewrite(name: str, change: Callable[[dict[str, Any]], None]) -> Tamper:
    """A tamper that decodes header ``name`` (base64 JSON), lets ``change`` edit it, re-encodes."""

    def tamper(status: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for k, v in headers:
            if k.lower() == name.lower():
                data = json.loads(base64.b64decode(v))
                change(data)
                v = base64.b64encode(json.dumps(data).encode()).decode()
            out.append((k, v))
        return out

    return tamper


class Hostile:
    """The example app on a real charger, its response headers passed through ``tamper``."""

    def __init__(self, ledger: Ledger, provider_key: Any) -> None:
        self.charger = Charger(LedgerBackend(ledger), provider_key)
        self.app = example_app(self.charger)
        self.tamper: Tamper = lambda status, headers: headers
        self.server = make_server("127.0.0.1", 0, self.wsgi, Server, Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, self.tamper(status, headers), exc_info)

        return self.app(environ, start)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.charger.close()


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Hostile, Ledger]]:
    ledger = init_chain(f"sqlite:///{tmp_path}/l.db", tmp_path / "provider", payments_genesis())
    server = Hostile(ledger, key(50))
    yield server, ledger
    server.close()
    ledger.storage.close()


def test_a_challenge_for_another_resource_is_not_paid(hostile: tuple[Hostile, Ledger]) -> None:
    server, ledger = hostile

    def other(data: dict[str, Any]) -> None:
        for entry in data["accepts"]:
            entry["extra"]["resource"] = "/v1/digest"

    server.tamper = rewrite("PAYMENT-REQUIRED", other)
    with Client(CONSUMERS[0], ledger) as client, pytest.raises(ChallengeError, match="not GET"):
        client.get(f"{server.url}/v1/quote")
    assert ledger.balance(pub(CONSUMERS[0])) == FUNDS


def test_an_offer_that_cannot_be_bound_is_not_paid(hostile: tuple[Hostile, Ledger]) -> None:
    _, ledger = hostile
    payer = Payer(CONSUMERS[0], LedgerSource(ledger))
    offer = PaymentRequirement(
        network=f"fontana:{ledger.chain_id}",
        amount=QUOTE_PRICE,
        pay_to=encode_address(pub(key(50))),
        max_timeout_s=60,
        genesis_hash=ledger.genesis_hash,
        method="GET",
        resource="/v1/quote\x01",  # what "/v1/quote%01" decodes to: no binding names it
        min_fee=1,
    )
    with pytest.raises(ChallengeError, match="cannot be bound"):
        payer.choose([offer], "GET", "/v1/quote%01")
    assert payer.pool.counts() == (0, 0, 0)


def test_a_challenge_that_does_not_decode_is_not_paid(hostile: tuple[Hostile, Ledger]) -> None:
    server, ledger = hostile
    server.tamper = lambda status, headers: [
        (k, "%%%" if k == "PAYMENT-REQUIRED" else v) for k, v in headers
    ]
    with Client(CONSUMERS[0], ledger) as client, pytest.raises(ChallengeError):
        client.get(f"{server.url}/v1/quote")


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["extensions"]["fontana"]["receipt"]["receipt"].update(amount="999"),
        lambda d: d["extensions"]["fontana"]["receipt"].update(signature="00" * 64),
        lambda d: d.update(transaction="ab" * 32),
        lambda d: d.update(network="fontana:another"),
        lambda d: d.update(payer=d["extensions"]["fontana"]["receipt"]["receipt"]["payee"]),
    ],
    ids=["receipt-amount", "receipt-signature", "txid", "network", "payer"],
)
def test_an_answer_that_does_not_prove_the_payment_is_refused(
    hostile: tuple[Hostile, Ledger], change: Callable[[dict[str, Any]], None]
) -> None:
    server, ledger = hostile
    server.tamper = rewrite("PAYMENT-RESPONSE", change)
    signer = CONSUMERS[1]
    with Client(signer, ledger) as client:
        with pytest.raises(SettlementError):
            client.get(f"{server.url}/v1/quote")
        pool = client.payer.pool
        assert pool.counts() == (0, 0, 1)  # the input is set aside, not free to spend again
        assert client.payer.spending.session_spent == QUOTE_PRICE + 1  # it may have been paid
    assert ledger.balance(pub(signer)) == FUNDS - QUOTE_PRICE - 1  # (it was)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("2", 2.0),
        ("3600", 5.0),  # capped: a provider cannot park the client
        (None, 1.0),
        ("\u00b2", 1.0),  # a latin-1 header byte that str.isdigit() takes and float() refuses
        ("\u0663", 1.0),  # an Arabic-Indic three: no HTTP seconds either
        ("1.5", 1.0),
        ("-1", 1.0),
        ("9" * 5000, 1.0),
    ],
)
def test_the_retry_after_of_a_payment_in_flight(
    hostile: tuple[Hostile, Ledger], retry_after: str | None, wait: float
) -> None:
    _, ledger = hostile
    payer = Payer(CONSUMERS[0], LedgerSource(ledger))
    busy = encode_header(PaymentRequired("payment_in_flight", "busy", None, ()))
    headers = {PAYMENT_REQUIRED: busy, "Retry-After": retry_after}
    assert payer.in_flight(409, headers.get) == wait
    assert payer.in_flight(200, headers.get) is None  # not a refusal status
