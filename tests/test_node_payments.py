"""The payment endpoints through real ``fontana serve`` processes, private and public:
hold, settle with the payee's receipt only, release, settled payments, final receipts;
``NodeClient`` against what is not a node.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any, ClassVar, Final

import pytest
from ledger_helpers import ALICE, BOB, CAROL, MALLORY, pub, snapshot
from node_helpers import (
    DAVE,
    PROVIDER,
    RACERS,
    Chain,
    bound_payment,
    call,
    payee_receipt,
    post_json,
    served_chain,
)

from fontana.clock import now_ms
from fontana.errors import (
    EncodingError,
    ExpiredError,
    InputHeldError,
    PaymentInFlightError,
    ReceiptError,
    RejectedError,
)
from fontana.ledger import CachedResponse
from fontana.models import Transaction, TxOutput, verify_final_receipt
from fontana.node import NodeClient
from fontana.node.errors import NodeResponseError, NodeUnavailableError, WrongKindError

RESPONSE = CachedResponse(200, "application/json", b'{"temperature": 21}')


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with served_chain(tmp_path_factory.mktemp("private"), private=True) as chain:
        yield chain


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with served_chain(tmp_path_factory.mktemp("public"), private=False) as chain:
        yield chain


def test_hold_then_settle_then_retries_get_the_same_settlement(private: Chain) -> None:
    client, ledger = private.client, private.ledger
    tx = private.payment(ALICE)
    held = client.hold(tx, tx.expiry_ms)
    assert (held.state, held.txid, held.until_ms, held.settled) == (
        "held",
        tx.txid,
        tx.expiry_ms,
        None,
    )
    with pytest.raises(PaymentInFlightError):
        client.hold(tx, tx.expiry_ms)
    assert client.settled(tx.txid) is None
    receipt = private.receipt(tx, ALICE)
    result = client.settle(tx, receipt, RESPONSE)
    assert (result.txid, result.already_applied) == (tx.txid, False)
    settled = client.settled(tx.txid)
    assert settled is not None and (settled.receipt, settled.response) == (receipt, RESPONSE)
    again = client.hold(tx, tx.expiry_ms)
    assert (again.state, again.settled) == ("settled", settled)
    assert client.settle(tx, private.receipt(tx, ALICE), None).already_applied
    assert client.settled(tx.txid) == settled  # the first receipt stays
    assert ledger.balance(pub(PROVIDER)) >= 1_000


def test_a_public_node_keeps_no_response_and_releases_nothing(public: Chain) -> None:
    client = public.client
    tx = public.payment(ALICE)
    client.hold(tx, tx.expiry_ms)
    code, _, body = post_json(public.node.url, "/v1/payments/release", {"txid": tx.txid.hex()})
    assert (code, body["error"]["code"]) == (403, "private_only")
    receipt = public.receipt(tx, ALICE)
    client.settle(tx, receipt, RESPONSE)
    settled = client.settled(tx.txid)
    assert settled is not None and (settled.receipt, settled.response) == (receipt, None)
    assert public.ledger.settled(tx.txid).response is None  # never stored  # type: ignore[union-attr]
    assert client.hold(tx, tx.expiry_ms).settled == settled
    assert client.status().private is False


def forgeries(chain: Chain, tx: Transaction) -> list[tuple[str, bytes]]:
    """Receipts a settle must refuse for ``tx`` (ALICE pays PROVIDER 1000 for GET /paid)."""
    receipt = chain.receipt
    other_deployment = b"\x42" * 32
    return [
        ("signature", receipt(tx, ALICE, signer=MALLORY)),
        ("signature", receipt(tx, ALICE, genesis_hash=other_deployment)),
        ("chain", receipt(tx, ALICE, chain_id="other-chain")),
        ("txid", receipt(tx, ALICE, txid=b"\x01" * 32)),
        ("bound to", receipt(tx, ALICE, resource="/other")),
        ("bound to", receipt(tx, ALICE, amount=999)),
        ("bound to", receipt(tx, ALICE, payee=pub(MALLORY), signer=MALLORY)),
        ("payer", receipt(tx, ALICE, payer=pub(BOB))),
    ]


def test_settle_takes_only_the_payees_receipt_for_the_bound_call(private: Chain) -> None:
    tx = private.payment(ALICE)
    before = snapshot(private.ledger)
    for why, forged in forgeries(private, tx):
        with pytest.raises(ReceiptError, match=why) as raised:
            private.client.settle(tx, forged, None)
        assert raised.value.code == "bad_receipt"
        code, _, body = post_json(
            private.node.url,
            "/v1/payments/settle",
            {"transaction": tx.to_bytes().hex(), "receipt": forged.hex(), "response": None},
        )
        assert (code, body["error"]["code"]) == (422, "bad_receipt")
    with pytest.raises(EncodingError):
        private.client.settle(tx, b"\x00" * 10, None)
    assert snapshot(private.ledger) == before
    private.client.settle(tx, private.receipt(tx, ALICE), None)  # the real one is taken


def test_a_payment_paying_other_than_its_binding_cannot_be_settled(private: Chain) -> None:
    """Bound to 1000 utia, paying 1001: the payee's receipt for 1000 is refused."""
    ledger = private.ledger
    coin = max(ledger.utxos(pub(BOB)), key=lambda u: u.amount)
    honest = bound_payment(ledger, BOB, 1_000, coin=coin)
    tx = Transaction(
        kind=honest.kind,
        chain_id=honest.chain_id,
        inputs=honest.inputs,
        outputs=(TxOutput(pub(PROVIDER), 1_001), TxOutput(pub(BOB), coin.amount - 1_002)),
        fee=1,
        expiry_ms=honest.expiry_ms,
        payload_hash=honest.payload_hash,
    ).sign(BOB, ledger.genesis_hash)
    forged = payee_receipt(ledger, tx, BOB, amount=1_000)
    with pytest.raises(ReceiptError, match="pays the payee 1001"):
        private.client.settle(tx, forged, None)


