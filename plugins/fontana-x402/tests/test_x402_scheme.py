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
from x402.schemas import PaymentPayload, PaymentRequirements, SettleResponse
from x402.schemas.hooks import PaymentResponseContext

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.models import OutPoint, Transaction, TxKind, TxOutput
from fontana.payments.wsgi import FAIL_PRICE, QUOTE_PRICE
from fontana.payments.x402 import PaymentRequirement
from fontana.sdk import Budget
from fontana.sdk.errors import SettlementError

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


def test_a_settle_response_fontana_cannot_read_sets_the_payment_aside(chain: Chain) -> None:
    """x402's SDK takes any JSON in ``extensions``; the receipt in it is the provider's word.

    A ``PAYMENT-RESPONSE`` the scheme cannot decode says neither paid nor not: the
    inputs wait for the payment's expiry (set aside), never stay leased for good.
    """
    signer = CONSUMERS[5]
    scheme = FontanaScheme(signer, chain.ledger, parallel=1)
    offer = PaymentRequirement(
        network=f"fontana:{chain.genesis.chain_id}",
        amount=QUOTE_PRICE,
        pay_to=encode_address(chain.pay_to),
        max_timeout_s=60,
        genesis_hash=chain.genesis.hash,
        method="GET",
        resource="/v1/quote",
        min_fee=FEE,
    )
    requirements = PaymentRequirements.model_validate(offer.to_json())
    payload = scheme.create_payment_payload(requirements)
    assert scheme.payer.pool.counts() == (0, 1, 0)
    garbage = SettleResponse(
        success=True,
        transaction=Transaction.from_bytes(bytes.fromhex(payload["transaction"])).txid.hex(),
        network=offer.network,
        extensions={"fontana": {"receipt": "not a receipt"}},
    )
    context = PaymentResponseContext(
        payment_payload=PaymentPayload(payload=payload, accepted=requirements),
        requirements=requirements,
        settle_response=garbage,
    )
    with pytest.raises(SettlementError, match="does not prove it"):
        scheme.on_payment_response(context)
    assert scheme.payer.pool.counts() == (0, 0, 1)
    assert scheme.receipts == {}
