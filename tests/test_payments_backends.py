"""Payment backends: both real ones pass the shared suite; the group commit of ``LedgerBackend``.

:class:`~fontana.testing.payments.PaymentBackendSuite` runs on ``LedgerBackend``
(SQLite and PostgreSQL) and on ``NodeBackend`` through a private ``fontana
serve`` on the same database.
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
from node_helpers import node_env

from fontana.errors import RejectedError, StorageUnavailableError
from fontana.ledger import Ledger
from fontana.models import Transaction
from fontana.payments.backends import LedgerBackend, PaymentBackend, open_backend
from fontana.payments.node_backend import NodeBackend
from fontana.testing.node import serve_node
from fontana.testing.payments import (
    PRICE,
    PROVIDER,
    RESPONSE,
    PaymentBackendSuite,
    paying,
    receipt_for,
)


class TestLedgerBackend(PaymentBackendSuite):
    @pytest.fixture
    def ledger_url(self, ledger_url: str) -> str:
        """The suite on SQLite and on PostgreSQL (``ledger_helpers.ledger_url``)."""
        return ledger_url

    @pytest.fixture
    def backend(self, ledger: Ledger) -> Iterator[PaymentBackend]:
        opened = LedgerBackend(ledger)
        yield opened
        opened.close()


class TestNodeBackend(PaymentBackendSuite):
    """The suite through a private node serving the suite's ledger (SQLite)."""

    @pytest.fixture
    def backend(self, ledger: Ledger, ledger_url: str, tmp_path: Path) -> Iterator[PaymentBackend]:
        home = tmp_path / "node-home"
        home.mkdir()
        env = node_env(home, ledger_url)
        with serve_node(env, "--private") as node:
            opened = NodeBackend(node.url)
            assert opened.private
            yield opened
            opened.close()


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
