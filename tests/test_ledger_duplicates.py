"""The same entry twice in one batch or one block is judged once, never applied or paid twice.

Group commit and replay judge runs of payments together; a second copy of a
payment in the same run must be refused (``duplicate_in_batch``), not handed
the first copy's result, and a block repeating any entry (payment, deposit,
withdrawal confirmation, fee credit) must fail replay as
``recovery_mismatch`` naming the entry, with nothing written and no fee
counted twice.
"""

from __future__ import annotations

import pytest
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    CAROL,
    SEQUENCER,
    forge_block,
    genesis_outpoint,
    make_deposit,
    make_transfer,
    pay,
    pub,
    rebuild_root,
    snapshot,
    unspent,
)

from fontana.errors import DuplicateInBatchError, InsufficientFundsError, RecoveryError
from fontana.ledger import ApplyResult, Ledger
from fontana.ledger.changes import created_utxos
from fontana.models import (
    Entry,
    FeeCredit,
    Transaction,
    WithdrawalConfirmation,
    WithdrawalLeaf,
    WithdrawalRequest,
    entry_id,
)

SEQ = pub(SEQUENCER)


def test_a_payment_twice_in_one_batch_is_applied_once(ledger: Ledger) -> None:
    tx = pay(ledger, ALICE, pub(BOB), 10, fee=3)
    first, second = ledger.apply_transactions([tx, tx])
    assert isinstance(first, ApplyResult) and not first.already_applied
    assert isinstance(second, DuplicateInBatchError)
    assert second.code == "duplicate_in_batch"
    assert "position 0" in second.message
    block = ledger.seal_block(SEQUENCER)
    assert block.entries == (tx, FeeCredit(1, SEQ, 3))  # the fee counted once
    assert ledger.balance(pub(BOB)) == ALLOCATION + 10
    assert ledger.balance(pub(ALICE)) == ALLOCATION - 13


def test_each_later_copy_is_refused_and_the_others_are_judged_alone(ledger: Ledger) -> None:
    a = pay(ledger, ALICE, pub(CAROL), 10)
    b = pay(ledger, BOB, pub(CAROL), 20)
    too_much = make_transfer([genesis_outpoint(2)], [(pub(ALICE), 2 * ALLOCATION)], [CAROL])
    results = ledger.apply_transactions([a, b, a, too_much, b, a])
    assert [type(r) for r in results] == [
        ApplyResult,
        ApplyResult,
        DuplicateInBatchError,
        InsufficientFundsError,
        DuplicateInBatchError,
        DuplicateInBatchError,
    ]
    assert "position 1" in results[4].message  # type: ignore[union-attr]
    fees = ledger.seal_block(SEQUENCER).entries[-1]
    assert fees == FeeCredit(1, SEQ, a.fee + b.fee)


def test_a_copy_in_a_later_batch_is_already_applied(ledger: Ledger) -> None:
    tx = pay(ledger, ALICE, pub(BOB), 10)
    ledger.apply_transactions([tx])
    (again,) = ledger.apply_transactions([tx])
    assert isinstance(again, ApplyResult) and again.already_applied


# -- replay -----------------------------------------------------------------------------


def _burn(fee: int = 1) -> Transaction:
    return make_transfer(
        [genesis_outpoint(1)],
        [(pub(BOB), ALLOCATION - 100 - fee)],
        [BOB],
        fee=fee,
        burn=WithdrawalRequest(b"\x44" * 20, 100),
    )


def _cases() -> dict[str, tuple[list[Entry], int, str]]:
    """Name -> (block entries, index of the entry replay must name, what it must say)."""
    tx = make_transfer(
        [genesis_outpoint(0)], [(pub(CAROL), 10), (pub(ALICE), ALLOCATION - 12)], [ALICE], fee=2
    )
    dep = make_deposit(pub(CAROL), 500)
    burn = _burn()
    conf = WithdrawalConfirmation(burn.txid, b"\x55" * 32, 0, 7)
    return {
        "payment twice, fees credited twice": (
            [tx, tx, FeeCredit(1, SEQ, 4)],
            1,
            "duplicate_in_batch",
        ),
        "payment twice, fees credited once": ([tx, tx, FeeCredit(1, SEQ, 2)], 1, "duplicate"),
        "payment twice around a deposit": (
            [tx, dep, tx, FeeCredit(1, SEQ, 4)],
            2,
            "appears twice",
        ),
        "deposit twice": ([dep, dep], 1, "credited before"),
        "withdrawal confirmed twice": (
            [burn, conf, conf, FeeCredit(1, SEQ, 1)],
            2,
            "confirmed before",
        ),
        "fee credit before an entry": ([tx, FeeCredit(1, SEQ, 2), dep], 1, "last entry"),
        "fee credit twice": ([tx, FeeCredit(1, SEQ, 2), FeeCredit(1, SEQ, 2)], 1, "last entry"),
        "fee credit without fees": ([dep, FeeCredit(1, SEQ, 1)], 1, "0 utia of fees"),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_a_block_repeating_an_entry_fails_replay_naming_it(ledger: Ledger, case: str) -> None:
    entries, index, problem = _cases()[case]
    block = forge_block(ledger, entries)
    before = snapshot(ledger)
    with pytest.raises(RecoveryError) as caught:
        ledger.replay_block(block)
    assert caught.value.code == "recovery_mismatch"
    message = caught.value.message
    assert message.startswith(f"block 1, entry {index} ({entry_id(entries[index]).hex()})")
    assert problem in message
    assert snapshot(ledger) == before


def test_a_block_with_fees_and_no_fee_credit_fails_replay(ledger: Ledger) -> None:
    tx = pay(ledger, ALICE, pub(BOB), 10)
    before = snapshot(ledger)
    with pytest.raises(RecoveryError, match="fees were not credited"):
        ledger.replay_block(forge_block(ledger, [tx]))
    assert snapshot(ledger) == before


def test_a_block_with_each_entry_once_replays(ledger: Ledger) -> None:
    """The forged blocks above differ from a valid one only in what each case names."""
    burn = _burn(fee=3)
    dep = make_deposit(pub(CAROL), 500)
    conf = WithdrawalConfirmation(burn.txid, b"\x55" * 32, 0, 7)
    entries: list[Entry] = [burn, dep, conf, FeeCredit(1, SEQ, 3)]
    utxos = [u for u in unspent(ledger) if u.outpoint != genesis_outpoint(1)]
    utxos += [u for e in entries for u in created_utxos(e)]
    leaves = [WithdrawalLeaf.of(burn)]
    ledger.replay_block(forge_block(ledger, entries, state_root=rebuild_root(utxos, leaves)))
    assert ledger.latest_block().height == 1
    assert ledger.balance(pub(SEQUENCER)) == 3
    assert ledger.supply() == 3 * ALLOCATION + 500 - 100
