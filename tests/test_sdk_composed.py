"""Composed providers: a provider's view pays another Fontana API with its own wallet.

Two provider processes on one SQLite ledger: the example app (upstream), and
``sdk_composed_server.py``, whose paid view buys a quote upstream with its
separate ``payer`` key. A consumer pays the composed provider; the ledger
shows both payments, each receipt signed by its own provider.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ledger_helpers import make_transfer, pub
from payments_helpers import (
    CONSUMERS,
    FUNDS,
    init_chain,
    payments_genesis,
    provider,
    provider_address,
    provider_env,
)

from fontana.address import decode_address
from fontana.clock import now_ms
from fontana.models import SignedReceipt
from fontana.models.payment import verify_receipt
from fontana.payments.wsgi import QUOTE_PRICE
from fontana.sdk import Client
from fontana.testing.processes import ServerProcess
from fontana.wallet import create_key

COMPOSED = Path(__file__).resolve().parent / "sdk_composed_server.py"
SUMMARY_PRICE = 3_000
FEE = 1


@contextmanager
def composed(env: dict[str, str]) -> Iterator[str]:
    server = ServerProcess([sys.executable, str(COMPOSED)], env)
    line = server.first_line
    try:
        assert line.startswith("listening on "), server.stop()[1]
        yield f"http://127.0.0.1:{int(line.split()[-1])}"
    finally:
        _, err = server.stop()
    assert "Traceback" not in err, err


def test_a_providers_view_pays_another_provider_with_its_own_wallet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    genesis = payments_genesis()
    upstream_home, composed_home = tmp_path / "upstream", tmp_path / "composed"
    ledger = init_chain(url, upstream_home, genesis)
    create_key(composed_home)  # receives payments, signs receipts
    payer = create_key(composed_home, "payer")  # pays the upstream, nothing else
    funder = CONSUMERS[10]
    [utxo] = ledger.utxos(pub(funder))
    fund = make_transfer(
        [utxo],
        [(payer.public_key, 50_000), (pub(funder), utxo.amount - 50_000 - FEE)],
        [funder],
        expiry_ms=now_ms() + 60_000,
        genesis_hash=genesis.hash,
    )
    ledger.apply_transaction(fund)
    consumer = CONSUMERS[11]
    with provider(provider_env(upstream_home, url)) as upstream:
        env = provider_env(composed_home, url) | {"UPSTREAM_URL": upstream.url}
        with (
            composed(env) as composed_url,
            Client(consumer, ledger) as client,
            ThreadPoolExecutor(8) as pool,
        ):
            calls = list(pool.map(lambda _: client.get(f"{composed_url}/v1/summary"), range(8)))
    upstream_to = decode_address(provider_address(upstream_home))
    composed_to = decode_address(provider_address(composed_home))
    for paid in calls:
        assert paid.response.status_code == 200
        assert paid.receipt is not None and paid.receipt.receipt.payee == composed_to
        inner = SignedReceipt.from_json(paid.response.json()["upstream_receipt"])
        verify_receipt(inner, genesis.hash)
        assert (inner.receipt.payer, inner.receipt.payee) == (payer.public_key, upstream_to)
        assert ledger.transaction_status(inner.receipt.txid).state == "pending"
    split_fees = FUNDS - 8 * (SUMMARY_PRICE + FEE) - ledger.balance(pub(consumer))
    assert 0 <= split_fees < 8  # concurrent calls may split the consumer's one UTXO
    assert ledger.balance(composed_to) == 8 * SUMMARY_PRICE
    assert ledger.balance(upstream_to) == 8 * QUOTE_PRICE
    assert ledger.balance(payer.public_key) <= 50_000 - 8 * (QUOTE_PRICE + FEE)
    ledger.storage.close()
