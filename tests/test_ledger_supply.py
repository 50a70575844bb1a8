"""The supply counter under concurrent deposits and burns from many processes.

Deposits and withdrawal burns change the ``supply`` counter while holding the
epoch lock only shared, so on PostgreSQL many of them run at once. Each
worker is a ``spawn`` process with its own Ledger, as bridge watchers and API
workers are; they credit deposits and burn withdrawals in parallel. Afterwards
the counter must equal the expected total (genesis + deposits - burns) and,
once a seal has credited the fees, the sum of the unspent outputs: a counter
read and written back loses updates here.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path
from typing import Any

import pytest
from ledger_helpers import (
    SEQUENCER,
    create_ledger,
    key,
    make_deposit,
    make_genesis,
    make_transfer,
    pub,
    settings_for,
    unspent,
)

from fontana.errors import AmountOverflowError, FontanaError
from fontana.ledger import Ledger
from fontana.ledger.meta import COUNTER_SUPPLY, MAX_LEDGER_AMOUNT
from fontana.models import OutPoint, WithdrawalRequest
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

WORKERS = 6
DEPOSITS = 30
BURNS = 10
FUNDS = 1_000_000
#: The workers use the real wall clock (2100-01-01 is far enough).
EXPIRY_MS = 4_102_444_800_000


def worker_key(w: int) -> Any:
    return key(60 + w)


def deposit_amount(w: int, i: int) -> int:
    return 1_000 * (w + 1) + i


def burn_amount(w: int, i: int) -> int:
    return 100 * (w + 1) + i


def _plan(w: int, gid: bytes) -> list[Any]:
    """Worker ``w``'s deposits to itself and chained burns of its genesis funds, interleaved."""
    own = worker_key(w)
    burns, prev, balance = [], OutPoint(gid, w), FUNDS
    for i in range(BURNS):
        balance -= burn_amount(w, i) + 1
        burn = WithdrawalRequest(bytes([w + 1]) * 20, burn_amount(w, i))
        tx = make_transfer(
            [prev], [(pub(own), balance)], [own], burn=burn, expiry_ms=EXPIRY_MS, genesis_hash=gid
        )
        burns.append(tx)
        prev = OutPoint(tx.txid, 0)
    deposits = [
        make_deposit(pub(own), deposit_amount(w, i), l1_tx=1_000 * (w + 1) + i)
        for i in range(DEPOSITS)
    ]
    plan: list[Any] = []
    for i, deposit in enumerate(deposits):
        plan.append(deposit)
        if i % (DEPOSITS // BURNS) == 0:
            plan.append(burns[i // (DEPOSITS // BURNS)])
    return plan


def run_worker(w: int, url: str, home: str, barrier: Any, results: Any) -> None:
    storage = open_storage(settings_for(Path(home)), url)
    ledger = Ledger.load(storage, PythonSMTProvider())
    plan = _plan(w, ledger.genesis.hash)
    outcomes: list[str] = []
    barrier.wait(timeout=60)
    for item in plan:
        try:
            if hasattr(item, "txid"):
                ledger.apply_transaction(item)
            else:
                assert ledger.process_deposit_event(item).credited
            outcomes.append("ok")
        except FontanaError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # a driver error must fail the test, visibly
            outcomes.append(f"crash: {type(exc).__name__}: {exc}")
    storage.close()
    results.put((w, outcomes))


def test_concurrent_deposits_and_burns_never_lose_a_supply_update(
    ledger_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    genesis = make_genesis([(pub(worker_key(w)), FUNDS) for w in range(WORKERS)])
    ledger = create_ledger(ledger_url, home, genesis)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=run_worker, args=(w, ledger_url, str(home), barrier, results))
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    reports: dict[int, list[str]] = {}
    start = time.monotonic()
    try:
        while len(reports) < WORKERS:
            w, outcomes = results.get(timeout=max(1.0, 120 - (time.monotonic() - start)))
            reports[w] = outcomes
    except queue.Empty:
        raise AssertionError(f"workers {set(range(WORKERS)) - set(reports)} hung") from None
    finally:
        for p in procs:
            p.join(timeout=10)
    assert all(p.exitcode == 0 for p in procs)
    assert all(o == "ok" for rows in reports.values() for o in rows), reports
    deposited = sum(deposit_amount(w, i) for w in range(WORKERS) for i in range(DEPOSITS))
    burned = sum(burn_amount(w, i) for w in range(WORKERS) for i in range(BURNS))
    expected = WORKERS * FUNDS + deposited - burned
    assert ledger.supply() == expected
    ledger.seal_block(SEQUENCER)  # credits the fees, which left the UTXO set until now
    assert sum(u.amount for u in unspent(ledger)) == expected
    assert ledger.supply() == expected
    ledger.storage.close()


# -- the counter's bounds ----------------------------------------------------------------


def test_supply_follows_deposits_and_burns(ledger: Ledger) -> None:
    before = ledger.supply()
    assert before == sum(u.amount for u in unspent(ledger))
    ledger.process_deposit_event(make_deposit(pub(key(1)), 500))
    assert ledger.supply() == before + 500


@pytest.mark.parametrize("delta", [MAX_LEDGER_AMOUNT, 2**63, 2**64 - 1, -(2**63), -(2**64)])
def test_counter_refuses_to_leave_its_range_without_overflowing(ledger: Ledger, delta: int) -> None:
    before = ledger.supply()
    with ledger.storage.write() as s:
        assert s.add_to_counter(COUNTER_SUPPLY, delta, MAX_LEDGER_AMOUNT) is None
        assert s.get_counter(COUNTER_SUPPLY) == before
    assert ledger.supply() == before


def test_deposit_beyond_the_supply_bound_is_amount_overflow_and_changes_nothing(
    ledger: Ledger,
) -> None:
    room = MAX_LEDGER_AMOUNT - ledger.supply()
    ledger.process_deposit_event(make_deposit(pub(key(1)), room, l1_tx=1))
    assert ledger.supply() == MAX_LEDGER_AMOUNT
    with pytest.raises(AmountOverflowError, match="would leave"):
        ledger.process_deposit_event(make_deposit(pub(key(1)), 1, l1_tx=2))
    assert ledger.supply() == MAX_LEDGER_AMOUNT
