"""x402's own clients (requests and httpx) paying a real Fontana provider with FontanaScheme.

Nothing of x402 is stubbed: ``x402ClientSync``/``x402Client`` choose the
offer, call the scheme, send ``PAYMENT-SIGNATURE`` and decode
``PAYMENT-RESPONSE``; the provider is Fontana's example app in its own process.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import CONSUMERS, FUNDS, Chain
from fontana_x402 import FontanaScheme
from x402 import x402Client, x402ClientSync
from x402.http.clients import wrapHttpxWithPayment, x402_requests
from x402.http.clients.requests import PaymentError
from x402.http.utils import decode_payment_response_header

from fontana.clock import now_ms
from fontana.models import OutPoint, Transaction, TxKind, TxOutput
from fontana.payments.wsgi import FAIL_PRICE, QUOTE_PRICE
from fontana.sdk import Budget

FEE = 1
#: The sync tests keep no spare UTXOs, so no split's fee blurs the accounting.


def sync_session(scheme: FontanaScheme) -> object:
    client = x402ClientSync().register("fontana:*", scheme)
    client.set_spend_controls({"allowed_assets": [scheme.allowed_asset()]})
    return x402_requests(client)


def pool_matches_ledger(scheme: FontanaScheme, chain: Chain, owner: bytes) -> None:
    pool = scheme.payer.pool
    assert pool.counts()[1:] == (0, 0)
    key = lambda u: (u.txid, u.index)  # noqa: E731
    assert sorted(pool.free(), key=key) == sorted(chain.ledger.utxos(owner), key=key)


def test_x402s_requests_client_pays_a_fontana_api(chain: Chain) -> None:
    signer = CONSUMERS[0]
    scheme = FontanaScheme(signer, chain.ledger, parallel=1)  # no spare UTXOs: no split's fee
    response = sync_session(scheme).get(f"{chain.url}/v1/quote")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert "quote" in response.json()
    settled = decode_payment_response_header(response.headers["PAYMENT-RESPONSE"])
    assert settled.success and settled.network == "fontana:fontana-x402"
    receipt = scheme.receipts[settled.transaction].receipt  # verified by the scheme
    assert (receipt.amount, receipt.resource, receipt.payee) == (
        QUOTE_PRICE,
        "/v1/quote",
        chain.pay_to,
    )
    assert chain.ledger.balance(chain.pay_to) == QUOTE_PRICE
    assert chain.ledger.balance(bytes(signer.verify_key)) == FUNDS - QUOTE_PRICE - FEE
    pool_matches_ledger(scheme, chain, bytes(signer.verify_key))


def test_a_failed_call_through_x402_is_not_charged(chain: Chain) -> None:
    signer = CONSUMERS[1]
    scheme = FontanaScheme(
        signer, chain.ledger, budget=Budget(per_session=FAIL_PRICE + FEE), parallel=1
    )
    session = sync_session(scheme)
    for _ in range(2):  # the budget got the first one back
        response = session.get(f"{chain.url}/v1/fail")  # type: ignore[attr-defined]
        assert response.status_code == 500
    assert chain.ledger.balance(bytes(signer.verify_key)) == FUNDS
    assert scheme.receipts == {}
    pool_matches_ledger(scheme, chain, bytes(signer.verify_key))


def test_the_per_call_budget_is_x402s_spend_control(chain: Chain) -> None:
    scheme = FontanaScheme(CONSUMERS[2], chain.ledger, budget=Budget(per_call=QUOTE_PRICE - 1))
    with pytest.raises(PaymentError, match="spend_controls"):
        sync_session(scheme).get(f"{chain.url}/v1/quote")  # type: ignore[attr-defined]
    assert chain.ledger.balance(chain.pay_to) == 0


def test_a_spent_input_is_recovered_by_x402s_retry(chain: Chain) -> None:
    signer = CONSUMERS[3]
    owner = bytes(signer.verify_key)
    scheme = FontanaScheme(signer, chain.ledger, parallel=1)
    session = sync_session(scheme)
    assert session.get(f"{chain.url}/v1/quote").status_code == 200  # type: ignore[attr-defined]
    # Another process of the wallet spends the change behind the scheme's back.
    [change] = chain.ledger.utxos(owner)
    tx = Transaction(
        kind=TxKind.TRANSFER,
        chain_id=chain.genesis.chain_id,
        inputs=(OutPoint(change.txid, change.index),),
        outputs=(TxOutput(owner, change.amount - FEE),),
        fee=FEE,
        expiry_ms=now_ms() + 60_000,
    ).sign(signer, chain.genesis.hash)
    chain.ledger.apply_transaction(tx)
    assert session.get(f"{chain.url}/v1/quote").status_code == 200  # type: ignore[attr-defined]
    assert chain.ledger.balance(chain.pay_to) == 2 * QUOTE_PRICE
    pool_matches_ledger(scheme, chain, owner)


def test_x402s_httpx_client_pays_concurrent_calls(chain: Chain) -> None:
    signer = CONSUMERS[4]
    scheme = FontanaScheme(signer, chain.ledger)
    client = x402Client().register("fontana:*", scheme)
    client.set_spend_controls({"allowed_assets": [scheme.allowed_asset()]})

    async def main() -> list[int]:
        async with wrapHttpxWithPayment(client, timeout=60) as http:
            calls = [http.get(f"{chain.url}/v1/quote") for _ in range(20)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    assert asyncio.run(main()) == [200] * 20
    assert chain.ledger.balance(chain.pay_to) == 20 * QUOTE_PRICE
    assert len(scheme.receipts) == 20
    pool_matches_ledger(scheme, chain, bytes(signer.verify_key))
