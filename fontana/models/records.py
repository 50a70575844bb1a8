"""Unspent outputs and the entries the sequencer (not a user) adds: L1 events, fee credits.

Each of these has an id that is a tagged hash of its canonical bytes, so the
same L1 event always maps to the same id and a replay is recognised, not re-minted.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from fontana.address import encode_address
from fontana.encoding import Reader, Writer
from fontana.hashing import (
    TAG_DEPOSIT,
    TAG_FEE,
    TAG_UTXO,
    TAG_UTXO_KEY,
    TAG_WITHDRAWAL,
    tagged_hash,
)
from fontana.models._base import (
    Canonical,
    fixed_bytes,
    json_address,
    json_amount,
    json_fields,
    json_hex,
    json_int,
    json_u64,
    positive_amount,
    uint,
)
from fontana.models.tx import OutPoint


def utxo_key(outpoint: OutPoint) -> bytes:
    """The state tree key of an output: hashed so keys spread evenly over the tree."""
    return tagged_hash(TAG_UTXO_KEY, outpoint.to_bytes())


@attrs.frozen
class UTXO(Canonical):
    NAME: ClassVar[str] = "utxo"
    owner: bytes = attrs.field(validator=fixed_bytes(32))
    amount: int = attrs.field(validator=positive_amount)
    txid: bytes = attrs.field(validator=fixed_bytes(32))
    index: int = attrs.field(validator=uint(16))

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(self.txid, self.index)

    def leaf_value_hash(self) -> bytes:
        """What the state tree stores under ``utxo_key(outpoint)``."""
        return tagged_hash(TAG_UTXO, self.to_bytes())

    def to_bytes(self) -> bytes:
        # Fixed-width fields, validated on construction: the same bytes as
        # ``write`` without the Writer's per-field checks (every block hashes
        # one of these per created output).
        return (
            self.owner + self.amount.to_bytes(8, "big") + self.txid + self.index.to_bytes(2, "big")
        )

    def write(self, w: Writer) -> None:
        w.fixed(self.owner, 32, "owner")
        w.u64(self.amount, "amount")
        w.fixed(self.txid, 32, "txid")
        w.u16(self.index, "index")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.fixed(32, "owner"), r.u64("amount"), r.fixed(32, "txid"), r.u16("index"))

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": encode_address(self.owner),
            "amount": str(self.amount),
            "txid": self.txid.hex(),
            "index": self.index,
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "utxo") -> Self:
        d = json_fields(d, what, ("owner", "amount", "txid", "index"))
        return cls(
            json_address(d["owner"], f"{what}.owner"),
            json_amount(d["amount"], f"{what}.amount"),
            json_hex(d["txid"], f"{what}.txid", 32),
            json_int(d["index"], 16, f"{what}.index"),
        )


_DEPOSIT_KEYS = (
    "l1_chain_id",
    "vault",
    "l1_tx_hash",
    "log_index",
    "l1_block",
    "depositor",
    "recipient",
    "amount",
)


@attrs.frozen
class Deposit(Canonical):
    """An L1 vault deposit event; it mints ``UTXO(recipient, amount, id, 0)``."""

    NAME: ClassVar[str] = "deposit"
    l1_chain_id: int = attrs.field(validator=uint(64))
    vault: bytes = attrs.field(validator=fixed_bytes(20))
    l1_tx_hash: bytes = attrs.field(validator=fixed_bytes(32))
    log_index: int = attrs.field(validator=uint(32))
    l1_block: int = attrs.field(validator=uint(64))
    depositor: bytes = attrs.field(validator=fixed_bytes(20))
    recipient: bytes = attrs.field(validator=fixed_bytes(32))
    amount: int = attrs.field(validator=positive_amount)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_DEPOSIT, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.u64(self.l1_chain_id, "l1_chain_id")
        w.fixed(self.vault, 20, "vault")
        w.fixed(self.l1_tx_hash, 32, "l1_tx_hash")
        w.u32(self.log_index, "log_index")
        w.u64(self.l1_block, "l1_block")
        w.fixed(self.depositor, 20, "depositor")
        w.fixed(self.recipient, 32, "recipient")
        w.u64(self.amount, "amount")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.u64("l1_chain_id"),
            r.fixed(20, "vault"),
            r.fixed(32, "l1_tx_hash"),
            r.u32("log_index"),
            r.u64("l1_block"),
            r.fixed(20, "depositor"),
            r.fixed(32, "recipient"),
            r.u64("amount"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "l1_chain_id": str(self.l1_chain_id),
            "vault": self.vault.hex(),
            "l1_tx_hash": self.l1_tx_hash.hex(),
            "log_index": self.log_index,
            "l1_block": str(self.l1_block),
            "depositor": self.depositor.hex(),
            "recipient": encode_address(self.recipient),
            "amount": str(self.amount),
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "deposit") -> Self:
        d = json_fields(d, what, _DEPOSIT_KEYS)
        return cls(
            json_u64(d["l1_chain_id"], f"{what}.l1_chain_id"),
            json_hex(d["vault"], f"{what}.vault", 20),
            json_hex(d["l1_tx_hash"], f"{what}.l1_tx_hash", 32),
            json_int(d["log_index"], 32, f"{what}.log_index"),
            json_u64(d["l1_block"], f"{what}.l1_block"),
            json_hex(d["depositor"], f"{what}.depositor", 20),
            json_address(d["recipient"], f"{what}.recipient"),
            json_amount(d["amount"], f"{what}.amount"),
        )


@attrs.frozen
class WithdrawalConfirmation(Canonical):
    """The L1 event that paid out the burn of transaction ``burn_txid``."""

    NAME: ClassVar[str] = "withdrawal_confirmation"
    burn_txid: bytes = attrs.field(validator=fixed_bytes(32))
    l1_tx_hash: bytes = attrs.field(validator=fixed_bytes(32))
    log_index: int = attrs.field(validator=uint(32))
    l1_block: int = attrs.field(validator=uint(64))

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_WITHDRAWAL, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.fixed(self.burn_txid, 32, "burn_txid")
        w.fixed(self.l1_tx_hash, 32, "l1_tx_hash")
        w.u32(self.log_index, "log_index")
        w.u64(self.l1_block, "l1_block")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.fixed(32, "burn_txid"),
            r.fixed(32, "l1_tx_hash"),
            r.u32("log_index"),
            r.u64("l1_block"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "burn_txid": self.burn_txid.hex(),
            "l1_tx_hash": self.l1_tx_hash.hex(),
            "log_index": self.log_index,
            "l1_block": str(self.l1_block),
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "withdrawal_confirmation") -> Self:
        d = json_fields(d, what, ("burn_txid", "l1_tx_hash", "log_index", "l1_block"))
        return cls(
            json_hex(d["burn_txid"], f"{what}.burn_txid", 32),
            json_hex(d["l1_tx_hash"], f"{what}.l1_tx_hash", 32),
            json_int(d["log_index"], 32, f"{what}.log_index"),
            json_u64(d["l1_block"], f"{what}.l1_block"),
        )


@attrs.frozen
class FeeCredit(Canonical):
    """A block's fees paid to its proposer; it mints ``UTXO(recipient, amount, id, 0)``."""

    NAME: ClassVar[str] = "fee_credit"
    height: int = attrs.field(validator=uint(64))
    recipient: bytes = attrs.field(validator=fixed_bytes(32))
    amount: int = attrs.field(validator=positive_amount)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_FEE, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.u64(self.height, "height")
        w.fixed(self.recipient, 32, "recipient")
        w.u64(self.amount, "amount")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.u64("height"), r.fixed(32, "recipient"), r.u64("amount"))

    def to_json(self) -> dict[str, Any]:
        return {
            "height": str(self.height),
            "recipient": encode_address(self.recipient),
            "amount": str(self.amount),
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "fee_credit") -> Self:
        d = json_fields(d, what, ("height", "recipient", "amount"))
        return cls(
            json_u64(d["height"], f"{what}.height"),
            json_address(d["recipient"], f"{what}.recipient"),
            json_amount(d["amount"], f"{what}.amount"),
        )
