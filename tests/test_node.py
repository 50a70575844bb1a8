"""The node API through a real ``fontana serve`` process: every read endpoint, submission,
transaction states up to DA, blocks, proofs, and the OpenAPI document against the routes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ledger_helpers import ALICE, BOB, CAROL, pub, snapshot
from node_helpers import DAVE, ERIN, RACERS, Chain, call, key, served_chain

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.errors import (
    BadSignatureError,
    ExpiredError,
    FeeTooLowError,
    InputSpentError,
    InsufficientFundsError,
    RejectedError,
    UnknownInputError,
    WrongChainError,
)
from fontana.models import UTXO, OutPoint, Transaction, TxKind, TxOutput, WithdrawalRequest
from fontana.node import NodeClient
from fontana.node.errors import NotFoundError, WrongKindError
from fontana.poster import load_block
from fontana.state import PythonSMTProvider
from fontana.testing.node import check_schema


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A private node: every operation of the document answers (docs/node.md)."""
    with served_chain(tmp_path_factory.mktemp("node"), private=True) as served:
        yield served


# -- reads ------------------------------------------------------------------------------


def test_status_names_the_chain_and_its_heights(chain: Chain) -> None:
    chain.seal()
    status = chain.client.status()
    latest = chain.ledger.latest_block()
    assert status.chain_id == chain.ledger.chain_id
    assert status.genesis_hash == chain.ledger.genesis_hash
    assert (status.latest_height, status.latest_hash) == (latest.height, latest.hash)
    assert status.state_root == latest.state_root
    assert status.open_height == latest.height + 1
    assert status.supply == chain.ledger.supply()
    chain.post()
    assert chain.client.status().posted_height == chain.ledger.latest_block().height


def test_genesis_is_the_ledgers(chain: Chain) -> None:
    assert chain.client.genesis() == chain.ledger.genesis


def test_balance_and_utxos(chain: Chain) -> None:
    assert chain.client.balance(pub(ERIN)) == 30
    utxos = chain.client.utxos(pub(ERIN))
    assert utxos == chain.ledger.utxos(pub(ERIN))
    assert len(utxos) == 3 and all(isinstance(u, UTXO) for u in utxos)
    status, _, body = call(
        chain.node.url, "GET", f"/v1/addresses/{encode_address(pub(ERIN))}/utxos?limit=2"
    )
    assert status == 200 and len(body["utxos"]) == 2 and body["more"] is True
    assert chain.client.utxos(pub(ERIN), limit=3) == utxos
    assert chain.client.balance(pub(key(99))) == 0 and chain.client.utxos(pub(key(99))) == []


# -- submission ---------------------------------------------------------------------------


def test_transfer_split_and_withdrawal(chain: Chain) -> None:
    client, ledger = chain.client, chain.ledger
    sent = chain.transfer(ALICE, pub(BOB), 1_500)
    result = client.submit(sent)
    assert (result.txid, result.fee, result.already_applied) == (sent.txid, 1, False)
    assert ledger.transaction_status(sent.txid).state == "pending"
    again = client.submit(sent)
    assert again.already_applied and again.seq == result.seq

    change = ledger.utxos(pub(ALICE))[-1]
    split = chain.tx(
        [change], [(pub(ALICE), 1_000)] * 5 + [(pub(ALICE), change.amount - 5_000 - 1)], [ALICE]
    )
    client.submit(split)
    assert len(ledger.utxos(pub(ALICE))) == 6

    before = ledger.supply()
    coin = ledger.utxos(pub(ALICE))[0]
    burn = chain.tx([coin], [], [ALICE], burn=WithdrawalRequest(b"\x11" * 20, coin.amount - 1))
    client.submit(burn)
    assert ledger.supply() == before - (coin.amount - 1)


def test_a_payment_is_not_submitted_directly(chain: Chain) -> None:
    coin = chain.ledger.utxos(pub(CAROL))[0]
    tx = Transaction(
        kind=TxKind.PAYMENT,
        chain_id=chain.ledger.chain_id,
        inputs=(coin.outpoint,),
        outputs=(TxOutput(pub(BOB), 10), TxOutput(pub(CAROL), coin.amount - 11)),
        fee=1,
        expiry_ms=now_ms() + 60_000,
        payload_hash=b"\x01" * 32,
    ).sign(CAROL, chain.ledger.genesis_hash)
    before = snapshot(chain.ledger)
    with pytest.raises(WrongKindError, match="provider"):
        chain.client.submit(tx)
    assert snapshot(chain.ledger) == before


