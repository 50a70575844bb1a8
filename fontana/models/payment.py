"""Paid calls: the binding a payment carries, the provider's receipt, and the final receipt.

A payment transaction's ``payload_hash`` names the one call it pays for
(:class:`PaymentBinding`); the provider answers with a :class:`SignedReceipt`;
once the block holding the payment is on DA, a :class:`FinalReceipt` adds the
signed header, the inclusion proof and the DA reference, so anyone holding
the genesis can check the payment offline (docs/protocol.md, section 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import ClassVar, Final, NoReturn, Self

import attrs

from fontana.errors import EncodingError, ReceiptError
from fontana.hashing import (
    TAG_PAYMENT,
    TAG_RECEIPT,
    TAG_REQUEST,
    merkle_path,
    merkle_proof,
    tagged_hash,
    verify_merkle_proof,
)
from fontana.models.chain import MAX_BLOCK_ENTRIES, SignedHeader
from fontana.models.codec import (
    ADDRESS,
    AMOUNT,
    BYTES32,
    BYTES64,
    CHAIN_ID,
    U32,
    U64,
    Bytes,
    BytesItem,
    Canonical,
    ListOf,
    Nested,
    String,
    Text,
    UInt,
    VarBytes,
    Version,
    canonical,
    check_rules,
    field,
)
from fontana.models.genesis import Genesis
from fontana.models.signed import Signed

METHOD_MAX: Final = 16
RESOURCE_MAX: Final = 2048
#: The most siblings a proof holds: the depth of a tree of MAX_BLOCK_ENTRIES leaves.
MAX_PROOF_SIBLINGS: Final = (MAX_BLOCK_ENTRIES - 1).bit_length()
DA_COMMITMENT_MAX: Final = 64

#: An HTTP method: RFC 9110 token characters without lower-case letters.
METHOD: Final = String(
    METHOD_MAX, r"[A-Z0-9!#$%&'*+.^_`|~-]{1,16}", "an upper-case HTTP method token (1..16)"
)
#: A request target as sent: path and query, "/" first, no ASCII control character.
RESOURCE: Final = Text(
    RESOURCE_MAX, r"/[^\x00-\x1f\x7f]*", "a request target: '/' then no ASCII control characters"
)


@canonical
@attrs.frozen
class PaymentBinding(Canonical):
    """The one call a payment pays for; its hash is the transaction's ``payload_hash``.

    The deployment is bound by the witnesses' signatures and the time by the
    transaction's ``expiry_ms``, so neither is repeated here.
    """

    NAME: ClassVar[str] = "payment_binding"
    version: int = field(Version(1), default=1, kw_only=True)
    pay_to: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)
    method: str = field(METHOD)
    resource: str = field(RESOURCE)

    @property
    def payload_hash(self) -> bytes:
        return tagged_hash(TAG_PAYMENT, self.to_bytes())


def request_hash(method: str, resource: str, body: bytes) -> bytes:
    """A receipt's name for the exact request: method, resource and a SHA-256 of the body.

    ``tagged_hash("fontana/request", string(16) method || text(2048) resource ||
    sha256(body))``: the body is hashed plainly first, so a client can check a
    large body without holding it twice.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise EncodingError(f"request.body: expected bytes, got {type(body).__name__}")
    out: list[bytes] = []
    METHOD.write(METHOD.checked(method, "request.method"), out)
    RESOURCE.write(RESOURCE.checked(resource, "request.resource"), out)
    out.append(hashlib.sha256(body).digest())
    return tagged_hash(TAG_REQUEST, b"".join(out))


@canonical
@attrs.frozen
class Receipt(Canonical):
    """The provider's statement that it served one paid call (signed as a SignedReceipt)."""

    NAME: ClassVar[str] = "receipt"
    version: int = field(Version(1), default=1, kw_only=True)
    chain_id: str = field(CHAIN_ID)
    txid: bytes = field(BYTES32)
    payer: bytes = field(ADDRESS)
    payee: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)
    method: str = field(METHOD)
    resource: str = field(RESOURCE)
    request_hash: bytes = field(BYTES32)
    issued_at_ms: int = field(U64)
    #: The block open when the payment settled: it is in that block or a later one.
    expected_height: int = field(U64)

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


