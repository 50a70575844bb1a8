"""The UTXO pool on a real ledger: selection, locking, splitting, refreshes, concurrency.

Calls here spend their leases with plain transfers to BOB, applied to the
ledger directly, so the pool is checked on its own; the paid-call tests run
the same pool through real providers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ledger_helpers import ALICE, BOB, Clock, create_ledger, make_genesis, make_transfer, pub

from fontana.errors import InsufficientFundsError, RejectedError
from fontana.ledger import Ledger
from fontana.models import UTXO, Transaction
from fontana.sdk.errors import WalletBusyError
from fontana.sdk.pool import UtxoPool
from fontana.sdk.sources import LedgerSource

ME = pub(ALICE)
FEE = 1


def funded(tmp_path: Path, amounts: list[int], clock: Clock | None = None) -> Ledger:
    genesis = make_genesis([(ME, a) for a in amounts] + [(pub(BOB), 1)])
    return create_ledger(f"sqlite:///{tmp_path}/l.db", tmp_path / "home", genesis, clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pool_of(ledger: Ledger, **kwargs: object) -> UtxoPool:
    return UtxoPool(ALICE, LedgerSource(ledger), clock=ledger.clock, **kwargs)  # type: ignore[arg-type]


def transfer(ledger: Ledger, utxos: tuple[UTXO, ...], price: int) -> Transaction:
    change = sum(u.amount for u in utxos) - price - FEE
    outputs = [(pub(BOB), price)] + ([(ME, change)] if change else [])
    return make_transfer(utxos, outputs, [ALICE], genesis_hash=ledger.genesis_hash)


def spend(pool: UtxoPool, ledger: Ledger, price: int) -> Transaction:
    lease = pool.acquire(price + FEE)
    tx = transfer(ledger, lease.utxos, price)
    try:
        ledger.apply_transaction(tx)
    except RejectedError:
        lease.release()
        raise
    lease.settle(tx)
    return tx


def amounts(utxos: list[UTXO]) -> list[int]:
    return sorted(u.amount for u in utxos)


def test_smallest_sufficient_utxo_is_chosen(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [500, 100, 300, 200])
    pool = pool_of(ledger)
    lease = pool.acquire(150)
    assert [u.amount for u in lease.utxos] == [200]
    other = pool.acquire(150)
    assert [u.amount for u in other.utxos] == [300]
    assert amounts(pool.free()) == [100, 500]
    lease.release()
    assert amounts(pool.free()) == [100, 200, 500]


def test_several_inputs_when_none_fits_alone(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [100, 300, 200])
    pool = pool_of(ledger)
    tx = spend(pool, ledger, 450)
    assert len(tx.inputs) == 2  # 300 + 200, largest first
    assert amounts(pool.free()) == [49, 100]  # the change is usable at once
    assert amounts(pool.free()) == amounts(ledger.utxos(ME))


def test_insufficient_funds_after_a_refresh(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [100, 100])
    pool = pool_of(ledger)
    with pytest.raises(InsufficientFundsError, match="holds 200 utia free"):
        pool.acquire(201)
    assert pool.counts() == (2, 0, 0)


def test_a_set_aside_input_comes_back_only_after_its_time(tmp_path: Path, clock: Clock) -> None:
    ledger = funded(tmp_path, [100], clock)
    pool = pool_of(ledger)
    pool.acquire(50).set_aside(clock.now_ms + 10_000)
    with pytest.raises(InsufficientFundsError, match="100 more set aside"):
        pool.acquire(50)
    clock.advance(10_001)
    assert [u.amount for u in pool.acquire(50).utxos] == [100]


def test_a_stale_cache_is_refreshed_on_discard(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [100, 200])
    pool = pool_of(ledger)
    pool.refresh()
    # Another process of this wallet spends the 100 behind the pool's back.
    [small] = [u for u in ledger.utxos(ME) if u.amount == 100]
    ledger.apply_transaction(transfer(ledger, (small,), 99))
    lease = pool.acquire(50)
    assert lease.utxos == (small,)
    with pytest.raises(RejectedError) as err:
        ledger.apply_transaction(transfer(ledger, lease.utxos, 49))
    assert err.value.code == "input_spent"
    lease.discard()
    pool.refresh()
    assert amounts(pool.free()) == [200]


def test_many_calls_on_one_utxo_split_it_and_all_succeed(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [1_000_000])
    pool = pool_of(ledger)
    with ThreadPoolExecutor(100) as ex:
        txs = list(ex.map(lambda _: spend(pool, ledger, 1_500), range(100)))
    assert len({tx.txid for tx in txs}) == 100
    spent = [i for tx in txs for i in tx.inputs]
    assert len(spent) == len(set(spent))  # never the same input twice
    assert ledger.balance(pub(BOB)) == 1 + 100 * 1_500
    free, leased, aside = pool.counts()
    assert (leased, aside) == (0, 0)
    assert amounts(pool.free()) == amounts(ledger.utxos(ME))
    assert free > 1  # it was split


def test_concurrent_calls_beyond_the_funds_fail_cleanly(tmp_path: Path) -> None:
    # Three UTXOs holding 10 calls' worth (fees of splits aside): every call is paid or
    # refused for lack of funds, and a refusal means the wallet really cannot pay another.
    ledger = funded(tmp_path, [4 * 1_001, 3 * 1_001, 3 * 1_001])
    pool = pool_of(ledger)

    def call(_: int) -> str:
        try:
            spend(pool, ledger, 1_000)
        except InsufficientFundsError:
            return "insufficient_funds"
        return "paid"

    with ThreadPoolExecutor(100) as ex:
        outcomes = list(ex.map(call, range(100)))
    paid = outcomes.count("paid")
    assert 8 <= paid <= 10
    assert outcomes.count("insufficient_funds") == 100 - paid
    assert ledger.balance(pub(BOB)) == 1 + paid * 1_000
    assert ledger.balance(ME) < 1_001
    assert pool.counts()[1:] == (0, 0)
    assert amounts(pool.free()) == amounts(ledger.utxos(ME))


class SlowSource(LedgerSource):
    """A ledger source whose UTXO read waits until the test lets it go on."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.reading = threading.Event()
        self.go_on = threading.Event()
        self.block = False

    def utxos(self, owner: bytes) -> list[UTXO]:
        found = super().utxos(owner)
        if self.block:
            self.reading.set()
            assert self.go_on.wait(30)
        return found


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Ledger, SlowSource, UtxoPool]]:
    ledger = funded(tmp_path, [1_000, 2_000])
    source = SlowSource(ledger)
    pool = UtxoPool(ALICE, source, clock=ledger.clock)
    pool.refresh()
    yield ledger, source, pool
    source.go_on.set()


