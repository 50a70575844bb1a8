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
    TAG_WITHDRAWAL_KEY,
    TAG_WITHDRAWAL_LEAF,
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
from fontana.models.tx import OutPoint, Transaction


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
class WithdrawalLeaf(Canonical):
    """What the state tree holds for a sealed withdrawal burn, so its block's root proves it.

    ``id`` is the burn's txid. The vault pays ``amount`` utia in the form ``token`` to
    ``l1_recipient`` once, against a proof of this leaf (docs/bridge.md, "Withdrawals").
    """

    NAME: ClassVar[str] = "withdrawal_leaf"
    id: bytes = field(BYTES32)
    l1_recipient: bytes = field(BYTES20)
    token: bytes = field(BYTES20)
    amount: int = field(AMOUNT)

    @classmethod
    def of(cls, tx: Transaction) -> WithdrawalLeaf | None:
        """The leaf of a withdrawal transaction; None for any other transaction."""
        burn = tx.withdrawal
        if burn is None:
            return None
        return cls(tx.txid, burn.l1_recipient, burn.token, burn.amount)

    @property
    def key(self) -> bytes:
        """The state tree key: a tagged hash of the id, apart from every UTXO key."""
        return withdrawal_key(self.id)

    def leaf_value_hash(self) -> bytes:
        """What the state tree stores under ``key``."""
        return tagged_hash(TAG_WITHDRAWAL_LEAF, self.to_bytes())


def withdrawal_key(burn_txid: bytes) -> bytes:
    """The state tree key of the withdrawal leaf of burn ``burn_txid``."""
    return tagged_hash(TAG_WITHDRAWAL_KEY, burn_txid)


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
