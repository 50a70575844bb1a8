"""Payment receipts: the payee's signed statement that a paid request was served.

A client keeps these as proof of purchase; they bind the ledger transaction,
both parties, the amount and a hash of the resource, under one signature.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Self

import attrs

from fontana.address import encode_address
from fontana.encoding import Reader, Writer
from fontana.hashing import TAG_RECEIPT, tagged_hash
from fontana.models._base import (
    CHAIN_ID_MAX,
    Canonical,
    Signed,
    chain_id,
    fixed_bytes,
    json_address,
    json_amount,
    json_fields,
    json_hex,
    json_int,
    json_str,
    json_u64,
    uint,
    version_one,
)

_RECEIPT_KEYS: Final = (
    "version",
    "chain_id",
    "txid",
    "payer",
    "payee",
    "amount",
    "resource_hash",
    "issued_at_ms",
    "ledger_seq",
)


@attrs.frozen
class Receipt(Canonical):
    NAME: ClassVar[str] = "receipt"
    version: int = attrs.field(validator=version_one)
    chain_id: str = attrs.field(validator=chain_id)
    txid: bytes = attrs.field(validator=fixed_bytes(32))
    payer: bytes = attrs.field(validator=fixed_bytes(32))
    payee: bytes = attrs.field(validator=fixed_bytes(32))
    amount: int = attrs.field(validator=uint(64))
    resource_hash: bytes = attrs.field(validator=fixed_bytes(32))
    issued_at_ms: int = attrs.field(validator=uint(64))
    ledger_seq: int = attrs.field(validator=uint(64))

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_RECEIPT, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.u8(self.version, "version")
        w.string(self.chain_id, CHAIN_ID_MAX, "chain_id")
        w.fixed(self.txid, 32, "txid")
        w.fixed(self.payer, 32, "payer")
        w.fixed(self.payee, 32, "payee")
        w.u64(self.amount, "amount")
        w.fixed(self.resource_hash, 32, "resource_hash")
        w.u64(self.issued_at_ms, "issued_at_ms")
        w.u64(self.ledger_seq, "ledger_seq")

    @classmethod
    def read(cls, r: Reader) -> Self:
        version = r.u8("version")
        if version != 1:
            raise r.error("version", f"unsupported version {version}, expected 1")
        return cls(
            version,
            r.string(CHAIN_ID_MAX, "chain_id"),
            r.fixed(32, "txid"),
            r.fixed(32, "payer"),
            r.fixed(32, "payee"),
            r.u64("amount"),
            r.fixed(32, "resource_hash"),
            r.u64("issued_at_ms"),
            r.u64("ledger_seq"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "chain_id": self.chain_id,
            "txid": self.txid.hex(),
            "payer": encode_address(self.payer),
            "payee": encode_address(self.payee),
            "amount": str(self.amount),
            "resource_hash": self.resource_hash.hex(),
            "issued_at_ms": str(self.issued_at_ms),
            "ledger_seq": str(self.ledger_seq),
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "receipt") -> Self:
        d = json_fields(d, what, _RECEIPT_KEYS)
        return cls(
            json_int(d["version"], 8, f"{what}.version"),
            json_str(d["chain_id"], f"{what}.chain_id"),
            json_hex(d["txid"], f"{what}.txid", 32),
            json_address(d["payer"], f"{what}.payer"),
            json_address(d["payee"], f"{what}.payee"),
            json_amount(d["amount"], f"{what}.amount"),
            json_hex(d["resource_hash"], f"{what}.resource_hash", 32),
            json_u64(d["issued_at_ms"], f"{what}.issued_at_ms"),
            json_u64(d["ledger_seq"], f"{what}.ledger_seq"),
        )


@attrs.frozen
class SignedReceipt(Signed):
    """A receipt plus the payee's signature over its id."""

    NAME: ClassVar[str] = "signed_receipt"
    INNER: ClassVar[str] = "receipt"
    INNER_TYPE: ClassVar[type[Canonical]] = Receipt
    SIGNER: ClassVar[str] = "payee"
    MESSAGE: ClassVar[str] = "id"
    receipt: Receipt = attrs.field(validator=attrs.validators.instance_of(Receipt))
    signature: bytes = attrs.field(validator=fixed_bytes(64))
