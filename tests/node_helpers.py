"""Shared by the node API tests: a chain served by a real ``fontana serve``, raw requests,
and payments bound to a call with their payee's receipts.

The test process shares the database with the server: it seals blocks and posts
them to a local DA layer itself, and checks what the server answers against the
ledger it reads directly.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ledger_helpers import (
    ALICE,
    BOB,
    CAROL,
    SEQUENCER,
    create_ledger,
    key,
    make_genesis,
    make_transfer,
    pub,
)
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.da.local import LocalDA
from fontana.hashing import signing_message
from fontana.ledger import Ledger
from fontana.models import (
    PaymentBinding,
    Receipt,
    SignedReceipt,
    Transaction,
    TxKind,
    TxOutput,
    request_hash,
)
from fontana.node import NodeClient
from fontana.poster import Poster
from fontana.testing.node import NodeProcess, serve_node

DAVE, ERIN = key(6), key(7)
#: The provider paid by the payment tests: its address is ``payTo``, it signs receipts.
PROVIDER = key(9)
#: Keys funded for the concurrency tests, one UTXO each.
RACERS = [key(60 + n) for n in range(12)]
FUNDS = 1_000_000


def node_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    return env | {"FONTANA_HOME": str(home), "FONTANA_STORAGE_URL": url}


class Chain:
    """A ledger the test drives (seal, post) and a node serving the same database."""

    def __init__(self, ledger: Ledger, da: LocalDA, node: NodeProcess) -> None:
        self.ledger = ledger
        self.da = da
        self.node = node
        self.client = NodeClient(node.url)

    def seal(self) -> int:
        return self.ledger.seal_block(SEQUENCER).header.header.height

    def post(self) -> int:
        poster = Poster(self.ledger.storage, self.da, block_time_ms=6000)
        return poster.post_pending(threading.Event())

    def tx(
        self,
        inputs: list[Any],
        outputs: list[tuple[bytes, int]],
        signers: list[SigningKey],
        **kw: Any,
    ) -> Transaction:
        """A transaction signed for this chain, valid for ten minutes unless ``kw`` says."""
        kw.setdefault("expiry_ms", now_ms() + 600_000)
        return make_transfer(inputs, outputs, signers, genesis_hash=self.ledger.genesis_hash, **kw)

    def transfer(self, sender: SigningKey, to: bytes, amount: int, fee: int = 1) -> Transaction:
        """``sender`` pays ``to`` from its oldest UTXO, change back."""
        utxo = self.ledger.utxos(pub(sender))[0]
        outputs = [(to, amount)]
        if utxo.amount - amount - fee:
            outputs.append((pub(sender), utxo.amount - amount - fee))
        return self.tx([utxo], outputs, [sender], fee=fee)

    def payment(
        self,
        payer: SigningKey,
        price: int = 1_000,
        *,
        resource: str = "/paid",
        payee: SigningKey = PROVIDER,
        expiry_ms: int | None = None,
    ) -> Transaction:
        """What a consumer sends: ``price`` to ``payee`` for ``GET resource``, bound to it."""
        return bound_payment(
            self.ledger, payer, price, resource=resource, payee=payee, expiry_ms=expiry_ms
        )

    def receipt(self, tx: Transaction, payer: SigningKey, /, **fields: Any) -> bytes:
        return payee_receipt(self.ledger, tx, payer, **fields)


def bound_payment(
    ledger: Ledger,
    payer: SigningKey,
    price: int = 1_000,
    *,
    resource: str = "/paid",
    payee: SigningKey = PROVIDER,
    expiry_ms: int | None = None,
    coin: Any = None,
) -> Transaction:
    """A payment from ``payer``'s largest UTXO (or ``coin``), bound to ``GET resource``."""
    coin = coin or max(ledger.utxos(pub(payer)), key=lambda u: u.amount)
    binding = PaymentBinding(pub(payee), price, "GET", resource)
    tx = Transaction(
        kind=TxKind.PAYMENT,
        chain_id=ledger.chain_id,
        inputs=(coin.outpoint,),
        outputs=(TxOutput(pub(payee), price), TxOutput(pub(payer), coin.amount - price - 1)),
        fee=1,
        expiry_ms=expiry_ms or now_ms() + 60_000,
        payload_hash=binding.payload_hash,
    )
    return tx.sign(payer, ledger.genesis_hash)


def payee_receipt(
    ledger: Ledger,
    tx: Transaction,
    payer: SigningKey,
    /,
    *,
    signer: SigningKey = PROVIDER,
    genesis_hash: bytes | None = None,
    **fields: Any,
) -> bytes:
    """The payee's receipt for the call ``tx`` pays; ``signer``, ``genesis_hash`` and
    ``fields`` (receipt fields) override, to forge one."""
    payee, amount = next((o.owner, o.amount) for o in tx.outputs if o.owner != pub(payer))
    values: dict[str, Any] = {
        "chain_id": ledger.chain_id,
        "txid": tx.txid,
        "payer": pub(payer),
        "payee": payee,
        "amount": amount,
        "method": "GET",
        "resource": "/paid",
        "request_hash": request_hash("GET", "/paid", b""),
        "issued_at_ms": now_ms(),
        "expected_height": ledger.open_height(),
    }
    receipt = Receipt(**(values | fields))
    message = signing_message(genesis_hash or ledger.genesis_hash, receipt.id)
    return SignedReceipt(receipt, signer.sign(message).signature).to_bytes()


def new_chain(tmp: Path, url: str | None = None) -> tuple[Ledger, LocalDA, dict[str, str]]:
    """A fresh chain funding ``FUNDED``, DAVE and the racers, and three small coins of ERIN."""
    url = url or f"sqlite:///{tmp}/ledger.db"
    funded = [ALICE, BOB, CAROL, DAVE, *RACERS]
    genesis = make_genesis(
        [(pub(k), FUNDS) for k in funded] + [(pub(ERIN), 10)] * 3,
        genesis_time_ms=now_ms(),
    )
    ledger = create_ledger(url, tmp / "home", genesis, now_ms)
    da = LocalDA(tmp / "da", genesis.da_namespace, max_blob_size=1_900_000)
    return ledger, da, node_env(tmp / "home", url)


@contextmanager
def served_chain(tmp: Path, *, private: bool) -> Iterator[Chain]:
    """A fresh chain (:func:`new_chain`) served by a node, private or public."""
    ledger, da, env = new_chain(tmp)
    try:
        with serve_node(env, *(["--private"] if private else [])) as node:
            yield Chain(ledger, da, node)
    finally:
        da.close()
        ledger.storage.close()


def call(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One raw request: status, headers and the decoded JSON body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, dict(response.getheaders()), json.loads(raw)


def post_json(url: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
    return call(url, "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