def test_rejections_arrive_as_the_ledgers_errors(chain: Chain) -> None:
    """Each refusal is the class the ledger raises, with its code and status; nothing changes."""
    ledger, url = chain.ledger, chain.node.url
    coin = ledger.utxos(pub(CAROL))[0]
    all_of = coin.amount - 1
    cases: list[tuple[Transaction, type[RejectedError], int]] = [
        (chain.tx([coin], [(pub(BOB), all_of)], [BOB]), BadSignatureError, 422),
        (chain.tx([coin], [(pub(BOB), all_of)], [CAROL], expiry_ms=1), ExpiredError, 422),
        (chain.tx([coin], [(pub(BOB), coin.amount)], [CAROL], fee=0), FeeTooLowError, 422),
        (chain.tx([coin], [(pub(BOB), coin.amount)], [CAROL]), InsufficientFundsError, 422),
        (chain.tx([OutPoint(b"\x07" * 32, 0)], [(pub(BOB), 1)], [CAROL]), UnknownInputError, 422),
        (chain.tx([coin], [(pub(BOB), 1)], [CAROL], chain_id="other-chain"), WrongChainError, 422),
    ]
    spent = chain.transfer(DAVE, pub(BOB), 5)
    chain.client.submit(spent)
    double = chain.tx([spent.inputs[0]], [(pub(CAROL), 5)], [DAVE])
    cases.append((double, InputSpentError, 409))
    before = snapshot(ledger)
    for tx, error, status in cases:
        with pytest.raises(error) as raised:
            chain.client.submit(tx)
        assert type(raised.value) is error
        code, _, body = call(
            url,
            "POST",
            "/v1/transactions",
            json.dumps({"transaction": tx.to_json()}).encode(),
            {"Content-Type": "application/json"},
        )
        assert (code, body["error"]["code"]) == (status, error.code)
    assert snapshot(ledger) == before