def test_only_payments_are_held_or_settled(private: Chain) -> None:
    transfer = private.transfer(CAROL, pub(BOB), 5)
    with pytest.raises(WrongKindError):
        private.client.hold(transfer, transfer.expiry_ms)
    code, _, body = post_json(
        private.node.url,
        "/v1/payments/settle",
        {"transaction": transfer.to_bytes().hex(), "receipt": "00", "response": None},
    )
    assert (code, body["error"]["code"]) == (422, "wrong_kind")


def test_a_held_input_is_refused_to_every_other_spend(private: Chain) -> None:
    tx = private.payment(CAROL)
    private.client.hold(tx, tx.expiry_ms)
    coin = tx.inputs[0]
    amount = next(u for u in private.ledger.utxos(pub(CAROL)) if u.outpoint == coin).amount
    transfer = private.tx([coin], [(pub(BOB), amount - 1)], [CAROL])
    with pytest.raises(InputHeldError):
        private.client.submit(transfer)
    code, _, body = post_json(
        private.node.url, "/v1/transactions", {"transaction": transfer.to_bytes().hex()}
    )
    assert (code, body["error"]["code"]) == (409, "input_held")
    other = private.payment(CAROL, 2_000)
    with pytest.raises(InputHeldError):
        private.client.hold(other, other.expiry_ms)
    assert private.client.release(tx.txid) is True
    assert private.client.release(tx.txid) is False
    assert private.client.hold(other, other.expiry_ms).state == "held"


def test_a_hold_never_outlives_the_payment(private: Chain) -> None:
    tx = private.payment(DAVE)
    with pytest.raises(ExpiredError, match="outlive"):
        private.client.hold(tx, tx.expiry_ms + 1)
    with pytest.raises(ExpiredError):
        private.client.hold(tx, now_ms() - 1)


def test_concurrent_holds_of_one_input(private: Chain) -> None:
    """Payments racing for one coin through the server: exactly one holds it."""
    owner = RACERS[0]
    coin = max(private.ledger.utxos(pub(owner)), key=lambda u: u.amount)
    txs = [bound_payment(private.ledger, owner, 1_000 + n, coin=coin) for n in range(10)]
    outcomes: list[Any] = [None] * len(txs)

    def hold(n: int) -> None:
        try:
            outcomes[n] = private.client.hold(txs[n], txs[n].expiry_ms)
        except RejectedError as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(len(txs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(held) == 1 and held[0].state == "held"
    assert all(isinstance(o, InputHeldError) for o in outcomes if o is not held[0])


def test_concurrent_twins_of_one_payment(private: Chain) -> None:
    """The same payment held, then settled, by many requests at once (a provider's retries
    racing): one hold, one application, one charge; every twin gets the same settlement."""
    client, ledger = private.client, private.ledger
    payer = RACERS[1]
    tx = private.payment(payer, 777)
    before = ledger.balance(pub(PROVIDER)), ledger.balance(pub(payer))
    receipt = private.receipt(tx, payer)

    def race(call_it: Any, n: int = 8) -> list[Any]:
        outcomes: list[Any] = [None] * n

        def run(i: int) -> None:
            try:
                outcomes[i] = call_it()
            except RejectedError as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    holds = race(lambda: client.hold(tx, tx.expiry_ms))
    held = [o for o in holds if not isinstance(o, Exception)]
    assert len(held) == 1 and held[0].state == "held", holds
    assert all(isinstance(o, PaymentInFlightError) for o in holds if o is not held[0]), holds
    settles = race(lambda: client.settle(tx, receipt, RESPONSE))
    assert not any(isinstance(o, Exception) for o in settles), settles
    assert sorted(o.already_applied for o in settles) == [False] + [True] * 7
    assert {(o.txid, o.seq, o.fee) for o in settles} == {(settles[0].txid, settles[0].seq, 1)}
    assert ledger.balance(pub(PROVIDER)) == before[0] + 777
    assert ledger.balance(pub(payer)) == before[1] - 777 - 1
    settled = client.settled(tx.txid)
    assert settled is not None and (settled.receipt, settled.response) == (receipt, RESPONSE)


def test_final_receipt_once_the_block_is_on_da(private: Chain) -> None:
    client, ledger = private.client, private.ledger
    tx = private.payment(BOB)
    unknown = call(private.node.url, "GET", f"/v1/receipts/{tx.txid.hex()}")
    assert (unknown[0], unknown[2]["error"]["code"]) == (404, "not_found")
    client.hold(tx, tx.expiry_ms)
    client.settle(tx, private.receipt(tx, BOB), None)
    pending = call(private.node.url, "GET", f"/v1/receipts/{tx.txid.hex()}")
    assert (pending[0], pending[2]["error"]["code"]) == (404, "not_final")
    assert client.final_receipt(tx.txid) is None
    private.seal()
    assert client.final_receipt(tx.txid) is None  # sealed, not on DA yet
    private.post()
    final = client.final_receipt(tx.txid)
    assert final is not None and final == ledger.final_receipt(tx.txid)
    verify_final_receipt(final, ledger.genesis)
    info = client.transaction(tx.txid)
    assert info.state == "on_da" and info.da is not None
    assert (final.da_height, final.da_commitment) == (info.da.height, info.da.commitment)


# -- NodeClient against what is not a node --------------------------------------------------


def test_an_unreachable_node() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(NodeUnavailableError):
            NodeClient(f"http://127.0.0.1:{port}").status()


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "127.0.0.1:8547", "http://", "http://u:p@host", "http://h:99999", "http://h/?q"],
)
def test_node_urls(url: str) -> None:
    with pytest.raises(EncodingError):
        NodeClient(url)


