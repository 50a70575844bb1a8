"""Conformance suite for payment backends (:class:`fontana.payments.backends.PaymentBackend`).

A provider's charger holds, settles and releases payments through a backend:
``LedgerBackend`` reaches the ledger's database, ``NodeBackend`` a node's
HTTP API. Another backend (another transport, a cache in front of one)
subclasses :class:`PaymentBackendSuite` and provides ``backend``, an instance
reaching the ledger of the ``ledger`` fixture::

    class TestMyBackend(PaymentBackendSuite):
        @pytest.fixture
        def backend(self, ledger):
            opened = MyBackend(ledger.storage.url)
            yield opened
            opened.close()

``ledger`` is a ledger at block 0 of :func:`payment_genesis` on the wall clock,
on ``ledger_url`` (a SQLite file unless overridden, e.g. with ``pg_url``). The
suite pays as a consumer does (payments bound to ``GET /paid``) and signs the
provider's receipts as a charger does, so a backend that checks them (a node
does) takes them; it checks the effects through ``ledger``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.config import Settings
from fontana.errors import FontanaError
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import (
    Allocation,
    Genesis,
    OutPoint,
    Receipt,
    SignedReceipt,
    Transaction,
    TxKind,
    TxOutput,
)
from fontana.models.payment import PaymentBinding, request_hash
from fontana.payments.backends import CachedResponse, PaymentBackend, SettledPayment
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

__all__ = [
    "FUNDS",
    "PAYERS",
    "PRICE",
    "PROVIDER",
    "RESPONSE",
    "PaymentBackendSuite",
    "code_of",
    "paying",
    "payment_genesis",
    "receipt_for",
    "transfer",
]


def _key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(f"fontana payment suite key {name}".encode()).digest())


#: The provider: paid by every payment of the suite, signer of its receipts.
PROVIDER = _key("provider")
#: Consumers funded by :func:`payment_genesis`: ``PAYERS[n]`` owns genesis output ``n``.
PAYERS = tuple(_key(f"payer {n}") for n in range(8))
FUNDS = 1_000_000
PRICE = 1_000
FEE = 1
RESPONSE = CachedResponse(200, "application/json", b'{"ok":true}')


def payment_genesis() -> Genesis:
    """A chain starting now, funding each of :data:`PAYERS` with one output of ``FUNDS``."""
    return Genesis(
        chain_id="fontana-payments",
        genesis_time_ms=now_ms(),
        sequencer=bytes(_key("sequencer").verify_key),
        da_namespace=b"\x00" * 9 + b"\x03",
        block_time_ms=6_000,
        min_fee=FEE,
        l1_confirmations=1,
        allocations=tuple(Allocation(bytes(k.verify_key), FUNDS) for k in PAYERS),
    )


def _pub(key: SigningKey) -> bytes:
    return bytes(key.verify_key)


def paying(
    ledger: Ledger, signer: SigningKey, index: int, *, price: int = PRICE, expiry_ms: int = 0
) -> Transaction:
    """``signer``'s payment of ``price`` to :data:`PROVIDER` for ``GET /paid``, from genesis
    output ``index`` (``signer``'s), change back; expiring in a minute unless ``expiry_ms``."""
    funds = ledger.genesis.allocations[index].amount
    binding = PaymentBinding(_pub(PROVIDER), price, "GET", "/paid")
    tx = Transaction(
        kind=TxKind.PAYMENT,
        chain_id=ledger.chain_id,
        inputs=(OutPoint(ledger.genesis.hash, index),),
        outputs=(TxOutput(_pub(PROVIDER), price), TxOutput(_pub(signer), funds - price - FEE)),
        fee=FEE,
        expiry_ms=expiry_ms or now_ms() + 60_000,
        payload_hash=binding.payload_hash,
    )
    return tx.sign(signer, ledger.genesis_hash)


def receipt_for(ledger: Ledger, tx: Transaction, signer: SigningKey) -> bytes:
    """The provider's signed receipt for the call ``tx`` (paid by ``signer``) is bound to."""
    amount = sum(o.amount for o in tx.outputs if o.owner == _pub(PROVIDER))
    receipt = Receipt(
        chain_id=ledger.chain_id,
        txid=tx.txid,
        payer=_pub(signer),
        payee=_pub(PROVIDER),
        amount=amount,
        method="GET",
        resource="/paid",
        request_hash=request_hash("GET", "/paid", b""),
        issued_at_ms=now_ms(),
        expected_height=ledger.open_height(),
    )
    return SignedReceipt.sign(receipt, PROVIDER, ledger.genesis_hash).to_bytes()


def transfer(ledger: Ledger, signer: SigningKey, index: int) -> Transaction:
    """A plain transfer of genesis output ``index`` (``signer``'s) back to ``signer``."""
    funds = ledger.genesis.allocations[index].amount
    tx = Transaction(
        kind=TxKind.TRANSFER,
        chain_id=ledger.chain_id,
        inputs=(OutPoint(ledger.genesis.hash, index),),
        outputs=(TxOutput(_pub(signer), funds - FEE),),
        fee=FEE,
        expiry_ms=now_ms() + 60_000,
    )
    return tx.sign(signer, ledger.genesis_hash)


def code_of(call: Callable[..., Any], *args: Any) -> str:
    """The code of the typed error ``call(*args)`` raises."""
    with pytest.raises(FontanaError) as caught:
        call(*args)
    return caught.value.code


def _in_threads(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, released together; each one's result or exception."""
    go = threading.Event()
    outcomes: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        go.wait()
        try:
            outcomes[n] = calls[n]()
        except Exception as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    return outcomes


class PaymentBackendSuite:
    """What every payment backend does, checked against the ledger it reaches."""

    @pytest.fixture
    def ledger_url(self, tmp_path: Path) -> str:
        """A fresh, empty database for the ledger."""
        return f"sqlite:///{tmp_path}/payments-ledger.db"

    @pytest.fixture
    def ledger(self, ledger_url: str, fontana_settings: Settings) -> Iterator[Ledger]:
        """The ledger at block 0 of :func:`payment_genesis`, on the wall clock."""
        storage = open_storage(fontana_settings, ledger_url)
        initialize(storage, PythonSMTProvider(), payment_genesis())
        yield Ledger.load(storage, PythonSMTProvider(), now_ms)
        storage.close()

    @pytest.fixture
    def backend(self, ledger: Ledger) -> PaymentBackend:
        raise NotImplementedError("provide a backend fixture: a backend reaching `ledger`")

    def test_it_is_a_payment_backend_of_the_deployment(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        assert isinstance(backend, PaymentBackend)
        assert backend.genesis == ledger.genesis
        assert backend.open_height() == ledger.latest_block().height + 1

    def test_hold_then_settle_then_the_same_payment_is_settled(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        payer = PAYERS[0]
        tx = paying(ledger, payer, 0)
        held = backend.hold(tx, tx.expiry_ms)
        assert (held.state, held.txid, held.until_ms) == ("held", tx.txid, tx.expiry_ms)
        assert code_of(backend.hold, tx, tx.expiry_ms) == "payment_in_flight"
        assert backend.settled(tx.txid) is None
        receipt = receipt_for(ledger, tx, payer)
        backend.settle(tx, receipt, RESPONSE)
        settled = SettledPayment(tx.txid, receipt, RESPONSE)
        assert backend.settled(tx.txid) == settled
        again = backend.hold(tx, tx.expiry_ms)
        assert (again.state, again.settled) == ("settled", settled)
        assert ledger.balance(_pub(PROVIDER)) == PRICE
        backend.settle(tx, receipt_for(ledger, tx, payer), None)  # idempotent: the first stays
        assert backend.settled(tx.txid) == settled
        assert ledger.balance(_pub(PROVIDER)) == PRICE
        other = paying(ledger, payer, 0, price=PRICE + 1)
        assert code_of(backend.hold, other, other.expiry_ms) == "input_spent"

    def test_a_settle_without_a_response_keeps_the_receipt(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        """A response the charger does not keep (streamed, too large): retries get the
        receipt alone."""
        tx = paying(ledger, PAYERS[0], 0)
        backend.hold(tx, tx.expiry_ms)
        receipt = receipt_for(ledger, tx, PAYERS[0])
        backend.settle(tx, receipt, None)
        settled = SettledPayment(tx.txid, receipt, None)
        assert backend.settled(tx.txid) == settled
        assert backend.hold(tx, tx.expiry_ms).settled == settled

    def test_a_held_input_is_refused_to_every_other_spend(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        payer = PAYERS[0]
        tx = paying(ledger, payer, 0)
        backend.hold(tx, tx.expiry_ms)
        other = paying(ledger, payer, 0, price=PRICE + 1)
        assert code_of(backend.hold, other, other.expiry_ms) == "input_held"
        assert code_of(ledger.apply_transaction, transfer(ledger, payer, 0)) == "input_held"
        receipt = receipt_for(ledger, other, payer)
        assert code_of(backend.settle, other, receipt, None) == "input_held"
        assert ledger.balance(_pub(PROVIDER)) == 0

    def test_release_frees_the_inputs_and_charges_nothing(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        payer = PAYERS[0]
        tx = paying(ledger, payer, 0)
        backend.hold(tx, tx.expiry_ms)
        backend.release(tx.txid)
        backend.release(tx.txid)  # nothing held: harmless
        backend.release(bytes(32))
        assert ledger.balance(_pub(PROVIDER)) == 0
        other = paying(ledger, payer, 0, price=PRICE + 1)
        assert backend.hold(other, other.expiry_ms).state == "held"

    def test_release_leaves_other_payments_held(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        released, kept = paying(ledger, PAYERS[0], 0), paying(ledger, PAYERS[1], 1)
        backend.hold(released, released.expiry_ms)
        backend.hold(kept, kept.expiry_ms)
        backend.release(released.txid)
        backend.release(bytes(32))
        other = paying(ledger, PAYERS[1], 1, price=PRICE + 1)
        assert code_of(backend.hold, other, other.expiry_ms) == "input_held"
        assert code_of(backend.hold, kept, kept.expiry_ms) == "payment_in_flight"
        backend.settle(kept, receipt_for(ledger, kept, PAYERS[1]), RESPONSE)
        assert ledger.balance(_pub(PROVIDER)) == PRICE

    def test_rejections_are_typed_and_change_nothing(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        payer = PAYERS[0]
        valid = paying(ledger, payer, 0)
        unknown = Transaction(
            kind=TxKind.PAYMENT,
            chain_id=ledger.chain_id,
            inputs=(OutPoint(bytes(32), 0),),
            outputs=valid.outputs,
            fee=FEE,
            expiry_ms=valid.expiry_ms,
            payload_hash=valid.payload_hash,
        ).sign(payer, ledger.genesis_hash)
        assert code_of(backend.hold, unknown, unknown.expiry_ms) == "unknown_input"
        forged = paying(ledger, PAYERS[1], 0)  # PAYERS[0]'s output, signed by PAYERS[1]
        assert code_of(backend.hold, forged, forged.expiry_ms) == "bad_signature"
        expired = paying(ledger, payer, 0, expiry_ms=now_ms() - 1)
        assert code_of(backend.hold, expired, expired.expiry_ms) == "expired"
        assert code_of(backend.hold, valid, valid.expiry_ms + 1) == "expired"  # outlives it
        receipt = receipt_for(ledger, unknown, payer)
        assert code_of(backend.settle, unknown, receipt, None) == "unknown_input"
        direct = paying(ledger, PAYERS[2], 2)
        ledger.apply_transaction(direct)  # applied without a paid call: it buys none
        assert code_of(backend.hold, direct, direct.expiry_ms) == "already_settled"
        assert ledger.balance(_pub(PROVIDER)) == PRICE
        assert backend.hold(valid, valid.expiry_ms).state == "held"

    def test_concurrent_holds_of_one_input_hold_it_once(
        self, backend: PaymentBackend, ledger: Ledger
    ) -> None:
        payer = PAYERS[0]
        rivals = [paying(ledger, payer, 0, price=PRICE + n) for n in range(8)]
        outcomes = _in_threads([partial(backend.hold, tx, tx.expiry_ms) for tx in rivals])
        held = [o for o in outcomes if not isinstance(o, Exception)]
        assert [h.state for h in held] == ["held"], outcomes
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert all(isinstance(e, FontanaError) and e.code == "input_held" for e in refused)

    def test_concurrent_settles_all_land(self, backend: PaymentBackend, ledger: Ledger) -> None:
        txs = [paying(ledger, payer, n) for n, payer in enumerate(PAYERS)]

        def settle(n: int) -> None:
            backend.hold(txs[n], txs[n].expiry_ms)
            backend.settle(txs[n], receipt_for(ledger, txs[n], PAYERS[n]), RESPONSE)

        outcomes = _in_threads([partial(settle, n) for n in range(len(txs))])
        assert outcomes == [None] * len(txs)
        for n, tx in enumerate(txs):
            settled = backend.settled(tx.txid)
            assert settled is not None and settled.response == RESPONSE
            assert ledger.balance(_pub(PAYERS[n])) == FUNDS - PRICE - FEE
        assert ledger.balance(_pub(PROVIDER)) == PRICE * len(txs)

    def test_close_is_harmless_twice(self, backend: PaymentBackend) -> None:
        backend.close()
        backend.close()
