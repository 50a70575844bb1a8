"""Payment receipts: the payee's signed statement that a paid request was served.

A client keeps these as proof of purchase; they bind the ledger transaction,
both parties, the amount and a hash of the resource, under one signature.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from fontana.hashing import TAG_RECEIPT, tagged_hash
from fontana.models.codec import (
    ADDRESS,
    AMOUNT,
    BYTES32,
    BYTES64,
    CHAIN_ID,
    U64,
    Canonical,
    Nested,
    Version,
    canonical,
    field,
)
from fontana.models.signed import Signed


@canonical
@attrs.frozen
class Receipt(Canonical):
    NAME: ClassVar[str] = "receipt"
    version: int = field(Version(1))
    chain_id: str = field(CHAIN_ID)
    txid: bytes = field(BYTES32)
    payer: bytes = field(ADDRESS)
    payee: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)
    resource_hash: bytes = field(BYTES32)
    issued_at_ms: int = field(U64)
    ledger_seq: int = field(U64)

    @property
    def id(self) -> bytes:
        return tagged_hash(TAG_RECEIPT, self.to_bytes())


@canonical
@attrs.frozen
class SignedReceipt(Signed):
    """A receipt plus the payee's signature over its id."""

    NAME: ClassVar[str] = "signed_receipt"
    SIGNER: ClassVar[str] = "payee"
    MESSAGE: ClassVar[str] = "id"
    receipt: Receipt = field(Nested(Receipt))
    signature: bytes = field(BYTES64)