@canonical
@attrs.frozen
class MerkleProof(Canonical):
    """Leaf ``index`` of ``count`` under a tx root: the siblings on its path, leaf first.

    Only a proof of the right shape decodes: ``index < count`` and exactly as
    many siblings as the leaf's path has levels.
    """

    NAME: ClassVar[str] = "merkle_proof"
    index: int = field(U32)
    count: int = field(UInt(32, low=1, high=MAX_BLOCK_ENTRIES))
    siblings: tuple[bytes, ...] = field(ListOf(BytesItem(32), 0, MAX_PROOF_SIBLINGS))

    def __attrs_post_init__(self) -> None:
        check_rules(self)

    def broken_rule(self) -> tuple[str, str] | None:
        if self.index >= self.count:
            return "index", f"{self.index} is not below count {self.count}"
        levels = len(merkle_path(self.index, self.count))
        if len(self.siblings) != levels:
            return "siblings", (
                f"{len(self.siblings)} siblings, but leaf {self.index} of {self.count} has {levels}"
            )
        return None

    @classmethod
    def build(cls, ids: Sequence[bytes], index: int) -> Self:
        """The proof of ``ids[index]`` in ``merkle_root(ids)``."""
        return cls(index, len(ids), tuple(merkle_proof(ids, index)))

    def verify(self, root: bytes, leaf_id: bytes) -> bool:
        return verify_merkle_proof(root, leaf_id, self.index, self.count, self.siblings)


@canonical
@attrs.frozen
class FinalReceipt(Canonical):
    """A receipt with what proves its payment is on DA: verifiable with the genesis alone."""

    NAME: ClassVar[str] = "final_receipt"
    receipt: SignedReceipt = field(Nested(SignedReceipt))
    #: The header of the block holding the payment, signed by the sequencer.
    header: SignedHeader = field(Nested(SignedHeader))
    #: The txid's inclusion proof under ``header.tx_root``.
    inclusion: MerkleProof = field(Nested(MerkleProof))
    da_height: int = field(U64)
    da_commitment: bytes = field(VarBytes(DA_COMMITMENT_MAX))
    da_namespace: bytes = field(Bytes(10))


def verify_receipt(signed: SignedReceipt, genesis_hash: bytes) -> None:
    """A provisional receipt: signed by its payee for the deployment ``genesis_hash``."""
    if not signed.verify(genesis_hash):
        raise ReceiptError(
            "signed_receipt.signature: not the payee's signature of this receipt "
            "for this deployment",
            check="receipt_signature",
        )


def verify_final_receipt(final: FinalReceipt, genesis: Genesis) -> None:
    """Every offline check of a final receipt, in the order of docs/protocol.md.

    The first failure raises :class:`ReceiptError` naming the field and the check.
    """
    receipt, header = final.receipt.receipt, final.header.header
    gh = genesis.hash
    if receipt.chain_id != genesis.chain_id:
        _fail("receipt_chain", "receipt.receipt.chain_id", _other_chain(receipt.chain_id, genesis))
    if not final.receipt.verify(gh):
        _fail("receipt_signature", "receipt.signature", "not the payee's for this genesis")
    if header.chain_id != genesis.chain_id:
        _fail("header_chain", "header.header.chain_id", _other_chain(header.chain_id, genesis))
    if header.proposer != genesis.sequencer:
        _fail("header_proposer", "header.header.proposer", "not the genesis sequencer")
    if not final.header.verify(gh):
        _fail("header_signature", "header.signature", "not the sequencer's for this genesis")
    if header.height < receipt.expected_height:
        _fail(
            "expected_height",
            "header.header.height",
            f"{header.height} is below the receipt's expected_height {receipt.expected_height}",
        )
    proof = final.inclusion
    if proof.count != header.tx_count:
        _fail(
            "inclusion_count",
            "inclusion.count",
            f"{proof.count} differs from the header's tx_count {header.tx_count}",
        )
    if not proof.verify(header.tx_root, receipt.txid):
        _fail(
            "inclusion",
            "inclusion",
            f"does not prove txid {receipt.txid.hex()} at index {proof.index} under tx_root",
        )
    if final.da_namespace != genesis.da_namespace:
        _fail(
            "da_namespace",
            "da_namespace",
            f"{final.da_namespace.hex()} is not the genesis namespace {genesis.da_namespace.hex()}",
        )


def _other_chain(chain_id: str, genesis: Genesis) -> str:
    return f"{chain_id!r} is not the genesis chain {genesis.chain_id!r}"


def _fail(check: str, where: str, message: str) -> NoReturn:
    raise ReceiptError(f"final_receipt.{where}: {message}", check=check)
