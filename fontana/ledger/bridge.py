"""Bridge events: L1 deposits credited once, withdrawal burns confirmed once."""

from __future__ import annotations

import attrs

from fontana.errors import (
    AmountOverflowError,
    DepositConflictError,
    UnknownWithdrawalError,
)
from fontana.ledger.base import LedgerBase
from fontana.ledger.changes import created_utxos
from fontana.ledger.meta import MAX_LEDGER_AMOUNT
from fontana.ledger.records import utxo_record
from fontana.models import UTXO, Deposit, EntryType, WithdrawalConfirmation
from fontana.storage.base import DepositRecord, EntryRecord, StorageSession


@attrs.frozen
class DepositResult:
    entry_id: bytes
    utxo: UTXO
    credited: bool  # False: this L1 event was credited before


class Bridge(LedgerBase):
    def _credit_deposit(self, s: StorageSession, deposit: Deposit, at_ms: int) -> bool:
        if deposit.amount > MAX_LEDGER_AMOUNT:  # before storage sees a value it cannot hold
            raise AmountOverflowError(f"deposit of {deposit.amount} utia is too large")
        did = deposit.id
        fresh = s.insert_deposit(
            DepositRecord(
                deposit.l1_tx_hash,
                deposit.log_index,
                did,
                deposit.recipient,
                deposit.amount,
                deposit.l1_block,
            )
        )
        if not fresh:
            recorded = s.get_deposit(deposit.l1_tx_hash, deposit.log_index)
            if recorded is not None and recorded.entry_id != did:
                raise DepositConflictError(
                    f"L1 event {deposit.l1_tx_hash.hex()}:{deposit.log_index} was credited as "
                    f"deposit {recorded.entry_id.hex()} and is now reported with other contents "
                    "(reorg or a faulty watcher?); nothing was credited"
                )
        if fresh:
            self._change_supply(s, deposit.amount)
            seq = s.insert_entry(EntryRecord(did, EntryType.DEPOSIT, deposit.to_bytes(), 0, at_ms))
            s.insert_utxos([utxo_record(u, seq) for u in created_utxos(deposit)])
        return fresh

    def process_deposit_event(self, deposit: Deposit) -> DepositResult:
        """Credit an L1 deposit once, whatever the number of deliveries."""
        with self.storage.write() as s:
            self._epoch(s, exclusive=False)
            fresh = self._credit_deposit(s, deposit, self.clock())
        return DepositResult(deposit.id, created_utxos(deposit)[0], credited=fresh)

    def _confirm_withdrawal(
        self, s: StorageSession, confirmation: WithdrawalConfirmation, at_ms: int
    ) -> bool:
        if s.get_withdrawal(confirmation.burn_txid) is None:
            raise UnknownWithdrawalError(
                f"no withdrawal burn {confirmation.burn_txid.hex()} on this ledger"
            )
        cid = confirmation.id
        if not s.confirm_withdrawal(confirmation.burn_txid, confirmation.l1_tx_hash, cid):
            return False
        s.insert_entry(
            EntryRecord(cid, EntryType.WITHDRAWAL_CONFIRMATION, confirmation.to_bytes(), 0, at_ms)
        )
        return True

    def process_withdrawal_event(self, confirmation: WithdrawalConfirmation) -> bool:
        """Mark a burn released on L1; ``False`` if it already was."""
        with self.storage.write() as s:
            self._epoch(s, exclusive=False)
            return self._confirm_withdrawal(s, confirmation, self.clock())
