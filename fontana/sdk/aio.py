"""The asynchronous client: ``httpx``, paying on a 402 within the budget.

::

    async with AsyncClient(wallet, "http://127.0.0.1:26657", budget=Budget(per_day=10**6)) as c:
        paid = await c.get("http://api.example/weather?city=lisbon")

The wallet's pool and budget block (locks, files, the node): they run on two
private thread pools, one for paying and one for concluding, so calls
waiting for a UTXO never hold up the calls that would free one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx

from fontana.payments.x402 import PAYMENT_SIGNATURE
from fontana.sdk.budget import Budget
from fontana.sdk.client import MAX_RESENDS
from fontana.sdk.payer import MAX_TIMEOUT_S, Payer, Payment
from fontana.sdk.response import PaidResponse, signing_key_and_home
from fontana.sdk.sources import SourceLike, as_source

T = TypeVar("T")


class AsyncClient:
    """Calls HTTP APIs and pays for those that answer 402, from one wallet, with asyncio."""

    def __init__(
        self,
        wallet: Any,
        source: SourceLike,
        *,
        budget: Budget | None = None,
        home: Path | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_timeout_s: int = MAX_TIMEOUT_S,
        threads: int = 16,
    ) -> None:
        """As :class:`fontana.sdk.Client`; ``http`` is the ``httpx.AsyncClient`` to send with."""
        signing_key, home = signing_key_and_home(wallet, home)
        self.payer = Payer(
            signing_key, as_source(source), budget=budget, home=home, max_timeout_s=max_timeout_s
        )
        self.http = http or httpx.AsyncClient(timeout=timeout)
        self._paying = ThreadPoolExecutor(threads, thread_name_prefix="fontana-pay")
        self._concluding = ThreadPoolExecutor(threads, thread_name_prefix="fontana-conclude")

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()
        self._paying.shutdown(wait=False)
        self._concluding.shutdown(wait=False)

    async def get(self, url: str, **kwargs: Any) -> PaidResponse[httpx.Response]:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> PaidResponse[httpx.Response]:
        return await self.request("POST", url, **kwargs)

    async def request(
        self, method: str, url: str, *, max_price: int | None = None, **kwargs: Any
    ) -> PaidResponse[httpx.Response]:
        """As :meth:`fontana.sdk.Client.request`; ``kwargs`` are ``httpx.Request``'s."""
        request = self.http.build_request(method.upper(), url, **kwargs)
        body = request.read()
        response = await self.http.send(request)
        if response.status_code != 402:
            return PaidResponse(response)
        payer = self.payer
        accepts = payer.challenge(response.headers.get)
        target = request.url.raw_path.decode("ascii")
        req = payer.choose(accepts, request.method, target, max_price)
        for attempt in (1, 2):
            payment = await self._run(self._paying, partial(payer.pay, req))
            response = await self._send_paid(request, payment)
            conclude = partial(
                payer.conclude,
                payment,
                response.status_code,
                response.headers.get,
                body,
                may_retry=attempt == 1,
            )
            outcome = await self._run(self._concluding, conclude)
            if not outcome.retry:
                break
        return PaidResponse(response, outcome.receipt, payment.tx, outcome.settlement)

    async def _send_paid(self, request: httpx.Request, payment: Payment) -> httpx.Response:
        """As :meth:`fontana.sdk.Client._send_paid`."""
        headers = httpx.Headers(request.headers)
        headers[PAYMENT_SIGNATURE] = payment.header
        paid = httpx.Request(request.method, request.url, headers=headers, content=request.content)
        try:
            try:
                response = await self.http.send(paid)
            except httpx.TransportError:
                response = await self.http.send(paid)
            for _ in range(MAX_RESENDS):
                wait = self.payer.in_flight(response.status_code, response.headers.get)
                if wait is None:
                    break
                await asyncio.sleep(wait)
                response = await self.http.send(paid)
        except BaseException:
            self.payer.unknown(payment)
            raise
        return response

    @staticmethod
    async def _run(executor: ThreadPoolExecutor, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, call)