class _NotANode(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, str, bytes]]] = {
        "/v1/status": (502, "text/html", b"<html>bad gateway</html>"),
        "/v1/genesis": (200, "application/json", b'{"genesis": 1, "genesis_hash": "00"}'),
        "/v1/blocks/1": (404, "application/json", b'{"error": "gone"}'),
    }

    def do_GET(self) -> None:
        deep = (200, "application/json", b"[" * 100_000)
        status, kind, body = self.answers.get(self.path, deep)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _status(**change: Any) -> bytes:
    """A well-formed status answer, with ``change`` spliced in as raw JSON text."""
    fields = {
        "chain_id": '"fontana-test"',
        "genesis_hash": f'"{"00" * 32}"',
        "latest_block": f'{{"height": "1", "hash": "{"11" * 32}", "state_root": "{"22" * 32}"}}',
        "open_height": '"2"',
        "posted_height": '"1"',
        "min_fee": '"1"',
        "supply": '"100"',
        "time_ms": '"5"',
        "private": "false",
        "version": '"1.0"',
    } | change
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


#: Answers a strict reader refuses, or whose values are not what the API documents.
_HOSTILE_STATUS: Final = {
    "/dup/v1/status": _status(min_fee='"1", "min_fee": "999999"'),
    "/nan/v1/status": _status(supply="NaN"),
    "/chain/v1/status": _status(chain_id="7"),
    "/chainbig/v1/status": _status(chain_id=f'"{"a" * 33}"'),
    "/version/v1/status": _status(version='{"major": 1}'),
}


def test_a_status_within_the_api_is_read() -> None:
    """The baseline of the hostile answers below: the same answer, unchanged, is read."""
    with _NotANodeServer({"/ok/v1/status": (200, "application/json", _status())}) as url:
        status = NodeClient(f"{url}/ok").status()
    assert (status.chain_id, status.min_fee, status.version) == ("fontana-test", 1, "1.0")


@pytest.mark.parametrize("prefix", sorted(_HOSTILE_STATUS))
def test_a_status_outside_the_api_is_refused(prefix: str) -> None:
    answers = {path: (200, "application/json", body) for path, body in _HOSTILE_STATUS.items()}
    with _NotANodeServer(answers) as url:
        client = NodeClient(url + prefix.removesuffix("/v1/status"))
        with pytest.raises(NodeResponseError):
            client.status()


class _NotANodeServer:
    """A ``_NotANode`` on a free port, answering ``extra`` paths too; yields its URL."""

    def __init__(self, extra: dict[str, tuple[int, str, bytes]]) -> None:
        handler = type("Handler", (_NotANode,), {"answers": _NotANode.answers | extra})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_answers_that_are_not_the_api() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotANode)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        client = NodeClient(f"http://127.0.0.1:{server.server_port}")
        for call_it in (
            client.status,
            client.genesis,
            lambda: client.block(1),
            lambda: client.balance(pub(ALICE)),
        ):
            with pytest.raises(NodeResponseError):
                call_it()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
