"""Payment backends: the shared suite every :class:`PaymentBackend` passes, and the group commit.

:class:`PaymentBackendSuite` runs on a live ledger (SQLite and PostgreSQL);
a backend that reaches the same ledger another way (the node API's
``NodeBackend``) subclasses it and overrides the ``backend`` fixture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from ledger_helpers import ALICE, BOB, CAROL, genesis_outpoint, make_transfer, pub, settings_for
from nacl.signing import SigningKey

from fontana.errors import FontanaError, RejectedError, StorageUnavailableError
from fontana.ledger import Ledger
from fontana.models import OutPoint, Receipt, SignedReceipt, Transaction, TxKind, TxOutput
from fontana.payments.backends import (
    CachedResponse,
    LedgerBackend,
    PaymentBackend,
    SettledPayment,
    open_backend,
)

PROVIDER = SigningKey(bytes([9]) * 32)
PRICE = 1_000
RESPONSE = CachedResponse(200, "application/json", b'{"ok":true}')


def paying(ledger: Ledger, signer: SigningKey, index: int, *, price: int = PRICE) -> Transaction:
    """A payment of ``price`` to the provider from ``signer``'s genesis UTXO ``index``."""
    tx = Transaction(
        kind=TxKind.PAYMENT,
        chain_id=ledger.chain_id,
        inputs=(genesis_outpoint(index, ledger.genesis),),
        outputs=(TxOutput(pub(PROVIDER), price), TxOutput(pub(signer), 1_000_000 - price - 1)),
        fee=1,
        expiry_ms=ledger.clock() + 60_000,
        payload_hash=bytes(32),
    )
    return tx.sign(signer, ledger.genesis_hash)


def receipt_for(ledger: Ledger, tx: Transaction, signer: SigningKey) -> bytes:
    receipt = Receipt(
        chain_id=ledger.chain_id,
        txid=tx.txid,
        payer=pub(signer),
        payee=pub(PROVIDER),
        amount=PRICE,
        method="GET",
        resource="/paid",
        request_hash=bytes(32),
        issued_at_ms=ledger.clock(),
        expected_height=1,
    )
    return SignedReceipt.sign(receipt, PROVIDER, ledger.genesis_hash).to_bytes()


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(FontanaError) as caught:
        call(*args)
    return caught.value.code


