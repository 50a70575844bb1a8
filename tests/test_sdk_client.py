"""The consumer clients against real providers: the example WSGI app in its own process.

Each test starts a provider process on a fresh SQLite ledger (``payments_helpers``)
and pays it from a consumer wallet through the ledger or a real node process,
then checks the ledger itself: what was charged, that no input was spent
twice, and that the client's pool agrees with the ledger's UTXOs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest
from ledger_helpers import BOB, make_transfer, pub
from nacl.signing import SigningKey
from payments_helpers import (
    CONSUMERS,
    FUNDS,
    Provider,
    init_chain,
    payments_genesis,
    provider,
    provider_address,
    provider_env,
)

from fontana.address import decode_address
from fontana.clock import now_ms
from fontana.errors import InsufficientFundsError
from fontana.ledger import Ledger
from fontana.models import UTXO, Genesis, Transaction, TxKind
from fontana.models.payment import request_hash
from fontana.payments.wsgi import DIGEST_PRICE, FAIL_PRICE, QUOTE_PRICE, WORD_PRICE
from fontana.sdk import AsyncClient, Budget, Client
from fontana.sdk.errors import BudgetExceededError, ChallengeError, PaymentRejectedError
from fontana.testing.node import serve_node

FEE = 1


@attrs.frozen
class Setup:
    ledger: Ledger
    genesis: Genesis
    provider: Provider
    home: Path
    url: str

    @property
    def pay_to(self) -> bytes:
        return decode_address(provider_address(self.home))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    url = f"sqlite:///{tmp_path}/ledger.db"
    genesis = payments_genesis()
    home = tmp_path / "provider"
    ledger = init_chain(url, home, genesis)
    with provider(provider_env(home, url)) as running:
        yield Setup(ledger, genesis, running, home, url)
    ledger.storage.close()


def transfer(
    inputs: list[UTXO], outputs: list[tuple[bytes, int]], signer: SigningKey, setup: Setup
) -> Transaction:
    """A transfer made by another process of the wallet, behind its clients' backs."""
    return make_transfer(
        inputs, outputs, [signer], expiry_ms=now_ms() + 60_000, genesis_hash=setup.genesis.hash
    )


def balance(setup: Setup, signer: SigningKey) -> int:
    return setup.ledger.balance(pub(signer))


def pool_matches_ledger(client: Client | AsyncClient, setup: Setup, signer: SigningKey) -> None:
    pool = client.payer.pool
    assert pool.counts()[1:] == (0, 0)  # nothing leased, nothing set aside
    key = lambda u: (u.txid, u.index)  # noqa: E731
    assert sorted(pool.free(), key=key) == sorted(setup.ledger.utxos(pub(signer)), key=key)


def test_a_free_call_is_not_paid(setup: Setup) -> None:
    with Client(CONSUMERS[0], setup.ledger) as client:
        paid = client.get(f"{setup.provider.url}/")
    assert paid.response.status_code == 200
    assert (paid.receipt, paid.payment, paid.paid) == (None, None, 0)
    assert balance(setup, CONSUMERS[0]) == FUNDS


def test_a_paid_call_returns_its_verified_receipt(setup: Setup) -> None:
    signer = CONSUMERS[0]
    with Client(signer, setup.ledger) as client:
        paid = client.get(f"{setup.provider.url}/v1/quote")
        assert paid.response.status_code == 200
        assert "quote" in paid.response.json()
        assert paid.paid == QUOTE_PRICE
        r = paid.receipt.receipt  # type: ignore[union-attr]
        assert paid.payment is not None and r.txid == paid.payment.txid
        assert (r.payer, r.payee, r.method, r.resource) == (
            pub(signer),
            setup.pay_to,
            "GET",
            "/v1/quote",
        )
        assert paid.payment.kind == TxKind.PAYMENT
        assert balance(setup, signer) == FUNDS - QUOTE_PRICE - FEE
        assert setup.ledger.balance(setup.pay_to) == QUOTE_PRICE
        pool_matches_ledger(client, setup, signer)


