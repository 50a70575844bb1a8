"""The withdrawal processor's jobs table on SQLite and PostgreSQL (``ledger`` runs on both).

A burn gets a job only once its block is on DA, once; a job moves only from the state
its writer read, so two processors can never both move it.
"""

from __future__ import annotations

import attrs
import pytest
from ledger_helpers import ALICE, ALLOCATION, SEQUENCER, genesis_outpoint, make_transfer, pub

from fontana.errors import OutOfRangeError
from fontana.ledger import Ledger
from fontana.models import WithdrawalRequest
from fontana.storage.base import WithdrawalJobRecord


def sealed_burn(ledger: Ledger) -> bytes:
    tx = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), ALLOCATION - 501)],
        [ALICE],
        burn=WithdrawalRequest(b"\xab" * 20, 500),
    )
    ledger.apply_transaction(tx)
    ledger.seal_block(SEQUENCER)
    return tx.txid


def test_a_burn_gets_one_job_once_its_block_is_on_da(ledger: Ledger) -> None:
    burn = sealed_burn(ledger)
    with ledger.storage.read() as s:
        assert s.withdrawals_on_da(10) == []  # sealed, not yet posted
    with ledger.storage.write() as s:
        s.mark_committed(1, 7, b"\x01" * 32)
    with ledger.storage.read() as s:
        assert s.withdrawals_on_da(10) == [(burn, 1)]
    job = WithdrawalJobRecord(burn, "pending", 1, 1_000)
    with ledger.storage.write() as s:
        assert s.insert_withdrawal_job(job)
        assert not s.insert_withdrawal_job(attrs.evolve(job, burn_height=2))
    with ledger.storage.read() as s:
        assert s.withdrawals_on_da(10) == []
        assert s.get_withdrawal_job(burn) == job


def test_a_job_moves_only_from_the_state_its_writer_read(ledger: Ledger) -> None:
    burn = sealed_burn(ledger)
    job = WithdrawalJobRecord(burn, "pending", 1, 1_000)
    proven = attrs.evolve(
        job,
        state="proven",
        checkpoint_height=1,
        state_root=b"\x02" * 32,
        signatures=b"\x03" * 130,
        proof=b"\x04" * 40,
        updated_at_ms=2_000,
    )
    submitted = attrs.evolve(
        proven, state="submitted", raw_tx=b"\x05" * 200, l1_tx_hash=b"\x06" * 32
    )
    with ledger.storage.write() as s:
        s.insert_withdrawal_job(job)
        assert not s.advance_withdrawal_job(submitted, "proven")  # it is still pending
        assert s.advance_withdrawal_job(proven, "pending")
        assert not s.advance_withdrawal_job(proven, "pending")  # a second writer loses
        assert s.advance_withdrawal_job(submitted, "proven")
    with ledger.storage.read() as s:
        assert s.get_withdrawal_job(burn) == submitted
        assert s.withdrawal_jobs(["pending", "proven"], 10) == []
        assert s.withdrawal_jobs(["submitted"], 10) == [submitted]


def test_an_l1_block_beyond_what_the_ledger_stores_is_out_of_range(ledger: Ledger) -> None:
    burn = sealed_burn(ledger)
    with ledger.storage.write() as s:
        s.insert_withdrawal_job(WithdrawalJobRecord(burn, "pending", 1, 1_000))
    with pytest.raises(OutOfRangeError), ledger.storage.write() as s:
        job = WithdrawalJobRecord(burn, "confirmed", 1, 1_000, l1_block=2**63)
        s.advance_withdrawal_job(job, "pending")