class PaymentBackendSuite:
    """What every payment backend does, checked against the ledger it reaches."""

    @pytest.fixture
    def backend(self, live: Ledger) -> Iterator[PaymentBackend]:
        opened = LedgerBackend(live)
        yield opened
        opened.close()

    def test_it_is_a_payment_backend_of_the_deployment(
        self, backend: PaymentBackend, live: Ledger
    ) -> None:
        assert isinstance(backend, PaymentBackend)
        assert backend.genesis == live.genesis
        assert backend.open_height() == live.latest_block().height + 1

    def test_hold_then_settle_then_the_same_payment_is_settled(
        self, backend: PaymentBackend, live: Ledger
    ) -> None:
        tx = paying(live, ALICE, 0)
        held = backend.hold(tx, tx.expiry_ms)
        assert (held.state, held.txid, held.until_ms) == ("held", tx.txid, tx.expiry_ms)
        assert code_of(backend.hold, tx, tx.expiry_ms) == "payment_in_flight"
        assert backend.settled(tx.txid) is None
        receipt = receipt_for(live, tx, ALICE)
        backend.settle(tx, receipt, RESPONSE)
        settled = SettledPayment(tx.txid, receipt, RESPONSE)
        assert backend.settled(tx.txid) == settled
        again = backend.hold(tx, tx.expiry_ms)
        assert (again.state, again.settled) == ("settled", settled)
        assert live.balance(pub(PROVIDER)) == PRICE
        backend.settle(tx, receipt_for(live, tx, ALICE), None)  # idempotent: the first stays
        assert backend.settled(tx.txid) == settled
        assert live.balance(pub(PROVIDER)) == PRICE

    def test_a_held_input_is_refused_to_every_other_spend(
        self, backend: PaymentBackend, live: Ledger
    ) -> None:
        tx = paying(live, ALICE, 0)
        backend.hold(tx, tx.expiry_ms)
        other = paying(live, ALICE, 0, price=PRICE + 1)
        assert code_of(backend.hold, other, other.expiry_ms) == "input_held"
        transfer = make_transfer(
            [genesis_outpoint(0, live.genesis)],
            [(pub(BOB), 999_999)],
            [ALICE],
            expiry_ms=live.clock() + 60_000,
            genesis_hash=live.genesis_hash,
        )
        assert code_of(live.apply_transaction, transfer) == "input_held"
        assert code_of(backend.settle, other, receipt_for(live, other, ALICE), None) == (
            "input_held"
        )

    def test_release_frees_the_inputs_and_charges_nothing(
        self, backend: PaymentBackend, live: Ledger
    ) -> None:
        tx = paying(live, ALICE, 0)
        backend.hold(tx, tx.expiry_ms)
        backend.release(tx.txid)
        backend.release(tx.txid)  # nothing held: harmless
        backend.release(bytes(32))
        assert live.balance(pub(PROVIDER)) == 0
        other = paying(live, ALICE, 0, price=PRICE + 1)
        assert backend.hold(other, other.expiry_ms).state == "held"

    def test_rejections_are_typed_and_change_nothing(
        self, backend: PaymentBackend, live: Ledger
    ) -> None:
        unknown = paying(live, ALICE, 0)
        unknown = Transaction(
            kind=TxKind.PAYMENT,
            chain_id=live.chain_id,
            inputs=(OutPoint(bytes(32), 0),),
            outputs=unknown.outputs,
            fee=1,
            expiry_ms=unknown.expiry_ms,
        ).sign(ALICE, live.genesis_hash)
        assert code_of(backend.hold, unknown, unknown.expiry_ms) == "unknown_input"
        forged = paying(live, BOB, 0)  # ALICE's input, signed by BOB
        assert code_of(backend.hold, forged, forged.expiry_ms) == "bad_signature"
        receipt = receipt_for(live, unknown, ALICE)
        assert code_of(backend.settle, unknown, receipt, None) == "unknown_input"
        assert live.balance(pub(PROVIDER)) == 0
        tx = paying(live, CAROL, 2)
        assert backend.hold(tx, tx.expiry_ms).state == "held"

    def test_close_is_harmless_twice(self, backend: PaymentBackend) -> None:
        backend.close()
        backend.close()


class TestLedgerBackend(PaymentBackendSuite):
    pass


class GatedLedger:
    """The real ledger, with each ``settle_many`` recorded and the first one held at a gate."""

    def __init__(self, ledger: Ledger, fail: Exception | None = None) -> None:
        self._ledger = ledger
        self.batches: list[int] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail = fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def settle_many(self, items: Sequence[Any]) -> list[Any]:
        self.batches.append(len(items))
        self.entered.set()
        self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self._ledger.settle_many(items)  # type: ignore[no-any-return]


def payments(live: Ledger, signers: Sequence[tuple[SigningKey, int]]) -> list[Transaction]:
    return [paying(live, signer, index) for signer, index in signers]


def settle_in_threads(
    backend: LedgerBackend, live: Ledger, txs: Sequence[Transaction]
) -> tuple[list[threading.Thread], list[BaseException | None]]:
    """Hold and settle each payment in its own thread (its first witness signed it)."""
    outcomes: list[BaseException | None] = [None] * len(txs)
    signers = {pub(k): k for k in (ALICE, BOB, CAROL)}

    def settle(n: int, tx: Transaction) -> None:
        try:
            backend.hold(tx, tx.expiry_ms)
            signer = signers[tx.witnesses[0].pubkey]
            backend.settle(tx, receipt_for(live, tx, signer), RESPONSE)
        except BaseException as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=settle, args=(n, tx)) for n, tx in enumerate(txs)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def wait_until_queued(backend: LedgerBackend, count: int) -> None:
    """Wait for ``count`` settles in the queue (a rendezvous, not a timed assertion)."""
    while len(backend._queue) < count:
        time.sleep(0.005)