def test_a_body_is_bound_by_the_receipts_request_hash(setup: Setup) -> None:
    body = b"hash me, and only me"
    with Client(CONSUMERS[0], setup.ledger) as client:
        paid = client.post(f"{setup.provider.url}/v1/digest", data=body)
    assert paid.response.json()["bytes"] == len(body)
    assert paid.paid == DIGEST_PRICE
    assert paid.receipt is not None
    assert paid.receipt.receipt.request_hash == request_hash("POST", "/v1/digest", body)


def test_a_price_that_depends_on_the_query(setup: Setup) -> None:
    with Client(CONSUMERS[0], setup.ledger) as client:
        paid = client.get(f"{setup.provider.url}/v1/words", params={"n": "7"})
    assert paid.response.json()["words"][:2] == ["alpha", "bravo"]
    assert paid.paid == 7 * WORD_PRICE
    assert paid.receipt is not None and paid.receipt.receipt.resource == "/v1/words?n=7"


@pytest.mark.parametrize(("target", "status"), [("/v1/fail", 500), ("/v1/fail?how=raise", 500)])
def test_a_failed_call_is_not_charged_and_frees_its_inputs(
    setup: Setup, target: str, status: int
) -> None:
    signer = CONSUMERS[0]
    with Client(signer, setup.ledger, budget=Budget(per_session=FAIL_PRICE + FEE)) as client:
        paid = client.get(setup.provider.url + target)
        assert paid.response.status_code == status
        assert paid.receipt is None and paid.payment is not None
        if target == "/v1/fail":  # a view that raised leaves the server no way to say it
            assert paid.settlement is not None and not paid.settlement.success
        assert balance(setup, signer) == FUNDS
        pool_matches_ledger(client, setup, signer)
        assert client.payer.spending.session_spent == 0  # the budget got it back
        client.get(setup.provider.url + target)  # so a second try still fits


def test_a_bad_request_is_not_charged(setup: Setup) -> None:
    with Client(CONSUMERS[0], setup.ledger) as client:
        paid = client.get(f"{setup.provider.url}/v1/words?n=0")
    assert paid.response.status_code == 400
    assert paid.receipt is None
    assert balance(setup, CONSUMERS[0]) == FUNDS


def test_the_budget_refuses_before_anything_is_sent(setup: Setup) -> None:
    signer = CONSUMERS[0]
    with Client(signer, setup.ledger, budget=Budget(per_call=QUOTE_PRICE)) as client:
        with pytest.raises(BudgetExceededError, match="per call"):
            client.get(f"{setup.provider.url}/v1/quote")  # 1000 + the fee is over 1000
        with pytest.raises(BudgetExceededError, match="over the maximum 1000"):
            client.get(f"{setup.provider.url}/v1/quote", max_price=QUOTE_PRICE)
        assert client.payer.pool.counts() == (0, 0, 0)  # no UTXO was even read
    with Client(signer, setup.ledger, budget=Budget(per_session=2 * QUOTE_PRICE + 1)) as client:
        client.get(f"{setup.provider.url}/v1/quote")
        with pytest.raises(BudgetExceededError, match="session limit"):
            client.get(f"{setup.provider.url}/v1/quote")
    assert balance(setup, signer) == FUNDS - QUOTE_PRICE - FEE


def test_a_wallet_of_another_deployment_does_not_pay(setup: Setup, tmp_path: Path) -> None:
    other = init_chain(f"sqlite:///{tmp_path}/other.db", tmp_path / "other", payments_genesis())
    with Client(CONSUMERS[0], other) as client, pytest.raises(ChallengeError, match="genesis"):
        client.get(f"{setup.provider.url}/v1/quote")
    other.storage.close()


def test_a_spent_input_refreshes_the_pool_and_pays_once_more(setup: Setup) -> None:
    signer = CONSUMERS[0]
    with Client(signer, setup.ledger) as client:
        client.get(f"{setup.provider.url}/v1/quote")
        # Another process of the wallet spends the change behind this client's back.
        [change] = setup.ledger.utxos(pub(signer))
        half = change.amount // 2
        outputs = [(pub(BOB), half), (pub(signer), change.amount - half - FEE)]
        stolen = transfer([change], outputs, signer, setup)
        setup.ledger.apply_transaction(stolen)
        paid = client.get(f"{setup.provider.url}/v1/quote")
        assert paid.paid == QUOTE_PRICE
        assert paid.payment is not None and paid.payment.inputs[0].txid == stolen.txid
        pool_matches_ledger(client, setup, signer)


