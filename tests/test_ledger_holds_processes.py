"""Holds across processes, as provider workers share one database: SQLite and PostgreSQL.

Each worker is a separate ``spawn`` process with its own Ledger opened from the
database URL. Workers race to hold one input with different payments (exactly
one wins), to settle one held payment (it is applied once), and a worker dies
holding a payment: another process settles it, or its hold expires.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from holds_helpers import HOLD_MS, PRICE, holds, payment, receipt_for, tables
from ledger_helpers import ALICE, ALLOCATION, BOB, Clock, pub, settings_for

from fontana.errors import FontanaError, InputHeldError, InputSpentError
from fontana.ledger import Ledger
from fontana.models import Transaction
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

WORKERS = 4
#: How long the parent waits for a worker before calling it hung (not a speed test).
WAIT_S = 120


def _open(url: str, home: str, now: int) -> Ledger:
    storage = open_storage(settings_for(Path(home)), url)
    return Ledger.load(storage, PythonSMTProvider(), Clock(now))


def run_worker(
    url: str, home: str, now: int, action: str, tx: bytes, receipt: bytes, barrier: Any, out: Any
) -> None:
    """One provider process: open the ledger, wait for the others, then ``hold``, ``settle``,
    or ``hold-and-die`` (hold, then be killed before settling)."""
    try:
        ledger = _open(url, home, now)
        payment_tx = Transaction.from_bytes(tx)
        if barrier is not None:
            barrier.wait(timeout=WAIT_S)
        if action == "settle":
            result = ledger.settle(payment_tx, receipt, None)
            out.put("already_applied" if result.already_applied else "applied")
        else:
            ledger.hold(payment_tx, now + HOLD_MS)
            if action == "hold-and-die":
                os.kill(os.getpid(), signal.SIGKILL)
            out.put("held")
        ledger.storage.close()
    except FontanaError as exc:
        out.put(exc.code)
    except BaseException as exc:  # a deadlock or driver error must fail the test, visibly
        out.put(f"crash: {type(exc).__name__}: {exc}")


def run_all(
    url: str, home: Path, now: int, jobs: list[tuple[str, Transaction, bytes]]
) -> tuple[list[str], list[int | None]]:
    """Run one worker per job at once; their outcomes (in no order) and exit codes."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [
        ctx.Process(
            target=run_worker,
            args=(url, str(home), now, action, tx.to_bytes(), receipt, barrier, out),
        )
        for action, tx, receipt in jobs
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=WAIT_S)
        if proc.is_alive():
            proc.kill()
    codes = [proc.exitcode for proc in procs]
    # Every worker that exits normally has put exactly one outcome, crashes included.
    return [out.get(timeout=WAIT_S) for code in codes if code == 0], codes


def test_processes_holding_one_input_have_exactly_one_winner(
    ledger: Ledger, clock: Clock, ledger_url: str, tmp_path: Path
) -> None:
    rivals = [payment(ledger, memo=b"rival %d" % n) for n in range(WORKERS)]
    jobs = [("hold", tx, b"") for tx in rivals]
    outcomes, codes = run_all(ledger_url, tmp_path / "home", clock.now_ms, jobs)
    assert codes == [0] * WORKERS
    assert sorted(outcomes) == ["held"] + ["input_held"] * (WORKERS - 1), outcomes
    (winner,) = [tx for tx in rivals if tx.txid in {h for h, _ in holds(ledger).values()}]
    for tx in rivals:
        if tx is not winner:
            with pytest.raises(InputHeldError):
                ledger.apply_transaction(tx)
    ledger.settle(winner, receipt_for(ledger, winner), None)  # from yet another process
    assert ledger.balance(pub(BOB)) == ALLOCATION + PRICE


def test_processes_settling_one_payment_apply_it_once(
    ledger: Ledger, clock: Clock, ledger_url: str, tmp_path: Path
) -> None:
    tx = payment(ledger)
    ledger.hold(tx, clock.now_ms + HOLD_MS)
    receipt = receipt_for(ledger, tx)
    jobs = [("settle", tx, receipt)] * WORKERS
    outcomes, codes = run_all(ledger_url, tmp_path / "home", clock.now_ms, jobs)
    assert codes == [0] * WORKERS
    assert Counter(outcomes) == {"applied": 1, "already_applied": WORKERS - 1}, outcomes
    rows = tables(ledger)
    assert len([r for r in rows["entries"] if bytes(r[1]) == tx.txid]) == 1
    assert len(rows["settlements"]) == len(rows["receipts"]) == 1
    assert ledger.balance(pub(ALICE)) == ALLOCATION - PRICE - 1
    assert holds(ledger) == {}


def test_a_payment_held_by_a_process_that_died_is_settled_by_another(
    ledger: Ledger, clock: Clock, ledger_url: str, tmp_path: Path
) -> None:
    tx = payment(ledger)
    jobs = [("hold-and-die", tx, b"")]
    outcomes, codes = run_all(ledger_url, tmp_path / "home", clock.now_ms, jobs)
    assert (outcomes, codes) == ([], [-signal.SIGKILL])
    assert set(holds(ledger).values()) == {(tx.txid, clock.now_ms + HOLD_MS)}, "the hold stays"
    receipt = receipt_for(ledger, tx)
    jobs = [("settle", tx, receipt)]
    assert run_all(ledger_url, tmp_path / "home", clock.now_ms, jobs) == (["applied"], [0])
    assert ledger.settled(tx.txid) is not None
    assert ledger.balance(pub(BOB)) == ALLOCATION + PRICE


def test_a_hold_left_by_a_process_that_died_expires(
    ledger: Ledger, clock: Clock, ledger_url: str, tmp_path: Path
) -> None:
    tx = payment(ledger)
    run_all(ledger_url, tmp_path / "home", clock.now_ms, [("hold-and-die", tx, b"")])
    other = payment(ledger, memo=b"spent elsewhere")
    with pytest.raises(InputHeldError):
        ledger.apply_transaction(other)
    clock.advance(HOLD_MS)
    assert not ledger.apply_transaction(other).already_applied
    with pytest.raises(InputSpentError):
        ledger.settle(tx, receipt_for(ledger, tx), None)
    assert holds(ledger) == {}
