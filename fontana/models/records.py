"""Unspent outputs and the entries the sequencer (not a user) adds: L1 events, fee credits.

Each of these has an id that is a tagged hash of its canonical bytes, so the
same L1 event always maps to the same id and a replay is recognised, not re-minted.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from fontana.hashing import (
    TAG_DEPOSIT,
    TAG_FEE,
    TAG_UTXO,
    TAG_UTXO_KEY,
    TAG_WITHDRAWAL,
    tagged_hash,
)
from fontana.models.codec import (
    ADDRESS,
    AMOUNT,
    BYTES20,
    BYTES32,
    U16,
    U32,
    U64,
    Canonical,
    canonical,
    field,
)
from fontana.models.tx import OutPoint


def utxo_key(outpoint: OutPoint) -> bytes:
    """The state tree key of an output: hashed so keys spread evenly over the tree."""
    return tagged_hash(TAG_UTXO_KEY, outpoint.to_bytes())


@canonical
@attrs.frozen
class UTXO(Canonical):
    NAME: ClassVar[str] = "utxo"
    owner: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)
    txid: bytes = field(BYTES32)
    index: int = field(U16)

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(self.txid, self.index)

    def leaf_value_hash(self) -> bytes:
        """What the state tree stores under ``utxo_key(outpoint)``."""
        return tagged_hash(TAG_UTXO, self.to_bytes())


@canonical
@attrs.frozen
class Deposit(Canonical):
    """An L1 vault deposit event; it mints ``UTXO(recipient, amount, id, 0)``."""

    NAME: ClassVar[str] = "deposit"
    l1_chain_id: int = field(U64)
    vault: bytes = field(BYTES20)
    l1_tx_hash: bytes = field(BYTES32)
    log_index: int = field(U32)
    l1_block: int = field(U64)
    depositor: bytes = field(BYTES20)
    recipient: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_DEPOSIT, self.to_bytes())


@canonical
@attrs.frozen
class WithdrawalConfirmation(Canonical):
    """The L1 event that paid out the burn of transaction ``burn_txid``."""

    NAME: ClassVar[str] = "withdrawal_confirmation"
    burn_txid: bytes = field(BYTES32)
    l1_tx_hash: bytes = field(BYTES32)
    log_index: int = field(U32)
    l1_block: int = field(U64)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_WITHDRAWAL, self.to_bytes())


@canonical
@attrs.frozen
class FeeCredit(Canonical):
    """A block's fees paid to its proposer; it mints ``UTXO(recipient, amount, id, 0)``."""

    NAME: ClassVar[str] = "fee_credit"
    height: int = field(U64)
    recipient: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_FEE, self.to_bytes())
