"""The ledger on SQLite and PostgreSQL: rejections, replays, bridge events, blocks, proofs.

Every rejection is checked twice: the typed error and its stable code, and a
snapshot of every ledger table (plus the reported root) equal before and after.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    CAROL,
    CHAIN_ID,
    EXPIRY_MS,
    GENESIS_TIME_MS,
    MALLORY,
    SEQUENCER,
    Clock,
    full_rebuild_root,
    genesis_outpoint,
    genesis_root,
    make_deposit,
    make_genesis,
    make_transfer,
    pay,
    pub,
    reopen_ledger,
    snapshot,
    unspent,
)
from nacl.signing import SigningKey

from fontana.errors import (
    AmountError,
    AmountOverflowError,
    BadSignatureError,
    DepositConflictError,
    EncodingError,
    ExpiredError,
    FeeTooLowError,
    InputSpentError,
    InsufficientFundsError,
    RejectedError,
    UnknownInputError,
    UnknownWithdrawalError,
    ValueMismatchError,
    WrongChainError,
)
from fontana.genesis import genesis_utxos
from fontana.hashing import merkle_root
from fontana.ledger import Ledger
from fontana.ledger.meta import MAX_LEDGER_AMOUNT
from fontana.models import (
    Block,
    FeeCredit,
    OutPoint,
    SignedHeader,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalConfirmation,
    WithdrawalLeaf,
    WithdrawalRequest,
    utxo_key,
)
from fontana.state import PythonSMTProvider

A0, B1 = genesis_outpoint(0), genesis_outpoint(1)
L1_RECIPIENT = b"\x44" * 20


def assert_rejected(ledger: Ledger, tx: Transaction, error: type[RejectedError], code: str) -> None:
    """``tx`` is refused with ``error``/``code`` and not one row changes."""
    before = snapshot(ledger)
    with pytest.raises(error) as caught:
        ledger.apply_transaction(tx)
    assert caught.value.code == code
    assert snapshot(ledger) == before
    assert ledger.transaction_status(tx.txid).state == "unknown"


def seal(ledger: Ledger, signer: SigningKey = SEQUENCER, **limits: int) -> Block:
    return ledger.seal_block(signer, **limits)


# -- payments ----------------------------------------------------------------------


def test_transfer_moves_value_and_is_pending_until_sealed(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), 400), (pub(ALICE), ALLOCATION - 401)], [ALICE])
    result = ledger.apply_transaction(tx)
    assert (result.txid, result.fee, result.already_applied) == (tx.txid, 1, False)
    assert ledger.balance(pub(ALICE)) == ALLOCATION - 401
    assert ledger.balance(pub(BOB)) == ALLOCATION + 400
    assert ledger.transaction_status(tx.txid).state == "pending"
    block = seal(ledger)
    status = ledger.transaction_status(tx.txid)
    assert (status.state, status.seq, status.block_height) == ("sealed", result.seq, 1)
    assert block.entries[0] == tx


def test_resubmitting_an_applied_transaction_changes_nothing(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE])
    first = ledger.apply_transaction(tx)
    before = snapshot(ledger)
    again = ledger.apply_transaction(tx)
    assert again == attrs.evolve(first, already_applied=True)
    assert snapshot(ledger) == before
    seal(ledger)
    sealed = snapshot(ledger)
    assert ledger.apply_transaction(tx).already_applied
    assert snapshot(ledger) == sealed


def test_tampered_transaction_is_bad_signature(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE])
    tampered = attrs.evolve(tx, outputs=(TxOutput(pub(MALLORY), ALLOCATION - 1),))
    assert_rejected(ledger, tampered, BadSignatureError, "bad_signature")


def test_unsigned_transaction_is_bad_signature(ledger: Ledger) -> None:
    unsigned = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [])
    assert_rejected(ledger, unsigned, BadSignatureError, "bad_signature")


def test_missing_owner_signature_is_bad_signature(ledger: Ledger) -> None:
    both = make_transfer([A0, B1], [(pub(CAROL), 2 * ALLOCATION - 1)], [ALICE])
    assert_rejected(ledger, both, BadSignatureError, "bad_signature")
    stranger = make_transfer([A0], [(pub(MALLORY), ALLOCATION - 1)], [MALLORY])
    assert_rejected(ledger, stranger, BadSignatureError, "bad_signature")


def test_extra_signer_is_bad_signature(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE, MALLORY])
    assert_rejected(ledger, tx, BadSignatureError, "bad_signature")


def test_spent_input_is_input_spent(ledger: Ledger) -> None:
    ledger.apply_transaction(make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE]))
    conflict = make_transfer([A0], [(pub(CAROL), ALLOCATION - 1)], [ALICE])
    assert_rejected(ledger, conflict, InputSpentError, "input_spent")
    seal(ledger)
    assert_rejected(ledger, conflict, InputSpentError, "input_spent")


def test_unknown_input(ledger: Ledger) -> None:
    ghost = OutPoint(b"\x99" * 32, 0)
    tx = make_transfer([A0, ghost], [(pub(BOB), ALLOCATION)], [ALICE])
    assert_rejected(ledger, tx, UnknownInputError, "unknown_input")
    past_end = make_transfer([genesis_outpoint(3)], [(pub(BOB), 5)], [ALICE])
    assert_rejected(ledger, past_end, UnknownInputError, "unknown_input")


def test_outputs_above_inputs_is_insufficient_funds(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION)], [ALICE])  # no room for the fee
    assert_rejected(ledger, tx, InsufficientFundsError, "insufficient_funds")


def test_inputs_above_outputs_is_value_mismatch(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), 10)], [ALICE])  # forgot the change output
    assert_rejected(ledger, tx, ValueMismatchError, "value_mismatch")


def test_other_chain_is_wrong_chain(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], chain_id="fontana-other")
    assert_rejected(ledger, tx, WrongChainError, "wrong_chain")


def test_fee_below_minimum_is_fee_too_low(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION)], [ALICE], fee=0)
    assert_rejected(ledger, tx, FeeTooLowError, "fee_too_low")


def test_expired_by_the_wall_clock(ledger: Ledger, clock: Clock) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], expiry_ms=clock() + 5)
    clock.advance(6)
    assert_rejected(ledger, tx, ExpiredError, "expired")


def test_expiry_equal_to_now_is_still_valid(ledger: Ledger, clock: Clock) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], expiry_ms=clock())
    assert not ledger.apply_transaction(tx).already_applied


def test_expired_by_the_block_time(ledger: Ledger, clock: Clock) -> None:
    # The open block's timestamp is the genesis time; a wall clock behind it (NTP step,
    # another host) lets the wall check pass, and the block-time rule must still refuse.
    clock.now_ms = GENESIS_TIME_MS - 10_000
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], expiry_ms=GENESIS_TIME_MS - 1)
    assert_rejected(ledger, tx, ExpiredError, "expired")


def test_expiry_is_checked_against_the_block_that_carries_the_payment(
    ledger: Ledger, clock: Clock
) -> None:
    clock.now_ms = GENESIS_TIME_MS + 50_000
    seal(ledger)  # the next block opens at 50 s
    clock.now_ms = GENESIS_TIME_MS + 10_000
    late = make_transfer(
        [A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], expiry_ms=GENESIS_TIME_MS + 49_999
    )
    assert_rejected(ledger, late, ExpiredError, "expired")
    on_time = attrs.evolve(late, expiry_ms=GENESIS_TIME_MS + 50_000, witnesses=()).sign(
        ALICE, ledger.genesis_hash
    )
    ledger.apply_transaction(on_time)
    block = seal(ledger)
    assert block.header.header.timestamp_ms == GENESIS_TIME_MS + 50_000 <= on_time.expiry_ms


def test_output_sum_beyond_the_ledger_range_is_amount_overflow(ledger: Ledger) -> None:
    huge = make_transfer([A0], [(pub(BOB), 2**63), (pub(BOB), 2**63)], [ALICE])
    assert_rejected(ledger, huge, AmountOverflowError, "amount_overflow")
    fee = make_transfer([A0], [(pub(BOB), 1)], [ALICE], fee=MAX_LEDGER_AMOUNT)
    assert_rejected(ledger, fee, AmountOverflowError, "amount_overflow")


def test_malformed_transactions_never_reach_the_ledger() -> None:
    with pytest.raises(EncodingError) as dup_inputs:
        make_transfer([A0, A0], [(pub(BOB), 5)], [ALICE])
    assert dup_inputs.value.code == "malformed"
    with pytest.raises(EncodingError, match="signs twice"):
        make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE, ALICE])
    with pytest.raises(EncodingError, match="if and only if"):
        Transaction(TxKind.WITHDRAWAL, CHAIN_ID, (A0,), (), 1, EXPIRY_MS)
    with pytest.raises(EncodingError, match="expected 1..64 items"):
        Transaction(TxKind.TRANSFER, CHAIN_ID, (), (), 1, EXPIRY_MS)
    with pytest.raises(AmountError) as zero:
        TxOutput(pub(BOB), 0)
    assert zero.value.code == "bad_amount"
    with pytest.raises(EncodingError):
        Transaction.from_bytes(make_transfer([A0], [(pub(BOB), 5)], [ALICE]).to_bytes() + b"\0")


# -- deposits and withdrawals ------------------------------------------------------------


def test_deposit_is_credited_once_per_l1_event(ledger: Ledger) -> None:
    event = make_deposit(pub(BOB), 777, l1_tx=7, log_index=3)
    first = ledger.process_deposit_event(event)
    assert first.credited and first.utxo.amount == 777 and first.entry_id == event.id
    assert ledger.balance(pub(BOB)) == ALLOCATION + 777
    before = snapshot(ledger)
    again = ledger.process_deposit_event(event)
    assert (again.credited, again.entry_id) == (False, first.entry_id)
    assert snapshot(ledger) == before
    other_log = ledger.process_deposit_event(make_deposit(pub(BOB), 777, l1_tx=7, log_index=4))
    assert other_log.credited
    assert ledger.balance(pub(BOB)) == ALLOCATION + 2 * 777


def test_deposit_is_spendable_and_sealed_with_a_zero_fee(ledger: Ledger) -> None:
    credited = ledger.process_deposit_event(make_deposit(pub(MALLORY), 50))
    ledger.apply_transaction(make_transfer([credited.utxo], [(pub(BOB), 49)], [MALLORY]))
    block = seal(ledger)
    assert [type(e).__name__ for e in block.entries] == ["Deposit", "Transaction", "FeeCredit"]
    assert ledger.balance(pub(SEQUENCER)) == 1


def test_deposit_beyond_the_ledger_range_is_amount_overflow(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(AmountOverflowError):
        ledger.process_deposit_event(make_deposit(pub(BOB), MAX_LEDGER_AMOUNT + 1))
    assert snapshot(ledger) == before


def burn_tx(amount: int = 300, fee: int = 2) -> Transaction:
    burn = WithdrawalRequest(L1_RECIPIENT, amount)
    change = ALLOCATION - amount - fee
    return make_transfer([A0], [(pub(ALICE), change)], [ALICE], fee=fee, burn=burn)


def confirmation(burn_txid: bytes, l1_tx: int = 9) -> WithdrawalConfirmation:
    return WithdrawalConfirmation(burn_txid, l1_tx.to_bytes(32, "big"), 0, 500)


def test_withdrawal_burns_and_is_confirmed_once(ledger: Ledger) -> None:
    tx = burn_tx(amount=300, fee=2)
    ledger.apply_transaction(tx)
    assert ledger.balance(pub(ALICE)) == ALLOCATION - 302
    with ledger.storage.read() as s:
        pending = s.get_withdrawal(tx.txid)
    assert pending is not None
    assert (pending.status, pending.amount, pending.l1_recipient) == ("pending", 300, L1_RECIPIENT)
    assert ledger.process_withdrawal_event(confirmation(tx.txid))
    before = snapshot(ledger)
    assert not ledger.process_withdrawal_event(confirmation(tx.txid))
    assert not ledger.process_withdrawal_event(confirmation(tx.txid, l1_tx=10))
    assert snapshot(ledger) == before
    with ledger.storage.read() as s:
        done = s.get_withdrawal(tx.txid)
    assert done is not None and done.status == "confirmed"
    block = seal(ledger)
    assert [type(e).__name__ for e in block.entries] == [
        "Transaction",
        "WithdrawalConfirmation",
        "FeeCredit",
    ]
    # The burn leaves the rollup: only change and the fee credit remain of A0's value.
    assert sum(u.amount for u in unspent(ledger)) == 3 * ALLOCATION - 300


def test_unknown_withdrawal(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(UnknownWithdrawalError) as caught:
        ledger.process_withdrawal_event(confirmation(b"\x77" * 32))
    assert caught.value.code == "unknown_withdrawal"
    assert snapshot(ledger) == before


def test_withdrawal_with_wrong_burn_sum_is_rejected(ledger: Ledger) -> None:
    burn = WithdrawalRequest(L1_RECIPIENT, 300)
    short = make_transfer([A0], [(pub(ALICE), ALLOCATION - 300)], [ALICE], burn=burn)
    assert_rejected(ledger, short, InsufficientFundsError, "insufficient_funds")
    long = make_transfer([A0], [(pub(ALICE), ALLOCATION - 302)], [ALICE], burn=burn)
    assert_rejected(ledger, long, ValueMismatchError, "value_mismatch")


# -- blocks --------------------------------------------------------------------------


def test_blocks_chain_and_commit_to_their_entries(ledger: Ledger) -> None:
    block0 = ledger.latest_block()
    assert block0.height == 0 and block0.prev_hash == make_genesis().hash
    t1 = ledger.apply_transaction(pay(ledger, ALICE, pub(BOB), 100, fee=3))
    t2 = ledger.apply_transaction(pay(ledger, BOB, pub(CAROL), 50, fee=5))
    b1 = seal(ledger)
    h1 = b1.header.header
    assert (h1.height, h1.prev_hash, h1.chain_id) == (1, block0.hash, CHAIN_ID)
    assert h1.tx_root == b1.compute_tx_root()
    assert h1.entries_hash == b1.compute_entries_hash()
    assert b1.header.verify(ledger.genesis_hash) and h1.proposer == pub(SEQUENCER)
    assert [e.txid for e in b1.entries[:2] if isinstance(e, Transaction)] == [t1.txid, t2.txid]
    assert b1.entries[2] == FeeCredit(1, pub(SEQUENCER), 8)
    assert h1.tx_count == 3 and h1.state_root == ledger.current_state_root()
    stored = ledger.latest_block()
    assert (stored.height, stored.hash, stored.tx_root) == (1, h1.hash, h1.tx_root)
    assert SignedHeader.from_bytes(stored.header) == b1.header
    assert Block.from_bytes(b1.to_bytes()) == b1
    b2 = seal(ledger)
    assert b2.header.header.prev_hash == h1.hash


def test_fees_become_a_fee_credit_to_the_proposer(ledger: Ledger) -> None:
    ledger.apply_transaction(pay(ledger, ALICE, pub(BOB), 100, fee=3))
    ledger.apply_transaction(pay(ledger, CAROL, pub(BOB), 100, fee=4))
    assert ledger.balance(pub(MALLORY)) == 0
    block = seal(ledger, MALLORY)  # whoever seals is paid
    credit = block.entries[-1]
    assert credit == FeeCredit(1, pub(MALLORY), 7)
    assert [(u.amount, u.txid) for u in ledger.utxos(pub(MALLORY))] == [(7, credit.id)]
    assert sum(u.amount for u in unspent(ledger)) == 3 * ALLOCATION


def test_empty_block(ledger: Ledger) -> None:
    root = ledger.current_state_root()
    block = seal(ledger)
    header = block.header.header
    assert block.entries == () and header.tx_count == 0
    assert header.tx_root == merkle_root([]) == block.compute_tx_root()
    assert header.state_root == root and block.header.verify(ledger.genesis_hash)


def test_state_root_moves_only_when_a_block_is_sealed(ledger: Ledger) -> None:
    assert ledger.current_state_root() == genesis_root()
    ledger.apply_transaction(pay(ledger, ALICE, pub(BOB), 100))
    ledger.process_deposit_event(make_deposit(pub(CAROL), 9))
    assert ledger.current_state_root() == genesis_root()  # the last sealed block's root
    block = seal(ledger)
    assert ledger.current_state_root() == block.header.header.state_root
    assert block.header.header.state_root == full_rebuild_root(ledger)


def test_max_entries_leaves_the_rest_for_a_block_with_the_same_timestamp(
    ledger: Ledger, clock: Clock
) -> None:
    txs = [pay(ledger, k, pub(MALLORY), 10) for k in (ALICE, BOB, CAROL)]
    for tx in txs:
        ledger.apply_transaction(tx)
    clock.advance(30_000)
    first = seal(ledger, max_entries=2)
    assert [e for e in first.entries if isinstance(e, Transaction)] == txs[:2]
    assert ledger.transaction_status(txs[2].txid).state == "pending"
    assert first.header.header.state_root != full_rebuild_root(ledger)  # txs[2] waits
    clock.advance(30_000)
    second = seal(ledger, max_entries=2)
    assert second.entries == (txs[2], FeeCredit(2, pub(SEQUENCER), 1))
    assert second.header.header.timestamp_ms == first.header.header.timestamp_ms
    assert second.header.header.state_root == full_rebuild_root(ledger)
    third = seal(ledger)  # no leftovers: the next window opened at the wall clock
    assert third.header.header.timestamp_ms == clock()


def test_max_entry_bytes_cuts_blocks_by_size(ledger: Ledger) -> None:
    txs = [pay(ledger, k, pub(MALLORY), 10) for k in (ALICE, BOB)]
    for tx in txs:
        ledger.apply_transaction(tx)
    size = len(txs[0].to_bytes()) + 5
    first = seal(ledger, max_entry_bytes=size + 128)
    assert [e for e in first.entries if isinstance(e, Transaction)] == txs[:1]
    second = seal(ledger)
    assert second.entries[0] == txs[1]


# -- proofs ----------------------------------------------------------------------------


def assert_proves(ledger: Ledger, outpoint: OutPoint, height: int, present: bool) -> None:
    root, value, proof = ledger.prove_utxo(outpoint, height)
    with ledger.storage.read() as s:
        block = s.get_block(height)
    assert block is not None and root == block.state_root
    assert (value is not None) == present
    verifier = PythonSMTProvider()
    assert verifier.verify(root, utxo_key(outpoint), value, proof)
    # The same proof must not also vouch for the opposite answer.
    other = None if present else b"\x01" * 32
    assert not verifier.verify(root, utxo_key(outpoint), other, proof)


def test_proofs_of_inclusion_and_non_inclusion_over_time(ledger: Ledger) -> None:
    tx = make_transfer([A0], [(pub(BOB), 5), (pub(ALICE), ALLOCATION - 6)], [ALICE])
    ledger.apply_transaction(tx)
    b1 = seal(ledger).header.header
    created = OutPoint(tx.txid, 0)
    assert_proves(ledger, A0, 0, present=True)
    assert_proves(ledger, A0, 1, present=False)  # spent in block 1
    assert_proves(ledger, created, 0, present=False)  # before creation
    assert_proves(ledger, created, 1, present=True)
    assert ledger.prove_utxo(created, 1)[0] == b1.state_root
    spend = make_transfer([created], [(pub(CAROL), 4)], [BOB])
    ledger.apply_transaction(spend)
    assert_proves(ledger, created, 1, present=True)  # a pending spend is not in block 1
    seal(ledger)
    assert_proves(ledger, created, 1, present=True)
    assert_proves(ledger, created, 2, present=False)  # after spending
    with pytest.raises(KeyError):
        ledger.prove_utxo(created, 3)


def test_withdrawal_input_is_provable_before_the_burn(ledger: Ledger) -> None:
    deposit = ledger.process_deposit_event(make_deposit(pub(ALICE), 1_000))
    before_burn = seal(ledger).header.header.height
    burn = WithdrawalRequest(L1_RECIPIENT, 999)
    tx = make_transfer([deposit.utxo], [], [ALICE], fee=1, burn=burn)
    ledger.apply_transaction(tx)
    seal(ledger)
    root, value, proof = ledger.prove_utxo(deposit.utxo.outpoint, before_burn)
    assert value == deposit.utxo.leaf_value_hash()
    assert PythonSMTProvider().verify(root, utxo_key(deposit.utxo.outpoint), value, proof)
    assert_proves(ledger, deposit.utxo.outpoint, before_burn - 1, present=False)
    assert_proves(ledger, deposit.utxo.outpoint, before_burn + 1, present=False)


def test_a_sealed_withdrawal_is_proven_by_its_block_root_and_every_later_one(
    ledger: Ledger,
) -> None:
    token = b"\x7e" * 20
    burn = WithdrawalRequest(L1_RECIPIENT, 300, token)
    tx = make_transfer([A0], [(pub(ALICE), ALLOCATION - 302)], [ALICE], fee=2, burn=burn)
    ledger.apply_transaction(tx)
    with pytest.raises(UnknownWithdrawalError, match="not sealed by block 0"):
        ledger.prove_withdrawal(tx.txid, 0)  # pending: no root holds it yet
    b1 = seal(ledger).header.header
    verifier = PythonSMTProvider()
    expected = WithdrawalLeaf(tx.txid, L1_RECIPIENT, token, 300)
    leaf, proof = ledger.prove_withdrawal(tx.txid, 1)
    assert leaf == expected
    assert verifier.verify(b1.state_root, leaf.key, leaf.leaf_value_hash(), proof)
    assert not verifier.verify(b1.state_root, leaf.key, None, proof)
    with pytest.raises(UnknownWithdrawalError, match="sealed in 1"):
        ledger.prove_withdrawal(tx.txid, 0)
    # Confirming the withdrawal does not remove the leaf: later roots prove it too.
    ledger.process_withdrawal_event(confirmation(tx.txid))
    b2 = seal(ledger).header.header
    b3 = seal(ledger).header.header
    for header in (b2, b3):
        leaf, proof = ledger.prove_withdrawal(tx.txid, header.height)
        assert leaf == expected
        assert verifier.verify(header.state_root, leaf.key, leaf.leaf_value_hash(), proof)
    assert b1.state_root == ledger.prove_utxo(A0, 1)[0]
    assert b3.state_root == full_rebuild_root(ledger)
    with pytest.raises(KeyError):
        ledger.prove_withdrawal(tx.txid, 4)


def test_only_withdrawal_burns_have_leaves(ledger: Ledger) -> None:
    transfer = pay(ledger, ALICE, pub(BOB), 10)
    ledger.apply_transaction(transfer)
    deposit = ledger.process_deposit_event(make_deposit(pub(CAROL), 5))
    seal(ledger)
    for txid in (transfer.txid, deposit.entry_id, b"\x77" * 32):
        with pytest.raises(UnknownWithdrawalError, match="no withdrawal burn"):
            ledger.prove_withdrawal(txid, 1)


# -- restart ---------------------------------------------------------------------------


def test_restart_with_an_empty_node_cache_keeps_the_tree(
    ledger: Ledger, ledger_url: str, tmp_path: Path
) -> None:
    ledger.apply_transaction(pay(ledger, ALICE, pub(BOB), 100))
    ledger.process_deposit_event(make_deposit(pub(CAROL), 55))
    b1 = seal(ledger).header.header
    ledger.apply_transaction(pay(ledger, BOB, pub(CAROL), 30))  # pending across the restart
    reopened = reopen_ledger(ledger, ledger_url, tmp_path / "home")
    try:
        assert reopened.genesis == make_genesis()
        assert reopened.current_state_root() == b1.state_root
        reopened.apply_transaction(pay(reopened, CAROL, pub(ALICE), 7))
        b2 = seal(reopened).header.header
        assert b2.prev_hash == b1.hash and len(seal(reopened).entries) == 0
        assert reopened.current_state_root() == b2.state_root == full_rebuild_root(reopened)
        assert_proves(reopened, genesis_outpoint(0), 0, present=True)
        assert_proves(reopened, genesis_outpoint(0), 1, present=False)
        assert reopened.balance(pub(SEQUENCER)) == 3
    finally:
        reopened.storage.close()


def test_genesis_utxos_match_block_zero(ledger: Ledger) -> None:
    assert sorted(unspent(ledger), key=lambda u: u.index) == genesis_utxos(make_genesis())
    assert ledger.latest_block().state_root == genesis_root()
    assert ledger.min_fee == 1 and ledger.chain_id == CHAIN_ID


# -- found by these tests, fixed ------------------------------------------------------


def test_deposits_never_push_the_supply_beyond_the_ledger_range(ledger: Ledger) -> None:
    ledger.process_deposit_event(make_deposit(pub(CAROL), MAX_LEDGER_AMOUNT - 3 * ALLOCATION))
    before = snapshot(ledger)
    with pytest.raises(AmountOverflowError):
        ledger.process_deposit_event(make_deposit(pub(CAROL), 5, l1_tx=2))
    assert snapshot(ledger) == before
    assert ledger.balance(pub(CAROL)) == MAX_LEDGER_AMOUNT - 2 * ALLOCATION


def test_resubmission_after_expiry_reports_already_applied(ledger: Ledger, clock: Clock) -> None:
    tx = make_transfer([A0], [(pub(BOB), ALLOCATION - 1)], [ALICE], expiry_ms=clock() + 5)
    first = ledger.apply_transaction(tx)
    clock.advance(10)
    assert ledger.apply_transaction(tx) == attrs.evolve(first, already_applied=True)


def test_same_l1_event_with_other_contents_is_a_conflict(ledger: Ledger) -> None:
    ledger.process_deposit_event(make_deposit(pub(BOB), 777, l1_tx=7, log_index=3))
    before = snapshot(ledger)
    with pytest.raises(DepositConflictError) as conflict:
        ledger.process_deposit_event(make_deposit(pub(CAROL), 777, l1_tx=7, log_index=3))
    assert conflict.value.code == "deposit_conflict"
    assert snapshot(ledger) == before
