"""The synchronous client: ``requests``, paying on a 402 within the budget.

::

    from fontana.sdk import Budget, Client

    with Client(wallet, "http://127.0.0.1:26657", budget=Budget(per_call=5_000)) as client:
        paid = client.get("http://api.example/weather?city=lisbon")
        paid.response.json(), paid.receipt

Thread-safe: many threads may share one client (and so one wallet's pool).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from fontana.payments.x402 import PAYMENT_SIGNATURE
from fontana.sdk.budget import Budget
from fontana.sdk.payer import MAX_TIMEOUT_S, Payer, Payment
from fontana.sdk.response import PaidResponse, body_bytes, signing_key_and_home
from fontana.sdk.sources import SourceLike, as_source

#: How often the same payment is sent again while the provider runs it.
MAX_RESENDS = 5


class Client:
    """Calls HTTP APIs and pays for those that answer 402, from one wallet."""

    def __init__(
        self,
        wallet: Any,
        source: SourceLike,
        *,
        budget: Budget | None = None,
        home: Path | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        max_timeout_s: int = MAX_TIMEOUT_S,
    ) -> None:
        """``wallet``: a :class:`fontana.wallet.Wallet` (its home keeps the day's spend) or a
        ``SigningKey``; ``source``: a ledger, a node URL, a ``NodeClient`` or a ``WalletSource``."""
        signing_key, home = signing_key_and_home(wallet, home)
        self.payer = Payer(
            signing_key, as_source(source), budget=budget, home=home, max_timeout_s=max_timeout_s
        )
        self.session = session or requests.Session()
        self.timeout = timeout

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, **kwargs: Any) -> PaidResponse[requests.Response]:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> PaidResponse[requests.Response]:
        return self.request("POST", url, **kwargs)

    def request(
        self, method: str, url: str, *, max_price: int | None = None, **kwargs: Any
    ) -> PaidResponse[requests.Response]:
        """Send the request; on a 402, pay (at most ``max_price`` utia with the fee) and
        send it again. ``kwargs`` are ``requests.Request``'s (``params``, ``data``,
        ``json``, ``headers``...). The answer comes with its verified receipt, if paid."""
        prepared = self.session.prepare_request(requests.Request(method.upper(), url, **kwargs))
        body = body_bytes(prepared.body)
        prepared.body = body or None
        prepared.prepare_content_length(prepared.body)
        response = self.session.send(prepared, timeout=self.timeout)
        if response.status_code != 402:
            return PaidResponse(response)
        payer = self.payer
        accepts = payer.challenge(response.headers.get)
        assert prepared.method is not None
        req = payer.choose(accepts, prepared.method, prepared.path_url, max_price)
        for attempt in (1, 2):
            payment = payer.pay(req)
            response = self._send_paid(prepared, payment)
            outcome = payer.conclude(
                payment, response.status_code, response.headers.get, body, may_retry=attempt == 1
            )
            if not outcome.retry:
                break
        return PaidResponse(response, outcome.receipt, payment.tx, outcome.settlement)

    def _send_paid(self, prepared: requests.PreparedRequest, payment: Payment) -> requests.Response:
        """Send with the payment; after a lost answer, the same payment again (the
        provider answers a payment it settled from its record, and never charges twice)."""
        paid = prepared.copy()
        paid.headers[PAYMENT_SIGNATURE] = payment.header
        try:
            try:
                response = self.session.send(paid, timeout=self.timeout)
            except requests.RequestException:
                response = self.session.send(paid, timeout=self.timeout)
            for _ in range(MAX_RESENDS):
                wait = self.payer.in_flight(response.status_code, response.headers.get)
                if wait is None:
                    break
                time.sleep(wait)
                response = self.session.send(paid, timeout=self.timeout)
        except BaseException:
            self.payer.unknown(payment)
            raise
        return response