def test_json_form_and_hex_are_both_accepted(chain: Chain) -> None:
    tx = chain.transfer(BOB, pub(CAROL), 77)
    code, _, body = call(
        chain.node.url,
        "POST",
        "/v1/transactions",
        json.dumps({"transaction": tx.to_json()}).encode(),
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert code == 200 and body["txid"] == tx.txid.hex() and body["already_applied"] is False
    assert chain.client.submit(tx).already_applied


def test_concurrent_submits(chain: Chain) -> None:
    """Many threads through the server at once: each own transfer lands once; of the racing
    double spends on one contested UTXO, exactly one wins and the others are input_spent."""
    client = NodeClient(chain.node.url)
    contested = chain.ledger.utxos(pub(RACERS[0]))[0]
    racing = [
        chain.tx([contested], [(pub(k), contested.amount - 1)], [RACERS[0]]) for k in RACERS[1:]
    ]
    own = [chain.transfer(k, pub(ERIN), 1_000) for k in RACERS[1:]]
    outcomes: dict[bytes, Any] = {}
    lock = threading.Lock()

    def run(tx: Transaction) -> None:
        try:
            result: Any = client.submit(tx)
        except RejectedError as exc:
            result = exc
        except BaseException as exc:  # reported below, not lost in a thread
            result = AssertionError(f"{tx.txid.hex()}: {exc!r}")
        with lock:
            outcomes[tx.txid] = result

    threads = [threading.Thread(target=run, args=(tx,)) for tx in racing + own]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    broken = [r for r in outcomes.values() if isinstance(r, AssertionError)]
    assert not broken, broken
    winners = [tx for tx in racing if not isinstance(outcomes[tx.txid], Exception)]
    assert len(winners) == 1
    assert all(
        isinstance(outcomes[tx.txid], InputSpentError) for tx in racing if tx is not winners[0]
    )
    assert all(not isinstance(outcomes[tx.txid], Exception) for tx in own)
    for tx in racing + own:
        expected = "pending" if tx in own or tx is winners[0] else "unknown"
        assert chain.ledger.transaction_status(tx.txid).state == expected


# -- transaction states, blocks, proofs -------------------------------------------------


def test_a_transaction_moves_from_pending_to_sealed_to_da(chain: Chain) -> None:
    tx = chain.transfer(BOB, pub(ALICE), 300)
    assert chain.client.transaction(tx.txid).state == "unknown"
    chain.client.submit(tx)
    pending = chain.client.transaction(tx.txid)
    assert (pending.state, pending.block_height, pending.da) == ("pending", None, None)
    assert pending.seq == chain.ledger.transaction_status(tx.txid).seq
    height = chain.seal()
    sealed = chain.client.transaction(tx.txid)
    assert (sealed.state, sealed.block_height, sealed.da) == ("sealed", height, None)
    chain.post()
    on_da = chain.client.transaction(tx.txid)
    assert (on_da.state, on_da.block_height) == ("on_da", height)
    with chain.ledger.storage.read() as s:
        record = s.get_block(height)
    assert on_da.da is not None and on_da.da.height == record.da_height
    assert on_da.da.commitment == record.da_commitment
    assert on_da.da.namespace == chain.ledger.genesis.da_namespace
    assert chain.da.get(on_da.da) is not None  # the reference reads the blob back


def test_blocks(chain: Chain) -> None:
    height = chain.seal()
    for h in (0, height):
        got = chain.client.block(h)
        assert got.block == load_block(chain.ledger.storage, h)
    assert chain.client.block(height).da is None
    chain.post()
    assert chain.client.block(height).da is not None
    with pytest.raises(NotFoundError, match=f"the tip is {height}"):
        chain.client.block(height + 1)
    for text in (str(2**63), str(2**64 - 1)):
        code, _, body = call(chain.node.url, "GET", f"/v1/blocks/{text}")
        assert (code, body["error"]["code"]) == (404, "not_found")
    for text in (str(2**64), "01", "-1", "1.0", "0x1", "one", "1e3", "%201", "%D9%A1", "%FF"):
        code, _, body = call(chain.node.url, "GET", f"/v1/blocks/{text}")
        assert (code, body["error"]["code"]) == (400, "malformed"), text


def test_utxo_proofs_verify_against_block_roots(chain: Chain) -> None:
    provider = PythonSMTProvider()
    tx = chain.transfer(CAROL, pub(DAVE), 40)
    chain.client.submit(tx)
    spent = tx.inputs[0]
    before = chain.ledger.latest_block().height
    after = chain.seal()
    created = OutPoint(tx.txid, 0)
    # Before the block: the spent coin is in, the new one is not; after it, the reverse.
    for outpoint, height, present in (
        (spent, before, True),
        (created, before, False),
        (spent, after, False),
        (created, after, True),
    ):
        proof = chain.client.proof(outpoint, height)
        block = chain.ledger.latest_block() if height == after else None
        assert proof.height == height
        if block is not None:
            assert proof.state_root == block.state_root
        assert (proof.value_hash is not None) == present
        assert (proof.utxo is not None) == present
        if proof.utxo is not None:
            assert (
                proof.utxo.outpoint == outpoint and proof.utxo.leaf_value_hash() == proof.value_hash
            )
        assert provider.verify(proof.state_root, proof.key, proof.value_hash, proof.proof)
    assert chain.client.proof(created).height == after  # the latest block by default
    with pytest.raises(NotFoundError):
        chain.client.proof(created, after + 1)


# -- the OpenAPI document ----------------------------------------------------------------


class Examples:
    """A valid request for every operation: path values, and bodies that the node takes."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        ledger = chain.ledger
        # A payment settled, sealed and posted: its receipts exist, final included.
        paid = chain.payment(CAROL)
        ledger.settle(paid, chain.receipt(paid, CAROL), None)
        chain.seal()
        chain.post()
        self.values = {
            "{address}": encode_address(pub(ALICE)),
            "{txid}": ledger.genesis_hash.hex(),
            "{height}": "0",
            "{index}": "0",
        }
        self.paid = paid.txid.hex()

    def path(self, template: str) -> str:
        values = self.values
        if template.startswith(("/v1/payments/", "/v1/receipts/")):
            values = values | {"{txid}": self.paid}
        for name, value in values.items():
            template = template.replace(name, value)
        return template

    def body(self, schema: str) -> bytes:
        chain = self.chain
        if schema == "SubmitRequest":
            body: dict[str, Any] = {
                "transaction": chain.transfer(ALICE, pub(BOB), 1).to_bytes().hex()
            }
        elif schema == "HoldRequest":
            tx = chain.payment(DAVE)
            body = {"transaction": tx.to_bytes().hex(), "until_ms": str(tx.expiry_ms)}
        elif schema == "SettleRequest":
            tx = chain.payment(BOB)
            body = {
                "transaction": tx.to_json(),
                "receipt": chain.receipt(tx, BOB).hex(),
                "response": {"status": 200, "content_type": "text/plain", "body": "6f6b"},
            }
        else:
            assert schema == "ReleaseRequest"
            body = {"txid": self.paid}
        return json.dumps(body).encode()


def test_openapi_document_describes_the_real_routes(chain: Chain) -> None:
    """Every operation the document names answers on the server with a documented status and a
    body that fits its schema; every route the app has is in the document, and nothing else."""
    from fontana.node.app import NodeApp

    code, _, doc = call(chain.node.url, "GET", "/openapi.json")
    assert code == 200 and doc["openapi"] == "3.1.0"
    app = NodeApp(chain.ledger)
    examples = Examples(chain)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in app.routes}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = None
            headers = {}
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = examples.body(ref.rsplit("/", 1)[1])
                headers["Content-Type"] = "application/json"
            status, _, answer = call(
                chain.node.url, method.upper(), examples.path(path), body, headers
            )
            assert str(status) in operation["responses"], (method, path, status, answer)
            schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            check_schema(answer, schema, doc, f"{method} {path}")
            assert status == 200, (method, path, answer)
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == {s[1:-1] for s in path.split("/") if s.startswith("{")}
        for other in {"GET", "POST", "PUT", "DELETE", "PATCH"} - {m.upper() for m in operations}:
            status, headers, answer = call(chain.node.url, other, examples.path(path))
            assert status == 405 and answer["error"]["code"] == "method_not_allowed"
            assert set(headers["Allow"].split(", ")) == {m.upper() for m in operations}