def test_settles_arriving_during_a_commit_go_in_the_next_batch_together(live: Ledger) -> None:
    gated = GatedLedger(live)
    backend = LedgerBackend(gated)  # type: ignore[arg-type]
    first, first_outcome = settle_in_threads(backend, live, payments(live, [(ALICE, 0)]))
    gated.entered.wait()
    rest, rest_outcomes = settle_in_threads(backend, live, payments(live, [(BOB, 1), (CAROL, 2)]))
    wait_until_queued(backend, 2)
    gated.gate.set()
    for thread in first + rest:
        thread.join()
    backend.close()
    assert first_outcome + rest_outcomes == [None, None, None]
    assert gated.batches == [1, 2]
    assert live.balance(pub(PROVIDER)) == 3 * PRICE


def test_a_batch_window_collects_settles_and_close_drains_them(live: Ledger) -> None:
    gated = GatedLedger(live)
    gated.gate.set()
    backend = LedgerBackend(gated, batch_ms=600_000)  # type: ignore[arg-type]
    threads, outcomes = settle_in_threads(
        backend, live, payments(live, [(ALICE, 0), (BOB, 1), (CAROL, 2)])
    )
    wait_until_queued(backend, 3)
    backend.close()  # wakes the window: the three settle together, nothing is lost
    for thread in threads:
        thread.join()
    assert outcomes == [None, None, None]
    assert gated.batches == [3]
    assert live.balance(pub(PROVIDER)) == 3 * PRICE
    with pytest.raises(RuntimeError, match="closed"):
        backend.settle(paying(live, ALICE, 0), b"", None)


def test_a_failed_commit_fails_every_settle_of_its_batch_and_each_can_retry(live: Ledger) -> None:
    gated = GatedLedger(live, fail=StorageUnavailableError("the database went away"))
    backend = LedgerBackend(gated)  # type: ignore[arg-type]
    (tx,) = payments(live, [(ALICE, 0)])
    first, first_outcome = settle_in_threads(backend, live, [tx])
    gated.entered.wait()
    rest, rest_outcomes = settle_in_threads(backend, live, payments(live, [(BOB, 1), (CAROL, 2)]))
    wait_until_queued(backend, 2)
    gated.gate.set()
    for thread in first + rest:
        thread.join()
    outcomes = first_outcome + rest_outcomes
    assert all(isinstance(o, StorageUnavailableError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3  # each thread raised its own
    assert live.balance(pub(PROVIDER)) == 0
    gated.fail = None
    backend.settle(tx, receipt_for(live, tx, ALICE), None)  # still held by this payment
    backend.close()
    assert live.balance(pub(PROVIDER)) == PRICE


def test_a_rejected_settle_fails_alone(live: Ledger) -> None:
    backend = LedgerBackend(live)
    tx = paying(live, ALICE, 0)
    backend.hold(tx, tx.expiry_ms)
    spent = make_transfer(
        [genesis_outpoint(1, live.genesis)],
        [(pub(CAROL), 999_999)],
        [BOB],
        expiry_ms=live.clock() + 60_000,
        genesis_hash=live.genesis_hash,
    )
    live.apply_transaction(spent)
    double = paying(live, BOB, 1)
    with pytest.raises(RejectedError) as caught:
        backend.settle(double, receipt_for(live, double, BOB), None)
    assert caught.value.code == "input_spent"
    backend.settle(tx, receipt_for(live, tx, ALICE), RESPONSE)
    backend.close()
    assert live.balance(pub(PROVIDER)) == PRICE


def test_open_backend_opens_the_configured_ledger(live: Ledger, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "provider")
    settings = attrs.evolve(
        settings,
        storage=attrs.evolve(settings.storage, url=live.storage.url),
        charge=attrs.evolve(settings.charge, batch_ms=3),
    )
    backend = open_backend(settings)
    try:
        assert isinstance(backend, LedgerBackend) and backend.batch_ms == 3
        assert backend.genesis == live.genesis
        tx = paying(live, ALICE, 0)
        assert backend.hold(tx, tx.expiry_ms).state == "held"
    finally:
        backend.close()
    backend.close()
