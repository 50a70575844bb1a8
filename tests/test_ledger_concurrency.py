"""Many processes, one database: conflicting spends race and exactly one wins each UTXO.

Each worker is a separate ``spawn`` process with its own Ledger opened from the
database URL, as production API workers are. All of them try to spend the same
contested UTXOs (single- and two-input spends, in different orders, so row
locks are taken in conflicting orders), apply their own unrelated transfers,
and one of them seals blocks meanwhile. Afterwards each contested UTXO is spent
by exactly one reported winner, every loser saw ``input_spent``, and every
balance is exact.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ledger_helpers import (
    SEQUENCER,
    create_ledger,
    full_rebuild_root,
    key,
    make_genesis,
    make_transfer,
    pub,
    settings_for,
    unspent,
)

from fontana.errors import FontanaError
from fontana.ledger import Ledger
from fontana.models import OutPoint
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

WORKERS = 6
CONTESTED = 8
CONTESTED_AMOUNT = 1_000
OWN_AMOUNT = 10_000
OWN_TRANSFERS = 4
OWN_PAYMENT = 100
#: The workers use the real wall clock (2100-01-01 is far enough).
EXPIRY_MS = 4_102_444_800_000
OWNER = key(20)  # holds every contested UTXO and lets every worker sign for it


def worker_key(w: int) -> tuple[Any, Any, Any]:
    """(own funded key, contested-spend recipient, unrelated-payment sink) of worker ``w``."""
    return key(30 + w), key(40 + w), key(50 + w)


def race_genesis() -> Any:
    contested = [(pub(OWNER), CONTESTED_AMOUNT)] * CONTESTED
    own = [(pub(worker_key(w)[0]), OWN_AMOUNT) for w in range(WORKERS)]
    return make_genesis(contested + own)


def _plan(w: int, gid: bytes) -> list[tuple[str, Any]]:
    """Worker ``w``'s attempts, contested spends interleaved with its own transfers."""
    own, recipient, sink = worker_key(w)
    order = [(w + i) % CONTESTED for i in range(CONTESTED)]
    contested = []
    for j in order:
        inputs = [OutPoint(gid, j)]
        if w % 2:
            inputs.append(OutPoint(gid, (j + 1) % CONTESTED))
        outputs = [(pub(recipient), CONTESTED_AMOUNT * len(inputs) - 1)]
        contested.append(
            make_transfer(inputs, outputs, [OWNER], expiry_ms=EXPIRY_MS, genesis_hash=gid)
        )
    transfers, prev, balance = [], OutPoint(gid, CONTESTED + w), OWN_AMOUNT
    for _ in range(OWN_TRANSFERS):
        balance -= OWN_PAYMENT + 1
        outputs = [(pub(sink), OWN_PAYMENT), (pub(own), balance)]
        tx = make_transfer([prev], outputs, [own], expiry_ms=EXPIRY_MS, genesis_hash=gid)
        transfers.append(tx)
        prev = OutPoint(tx.txid, 1)
    plan: list[tuple[str, Any]] = []
    for i, tx in enumerate(contested):
        plan.append(("contested", tx))
        if i < len(transfers):
            plan.append(("own", transfers[i]))
        if w == 0 and i % 3 == 2:
            plan.append(("seal", None))
    return plan


def run_worker(w: int, url: str, home: str, barrier: Any, results: Any) -> None:
    """One API process: open the ledger, wait for the others, race."""
    storage = open_storage(settings_for(Path(home)), url)
    ledger = Ledger.load(storage, PythonSMTProvider())
    plan = _plan(w, ledger.genesis.hash)
    outcomes: list[tuple[str, str, str]] = []
    barrier.wait(timeout=60)
    for what, tx in plan:
        if what == "seal":
            ledger.seal_block(SEQUENCER)
            continue
        try:
            result = ledger.apply_transaction(tx)
            outcome = "already_applied" if result.already_applied else "ok"
        except FontanaError as exc:
            outcome = exc.code
        except Exception as exc:  # a deadlock or driver error must fail the test, visibly
            outcome = f"crash: {type(exc).__name__}: {exc}"
        outcomes.append((what, tx.txid.hex(), outcome))
    storage.close()
    results.put((w, outcomes))


def race(url: str, home: Path) -> None:
    genesis = race_genesis()
    ledger = create_ledger(url, home, genesis)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=run_worker, args=(w, url, str(home), barrier, results))
        for w in range(WORKERS)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    reports: dict[int, list[tuple[str, str, str]]] = {}
    try:
        while len(reports) < WORKERS:
            w, outcomes = results.get(timeout=max(1.0, 60 - (time.monotonic() - start)))
            reports[w] = outcomes
    except queue.Empty:
        raise AssertionError(f"workers {set(range(WORKERS)) - set(reports)} hung") from None
    finally:
        for p in procs:
            p.join(timeout=10)
    assert all(p.exitcode == 0 for p in procs)
    assert time.monotonic() - start < 30
    check(ledger, genesis.hash, reports)
    ledger.storage.close()


def check(ledger: Ledger, gid: bytes, reports: dict[int, list[tuple[str, str, str]]]) -> None:
    plans = {w: {tx.txid.hex(): tx for what, tx in _plan(w, gid) if tx} for w in range(WORKERS)}
    outcomes = Counter(o for rows in reports.values() for _, _, o in rows)
    assert set(outcomes) <= {"ok", "input_spent"}, outcomes
    own = [(w, o) for w, rows in reports.items() for what, _, o in rows if what == "own"]
    assert all(o == "ok" for _, o in own), own
    winners = {
        txid: plans[w][txid]
        for w, rows in reports.items()
        for what, txid, outcome in rows
        if what == "contested" and outcome == "ok"
    }
    spent_by = Counter(i for tx in winners.values() for i in tx.inputs)
    assert set(spent_by) == {OutPoint(gid, j) for j in range(CONTESTED)}
    assert set(spent_by.values()) == {1}  # each contested UTXO: exactly one winner
    with ledger.storage.read() as s:
        rows = s.get_utxos([(gid, j) for j in range(CONTESTED)])
    for tx in winners.values():
        for i in tx.inputs:
            assert rows[(i.txid, i.index)].spent_by == tx.txid
    assert len(own) == WORKERS * OWN_TRANSFERS
    assert ledger.balance(pub(OWNER)) == 0
    for w in range(WORKERS):
        own_key, recipient, sink = worker_key(w)
        won = [tx for tx in winners.values() if tx.outputs[0].owner == pub(recipient)]
        assert ledger.balance(pub(recipient)) == sum(tx.outputs[0].amount for tx in won)
        assert ledger.balance(pub(sink)) == OWN_TRANSFERS * OWN_PAYMENT
        assert ledger.balance(pub(own_key)) == OWN_AMOUNT - OWN_TRANSFERS * (OWN_PAYMENT + 1)
    ledger.seal_block(SEQUENCER)
    fees = len(winners) + WORKERS * OWN_TRANSFERS
    assert ledger.balance(pub(SEQUENCER)) == fees
    assert ledger.current_state_root() == full_rebuild_root(ledger)
    total = CONTESTED * CONTESTED_AMOUNT + WORKERS * OWN_AMOUNT
    assert sum(u.amount for u in unspent(ledger)) == total


def test_processes_racing_for_the_same_utxos_never_double_spend(
    ledger_url: str, tmp_path: Path
) -> None:
    race(ledger_url, tmp_path / "home")