def test_a_hundred_concurrent_calls_from_one_utxo(setup: Setup) -> None:
    signer = CONSUMERS[1]
    with Client(signer, setup.ledger) as client, ThreadPoolExecutor(100) as pool:
        calls = list(pool.map(lambda _: client.get(f"{setup.provider.url}/v1/quote"), range(100)))
        assert [c.response.status_code for c in calls] == [200] * 100
        txs = [c.payment for c in calls]
        assert len({tx.txid for tx in txs if tx}) == 100
        inputs = [i for tx in txs if tx for i in tx.inputs]
        assert len(inputs) == len(set(inputs))  # never the same input twice
        assert setup.ledger.balance(setup.pay_to) == 100 * QUOTE_PRICE
        pool_matches_ledger(client, setup, signer)


def test_concurrent_calls_beyond_the_funds_fail_with_insufficient_funds(setup: Setup) -> None:
    signer = CONSUMERS[2]
    # Leave the wallet three UTXOs worth ten calls in all; the rest goes to BOB.
    [utxo] = setup.ledger.utxos(pub(signer))
    keep = [4 * 1_001, 3 * 1_001, 3 * 1_001]
    outputs = [(pub(signer), a) for a in keep] + [(pub(BOB), utxo.amount - sum(keep) - FEE)]
    setup.ledger.apply_transaction(transfer([utxo], outputs, signer, setup))

    def call(_: int) -> str:
        try:
            client.get(f"{setup.provider.url}/v1/quote")
        except InsufficientFundsError:
            return "insufficient_funds"
        return "paid"

    with Client(signer, setup.ledger) as client, ThreadPoolExecutor(100) as pool:
        outcomes = list(pool.map(call, range(100)))
        paid = outcomes.count("paid")
        assert 8 <= paid <= 10  # splits for concurrency cost a fee each
        assert outcomes.count("insufficient_funds") == 100 - paid
        assert setup.ledger.balance(setup.pay_to) == paid * QUOTE_PRICE
        assert balance(setup, signer) < QUOTE_PRICE + FEE
        pool_matches_ledger(client, setup, signer)


def test_the_async_client_pays_concurrent_calls(setup: Setup) -> None:
    signer = CONSUMERS[3]

    async def main() -> list[int]:
        async with AsyncClient(signer, setup.ledger) as client:
            calls = await asyncio.gather(
                *(client.get(f"{setup.provider.url}/v1/quote") for _ in range(30)),
                client.post(f"{setup.provider.url}/v1/digest", content=b"async body"),
                client.get(f"{setup.provider.url}/v1/fail"),
            )
            pool_matches_ledger(client, setup, signer)
            return [c.paid for c in calls]

    paid = asyncio.run(main())
    assert paid == [QUOTE_PRICE] * 30 + [DIGEST_PRICE, 0]
    assert setup.ledger.balance(setup.pay_to) == 30 * QUOTE_PRICE + DIGEST_PRICE


def test_paying_through_a_node(setup: Setup, tmp_path: Path) -> None:
    signer = CONSUMERS[4]
    env = provider_env(tmp_path / "node-home", setup.url)
    with serve_node(env) as node, Client(signer, node.url) as client:
        paid = client.get(f"{setup.provider.url}/v1/quote")
        assert paid.paid == QUOTE_PRICE
        with ThreadPoolExecutor(20) as pool:
            calls = list(
                pool.map(lambda _: client.get(f"{setup.provider.url}/v1/quote"), range(20))
            )
        assert all(c.paid == QUOTE_PRICE for c in calls)
        pool_matches_ledger(client, setup, signer)
    assert balance(setup, signer) < FUNDS - 21 * QUOTE_PRICE


def test_a_refusal_names_the_providers_code(setup: Setup) -> None:
    signer = CONSUMERS[5]
    with Client(signer, setup.ledger) as client:
        client.payer.max_timeout_s = 1  # shorter than the provider's 5 s window
        with pytest.raises(PaymentRejectedError) as err:
            client.get(f"{setup.provider.url}/v1/quote")
        assert err.value.code == "expiry_too_soon"
        pool_matches_ledger(client, setup, signer)
        assert client.payer.spending.session_spent == 0
    assert balance(setup, signer) == FUNDS
