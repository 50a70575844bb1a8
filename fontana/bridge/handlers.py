"""The two handlers every vault event goes through, whoever delivers it.

The watcher delivers an event again after a crash or a restart, the
withdrawal processor confirms a release the watcher may confirm too, and an
operator may run ``fontana trigger-deposit`` twice: so both handlers are
idempotent, keyed by the L1 log ``(l1_tx_hash, log_index)`` (deposits) and the
burn (confirmations), and say in their result whether this call changed the
ledger. A refusal is a typed :class:`fontana.errors.RejectedError` and changes
nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs

from fontana.models import UTXO, Deposit, WithdrawalConfirmation

if TYPE_CHECKING:
    from fontana.ledger import Ledger

log = logging.getLogger(__name__)


@attrs.frozen
class DepositHandled:
    """What became of one deposit event."""

    deposit: Deposit
    #: The deposit's entry id, which is also the txid of the UTXO it mints.
    entry_id: bytes
    utxo: UTXO
    #: ``False``: this L1 log was credited before, and nothing changed now.
    credited: bool


@attrs.frozen
class WithdrawalHandled:
    """What became of one release confirmation."""

    confirmation: WithdrawalConfirmation
    entry_id: bytes
    #: ``False``: the burn was confirmed before, and nothing changed now.
    confirmed: bool


def handle_deposit_received(ledger: Ledger, deposit: Deposit) -> DepositHandled:
    """Credit an L1 deposit to its rollup address, once per ``(l1_tx_hash, log_index)``.

    Delivering the same event again returns ``credited=False``. Refusals, each
    crediting nothing: ``deposit_conflict`` (that log was credited with other
    contents: a reorg deeper than the confirmations, or a faulty watcher),
    ``amount_overflow`` (the supply would pass 2^63 - 1 utia), ``out_of_range``
    (an L1 block from 2^63 on).
    """
    if not isinstance(deposit, Deposit):
        raise TypeError(f"expected a Deposit, got {type(deposit).__name__}")
    result = ledger.process_deposit_event(deposit)
    where = f"{deposit.l1_tx_hash.hex()}:{deposit.log_index}"
    if result.credited:
        log.info(
            "deposit %s credited: %d utia in L1 block %d", where, deposit.amount, deposit.l1_block
        )
    else:
        log.info("deposit %s was credited before; nothing changed", where)
    return DepositHandled(deposit, result.entry_id, result.utxo, result.credited)


def handle_withdrawal_confirmed(
    ledger: Ledger, confirmation: WithdrawalConfirmation
) -> WithdrawalHandled:
    """Mark the burn ``confirmation.burn_txid`` released on L1, once.

    A second confirmation of the same burn (the watcher's and the withdrawal
    processor's, or a repeat) returns ``confirmed=False``. A burn this ledger
    never saw is ``unknown_withdrawal`` and changes nothing.
    """
    if not isinstance(confirmation, WithdrawalConfirmation):
        raise TypeError(f"expected a WithdrawalConfirmation, got {type(confirmation).__name__}")
    confirmed = ledger.process_withdrawal_event(confirmation)
    burn = confirmation.burn_txid.hex()
    if confirmed:
        log.info("withdrawal %s confirmed by L1 block %d", burn, confirmation.l1_block)
    else:
        log.info("withdrawal %s was confirmed before; nothing changed", burn)
    return WithdrawalHandled(confirmation, confirmation.id, confirmed)