def test_a_settle_during_a_refresh_is_not_undone_by_it(
    slow: tuple[Ledger, SlowSource, UtxoPool],
) -> None:
    ledger, source, pool = slow
    lease = pool.acquire(500)
    source.block = True
    refresher = threading.Thread(target=pool.refresh)
    refresher.start()
    assert source.reading.wait(30)  # the refresh read the ledger before the payment
    tx = transfer(ledger, lease.utxos, 400)
    ledger.apply_transaction(tx)
    lease.settle(tx)
    source.go_on.set()
    refresher.join(30)
    # The spent 1000 is not back, the 599 change is not lost.
    assert amounts(pool.free()) == [599, 2_000] == amounts(ledger.utxos(ME))


def test_a_call_waits_for_the_utxo_in_use_then_takes_its_change(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [1_000])
    pool = pool_of(ledger)
    first = pool.acquire(600)
    got: list[tuple[UTXO, ...]] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(300).utxos))
    waiter.start()
    while pool._waiting == 0:  # the second call waits: nothing else is free
        threading.Event().wait(0.001)
    tx = transfer(ledger, first.utxos, 599)
    ledger.apply_transaction(tx)
    first.settle(tx)
    waiter.join(30)
    assert [u.amount for u in got[0]] == [400]
    assert got[0][0].txid == tx.txid


def test_a_call_gives_up_after_the_wait(tmp_path: Path) -> None:
    ledger = funded(tmp_path, [1_000])
    pool = pool_of(ledger, wait_s=0.01)
    pool.acquire(600)
    with pytest.raises(WalletBusyError):
        pool.acquire(300)
