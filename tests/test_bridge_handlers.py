"""The bridge handlers: the one entry point of vault events, idempotent, typed, refusing in full."""

from __future__ import annotations

import attrs
import pytest
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    genesis_outpoint,
    make_deposit,
    make_transfer,
    pub,
    snapshot,
)

from fontana.bridge import (
    DepositHandled,
    WithdrawalHandled,
    handle_deposit_received,
    handle_withdrawal_confirmed,
)
from fontana.errors import AmountOverflowError, DepositConflictError, UnknownWithdrawalError
from fontana.ledger import Ledger
from fontana.ledger.meta import MAX_LEDGER_AMOUNT
from fontana.models import UTXO, WithdrawalConfirmation, WithdrawalRequest


def test_a_deposit_is_credited_once_and_the_result_says_which_call_did_it(
    ledger: Ledger,
) -> None:
    deposit = make_deposit(pub(BOB), 700, l1_tx=3, log_index=1)
    first = handle_deposit_received(ledger, deposit)
    assert first == DepositHandled(
        deposit, deposit.id, UTXO(pub(BOB), 700, deposit.id, 0), credited=True
    )
    before = snapshot(ledger)
    assert handle_deposit_received(ledger, deposit) == attrs.evolve(first, credited=False)
    assert snapshot(ledger) == before
    assert ledger.balance(pub(BOB)) == ALLOCATION + 700


@pytest.mark.parametrize(
    "change",
    [{"amount": 701}, {"l1_block": 999}, {"recipient": pub(ALICE)}, {"l1_chain_id": 1}],
)
def test_the_same_l1_log_with_other_contents_is_a_conflict_that_changes_nothing(
    ledger: Ledger, change: dict[str, object]
) -> None:
    deposit = make_deposit(pub(BOB), 700, l1_tx=3, log_index=1)
    handle_deposit_received(ledger, deposit)
    before = snapshot(ledger)
    with pytest.raises(DepositConflictError):
        handle_deposit_received(ledger, attrs.evolve(deposit, **change))
    assert snapshot(ledger) == before


def test_a_deposit_past_the_supply_bound_is_refused_whole(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(AmountOverflowError):
        handle_deposit_received(ledger, make_deposit(pub(BOB), MAX_LEDGER_AMOUNT))
    assert snapshot(ledger) == before


def test_a_release_confirms_its_burn_once(ledger: Ledger) -> None:
    burn = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), ALLOCATION - 101)],
        [ALICE],
        fee=1,
        burn=WithdrawalRequest(l1_recipient=b"\x99" * 20, amount=100),
        genesis_hash=ledger.genesis_hash,
    )
    ledger.apply_transaction(burn)
    confirmation = WithdrawalConfirmation(burn.txid, b"\x05" * 32, 2, 40)
    assert handle_withdrawal_confirmed(ledger, confirmation) == WithdrawalHandled(
        confirmation, confirmation.id, confirmed=True
    )
    before = snapshot(ledger)
    assert not handle_withdrawal_confirmed(ledger, confirmation).confirmed
    other_tx = attrs.evolve(confirmation, l1_tx_hash=b"\x06" * 32)
    assert not handle_withdrawal_confirmed(ledger, other_tx).confirmed
    assert snapshot(ledger) == before


def test_a_release_of_a_burn_this_ledger_never_saw_is_refused(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(UnknownWithdrawalError):
        handle_withdrawal_confirmed(
            ledger, WithdrawalConfirmation(b"\x07" * 32, b"\x05" * 32, 0, 1)
        )
    assert snapshot(ledger) == before


def test_the_handlers_take_only_their_own_events(ledger: Ledger) -> None:
    deposit = make_deposit(pub(BOB), 700)
    with pytest.raises(TypeError, match="expected a Deposit"):
        handle_deposit_received(ledger, deposit.to_bytes())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a WithdrawalConfirmation"):
        handle_withdrawal_confirmed(ledger, deposit)  # type: ignore[arg-type]
