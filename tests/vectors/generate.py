"""Write tests/vectors/encoding.json: canonical-encoding vectors for other implementations.

Run ``python tests/vectors/generate.py``. Everything is derived from fixed
seeds, so the output is byte-for-byte reproducible; tests/test_vectors.py
checks that the committed file equals a fresh run. Invalid vectors are built
from raw bytes, not through the models, so they can hold what the models refuse.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import attrs
from nacl.signing import SigningKey

from fontana.address import _CHARSET, _convertbits, _hrp_expand, _polymod, encode_address
from fontana.da.blob import encode_blob
from fontana.hashing import (
    ALL_TAGS,
    TAG_DA_LOCAL,
    merkle_proof,
    merkle_root,
    signing_message,
    tagged_hash,
)
from fontana.models import (
    UTXO,
    Allocation,
    Block,
    BlockHeader,
    Deposit,
    FeeCredit,
    FinalReceipt,
    Genesis,
    MerkleProof,
    OutPoint,
    PaymentBinding,
    Receipt,
    SignedHeader,
    SignedReceipt,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalConfirmation,
    WithdrawalLeaf,
    WithdrawalRequest,
    Witness,
    encode_entries,
    encode_entry,
    entries_hash,
    entry_id,
    entry_to_json,
    request_hash,
    utxo_key,
)

OUT = Path(__file__).with_name("encoding.json")
U64_MAX = 2**64 - 1
#: The L1 addresses of the bridge vectors: a vault and its ERC-20 on a test chain.
VAULT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
TOKEN = bytes.fromhex("e7f1725e7734ce288f8367e1bb143e90bb3f0512")


def h(label: str) -> bytes:
    """A fixed 32-byte value named by ``label``."""
    return hashlib.sha256(b"fontana/vectors/" + label.encode()).digest()


def seed(i: int) -> bytes:
    return bytes([i]) * 32


def key(i: int) -> SigningKey:
    return SigningKey(seed(i))


def pub(i: int) -> bytes:
    return bytes(key(i).verify_key)


def genesis() -> Genesis:
    """The deployment every signed vector is signed for (the "genesis" vector)."""
    return Genesis(
        chain_id="devnet",
        genesis_time_ms=1_764_000_000_000,
        sequencer=pub(3),
        da_namespace=b"fontana\x00\x00\x01",
        block_time_ms=1000,
        min_fee=1000,
        l1_confirmations=12,
        allocations=(Allocation(pub(1), 10_000_000), Allocation(pub(2), 1), Allocation(pub(1), 5)),
    )


GENESIS_HASH = genesis().hash


# --- valid values -------------------------------------------------------------------


def transactions() -> list[tuple[str, Transaction, list[int]]]:
    base = Transaction(
        kind=TxKind.TRANSFER,
        chain_id="devnet",
        inputs=(OutPoint(h("genesis"), 0),),
        outputs=(TxOutput(pub(2), 1_500_000), TxOutput(pub(1), 8_490_000)),
        fee=10_000,
        expiry_ms=1_764_000_000_000,
    )
    payment = Transaction(
        kind=TxKind.PAYMENT,
        chain_id="fontana-1",
        inputs=(OutPoint(h("a"), 3), OutPoint(h("b"), 65535)),
        outputs=(TxOutput(pub(2), 1),),
        fee=0,
        expiry_ms=U64_MAX,
        payload_hash=h("GET /weather?city=lisbon"),
        memo="invoice 42 ✓".encode(),
    )
    withdrawal = Transaction(
        kind=TxKind.WITHDRAWAL,
        chain_id="devnet",
        inputs=(OutPoint(h("c"), 0),),
        outputs=(),
        fee=1,
        expiry_ms=0,
        withdrawal=WithdrawalRequest(bytes(range(20)), 2_000_000, TOKEN),
    )
    largest = Transaction(
        kind=TxKind.PAYMENT,
        chain_id="a" * 21 + "-0123456789",  # 32 characters, the maximum
        inputs=tuple(OutPoint(h(f"in {i}"), i) for i in range(64)),
        outputs=tuple(TxOutput(pub(i % 8 + 1), U64_MAX - i) for i in range(64)),
        fee=U64_MAX,
        expiry_ms=U64_MAX,
        payload_hash=bytes(32),
        memo=bytes(range(256)),
    )
    multisig = Transaction(
        kind=TxKind.TRANSFER,
        chain_id="devnet",
        inputs=(OutPoint(h("d"), 0), OutPoint(h("e"), 1)),
        outputs=(TxOutput(pub(3), 5),),
        fee=2,
        expiry_ms=1,
    )
    many = list(range(1, 65))
    return [
        ("transaction unsigned", base, []),
        ("transaction transfer signed", _sign_all(base, [1]), [1]),
        ("transaction payment with payload hash and memo", _sign_all(payment, [1]), [1]),
        ("transaction withdrawal, no outputs", _sign_all(withdrawal, [4]), [4]),
        ("transaction two witnesses", _sign_all(multisig, [1, 2]), [1, 2]),
        ("transaction every list and field at its maximum", _sign_all(largest, many), many),
    ]


def _sign_all(tx: Transaction, seeds: list[int]) -> Transaction:
    for i in seeds:
        tx = tx.sign(key(i), GENESIS_HASH)
    return tx


def records() -> list[tuple[str, Any]]:
    deposit = Deposit(
        l1_chain_id=31337,
        vault=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
        l1_tx_hash=h("l1 tx"),
        log_index=7,
        l1_block=1234,
        depositor=bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
        recipient=pub(1),
        amount=25_000_000,
    )
    deposit_max = Deposit(U64_MAX, b"\xff" * 20, b"\xff" * 32, 2**32 - 1, U64_MAX, b"\xff" * 20,
                          b"\xff" * 32, U64_MAX)  # fmt: skip
    return [
        ("outpoint", OutPoint(h("x"), 1)),
        ("outpoint max index", OutPoint(b"\xff" * 32, 65535)),
        ("output", TxOutput(pub(1), 1)),
        ("output max amount", TxOutput(pub(1), U64_MAX)),
        ("withdrawal request", WithdrawalRequest(b"\x11" * 20, 1)),
        ("withdrawal request in the token", WithdrawalRequest(b"\x11" * 20, U64_MAX, TOKEN)),
        ("withdrawal leaf", WithdrawalLeaf.of(transactions()[3][1])),
        ("withdrawal leaf native max",
         WithdrawalLeaf(b"\xff" * 32, b"\xff" * 20, bytes(20), U64_MAX)),
        ("witness", transactions()[1][1].witnesses[0]),  # key 1's, of the signed transfer
        ("utxo", UTXO(pub(1), 1_500_000, h("tx"), 0)),
        ("utxo max", UTXO(b"\xff" * 32, U64_MAX, b"\xff" * 32, 65535)),
        ("deposit", deposit),
        ("deposit max", deposit_max),
        ("withdrawal confirmation", WithdrawalConfirmation(h("burn"), h("payout"), 0, 99)),
        ("fee credit", FeeCredit(7, pub(3), 30_000)),
    ]


def chain() -> list[tuple[str, Any, list[int]]]:
    tx = transactions()[1][1]  # the signed transfer
    deposit = dict(records())["deposit"]
    confirmation = WithdrawalConfirmation(h("burn"), h("payout"), 0, 99)
    credit = FeeCredit(7, pub(3), 10_000)
    entries = (tx, deposit, confirmation, credit)

    def header(height: int, body: tuple[Any, ...]) -> BlockHeader:
        return BlockHeader(
            version=1,
            chain_id="devnet",
            height=height,
            prev_hash=h(f"block {height - 1}"),
            timestamp_ms=1_764_000_000_000 + height,
            tx_root=merkle_root([entry_id(e) for e in body]),
            entries_hash=entries_hash(encode_entries(body)),
            state_root=h(f"state {height}"),
            tx_count=len(body),
            proposer=pub(3),
        )

    empty_header = header(6, ())
    full_header = header(7, entries)
    receipt = Receipt(
        chain_id="devnet",
        txid=tx.txid,
        payer=pub(1),
        payee=pub(2),
        amount=1_500_000,
        method="GET",
        resource="/weather?city=lisbon",
        request_hash=request_hash("GET", "/weather?city=lisbon", b""),
        issued_at_ms=1_764_000_000_123,
        expected_height=42,
    )
    empty_genesis = Genesis("x", 0, pub(3), bytes(10), 1, 0, 0, ())
    return [
        *[(f"entry {type(e).__name__}", ("entry", e), [1] if e is tx else []) for e in entries],
        ("header", full_header, []),
        ("signed header", SignedHeader.sign(full_header, key(3), GENESIS_HASH), [3]),
        (
            "block without entries",
            Block(SignedHeader.sign(empty_header, key(3), GENESIS_HASH), ()),
            [3],
        ),
        (
            "block with one entry of each type",
            Block(SignedHeader.sign(full_header, key(3), GENESIS_HASH), entries),
            [3, 1],  # in byte order: the header's signature, then the transaction's witness
        ),
        ("receipt", receipt, []),
        ("signed receipt", SignedReceipt.sign(receipt, key(2), GENESIS_HASH), [2]),
        ("genesis", genesis(), []),
        ("genesis without allocations", empty_genesis, []),
    ]


# --- paid calls ------------------------------------------------------------------------

BINDING = PaymentBinding(pay_to=pub(2), amount=1500, method="GET", resource="/weather?city=lisbon")
#: The longest resource: 2048 bytes of UTF-8, some characters of two and three bytes.
LONG_RESOURCE = "/" + "\u00e9\u2713" * 409 + "x" * 2
assert len(LONG_RESOURCE.encode("utf-8")) == 2048


def paid_block() -> tuple[Block, Transaction, bytes]:
    """Block 7 of the genesis vector's chain, the payment for BINDING third of five entries.

    Returns the block, the payment and the blob's local DA commitment.
    """
    payment = Transaction(
        kind=TxKind.PAYMENT,
        chain_id="devnet",
        inputs=(OutPoint(GENESIS_HASH, 0),),
        outputs=(TxOutput(pub(2), 1500), TxOutput(pub(1), 9_997_500)),
        fee=1000,
        expiry_ms=1_764_000_060_000,
        payload_hash=BINDING.payload_hash,
    ).sign(key(1), GENESIS_HASH)
    named = dict(records())
    transfer = transactions()[1][1]
    entries = (transfer, named["deposit"], payment, named["withdrawal confirmation"],
               FeeCredit(7, pub(3), 11_000))  # fmt: skip
    header = BlockHeader(
        version=1,
        chain_id="devnet",
        height=7,
        prev_hash=h("block 6"),
        timestamp_ms=1_764_000_000_007,
        tx_root=merkle_root([entry_id(e) for e in entries]),
        entries_hash=entries_hash(encode_entries(entries)),
        state_root=h("state 7"),
        tx_count=len(entries),
        proposer=pub(3),
    )
    block = Block(SignedHeader.sign(header, key(3), GENESIS_HASH), entries)
    namespace = genesis().da_namespace
    return block, payment, tagged_hash(TAG_DA_LOCAL, namespace + encode_blob(block))


def paid_receipt(**changes: Any) -> Receipt:
    """The provisional receipt of the payment in ``paid_block``; ``changes`` alter fields."""
    _, payment, _ = paid_block()
    fields: dict[str, Any] = {
        "chain_id": "devnet",
        "txid": payment.txid,
        "payer": pub(1),
        "payee": pub(2),
        "amount": 1500,
        "method": "GET",
        "resource": "/weather?city=lisbon",
        "request_hash": request_hash("GET", "/weather?city=lisbon", b""),
        "issued_at_ms": 1_764_000_000_250,
        "expected_height": 7,
    }
    return Receipt(**(fields | changes))


def final_receipt() -> FinalReceipt:
    block, payment, commitment = paid_block()
    ids = [entry_id(e) for e in block.entries]
    return FinalReceipt(
        receipt=SignedReceipt.sign(paid_receipt(), key(2), GENESIS_HASH),
        header=block.header,
        inclusion=MerkleProof.build(ids, ids.index(payment.txid)),
        da_height=12,
        da_commitment=commitment,
        da_namespace=genesis().da_namespace,
    )


def payments() -> list[tuple[str, Any, list[int]]]:
    proof_ids = [h(f"id {i}") for i in range(5)]
    return [
        ("payment binding", BINDING, []),
        ("payment binding, longest method, non-ASCII resource of 2048 bytes",
         PaymentBinding(pay_to=pub(1), amount=2**64 - 1, method="BASELINE-CONTROL",
                        resource=LONG_RESOURCE), []),
        ("payment binding, POST with a query", PaymentBinding(
            pay_to=pub(2), amount=1, method="POST", resource="/v1/jobs?priority=high&x=%20"), []),
        ("merkle proof of the only leaf", MerkleProof.build(proof_ids[:1], 0), []),
        ("merkle proof, leaf 2 of 5", MerkleProof.build(proof_ids, 2), []),
        ("merkle proof, leaf 4 of 5 (the lone right leaf)", MerkleProof.build(proof_ids, 4), []),
        ("final receipt", final_receipt(), [2, 3]),  # in byte order: the receipt's, the header's
    ]  # fmt: skip


def valid_vector(name: str, value: Any, seeds: list[int]) -> dict[str, Any]:
    if isinstance(value, tuple):  # ("entry", entry): the tagged union, not the bare body
        entry = value[1]
        out = {"name": name, "type": "entry", "json": entry_to_json(entry)}
        out |= {"hex": encode_entry(entry).hex(), "id": entry_id(entry).hex()}
    else:
        out = {
            "name": name,
            "type": value.NAME,
            "json": value.to_json(),
            "hex": value.to_bytes().hex(),
        }
        ident = _id(value)
        if ident is not None:
            out["id"] = ident.hex()
    if isinstance(value, Transaction):
        out["unsigned_hex"] = value.unsigned_bytes().hex()
    if isinstance(value, UTXO):
        out["key"] = utxo_key(value.outpoint).hex()
    if isinstance(value, WithdrawalLeaf):
        out["key"] = value.key.hex()
    if seeds:
        out["genesis_hash"] = GENESIS_HASH.hex()
        out["signing_seed"] = [seed(i).hex() for i in seeds]
    if isinstance(value, Witness):
        out["genesis_hash"] = GENESIS_HASH.hex()
        out["signed_id"] = transactions()[1][1].txid.hex()
        out["signing_seed"] = [seed(1).hex()]
    return out


def _id(value: Any) -> bytes | None:
    """The tagged hash that names a value, for the types that have one."""
    match value:
        case Transaction():
            return value.txid
        case Deposit() | WithdrawalConfirmation() | FeeCredit() | Receipt():
            return value.id
        case PaymentBinding():
            return value.payload_hash
        case FinalReceipt():
            return value.receipt.receipt.id
        case BlockHeader() | Genesis():
            return value.hash
        case SignedHeader():
            return value.header.hash
        case SignedReceipt():
            return value.receipt.id
        case Block():
            return value.header.header.hash
        case UTXO() | WithdrawalLeaf():
            return value.leaf_value_hash()
    return None


# --- invalid bytes ------------------------------------------------------------------


def u8(v: int) -> bytes:
    return struct.pack(">B", v)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def raw_tx(**over: bytes) -> bytes:
    """A hand-assembled transaction; ``over`` replaces named fields with raw bytes."""
    parts = {
        "version": u8(1),
        "kind": u8(1),
        "chain_id": u8(6) + b"devnet",
        "inputs": u16(1) + h("in") + u16(0),
        "outputs": u16(1) + pub(1) + u64(5),
        "fee": u64(1),
        "expiry_ms": u64(1000),
        "payload_hash": u8(0),
        "memo": u32(0),
        "withdrawal": u8(0),
        "witnesses": u16(0),
    }
    unknown = set(over) - set(parts)
    assert not unknown, unknown
    return b"".join(over.get(name, part) for name, part in parts.items())


def raw_fields(value: Any, **over: bytes) -> bytes:
    """``value``'s encoding, field by field; ``over`` replaces named fields with raw bytes."""
    parts = {}
    for name, wire in zip(value._codec.names, value._codec.wires, strict=True):
        out: list[bytes] = []
        wire.write(getattr(value, name), out)
        parts[name] = b"".join(out)
    assert not set(over) - set(parts), over
    return b"".join(over.get(name, part) for name, part in parts.items())


def raw_header(**over: bytes) -> bytes:
    """The "header" vector's bytes; ``over`` replaces named fields with raw bytes."""
    return raw_fields(dict((n, v) for n, v, _ in chain())["header"], **over)


def raw_receipt(**over: bytes) -> bytes:
    """The "receipt" vector's bytes; ``over`` replaces named fields with raw bytes."""
    return raw_fields(dict((n, v) for n, v, _ in chain())["receipt"], **over)


def text(raw: bytes) -> bytes:
    """A ``text`` field holding ``raw``: u16 length, then the bytes."""
    return u16(len(raw)) + raw


def payment_invalid() -> list[tuple[str, str, bytes, str, str]]:
    """Bytes the paid-call models refuse (docs/protocol.md, section 4, "Paid calls")."""
    binding = lambda **over: raw_fields(BINDING, **over)  # noqa: E731
    proof = MerkleProof.build([h(f"id {i}") for i in range(5)], 2)
    sib = proof.siblings
    final = final_receipt()
    final_raw = lambda **over: raw_fields(final, **over)  # noqa: E731
    return [
        ("binding version 2", "payment_binding", binding(version=u8(2)), "malformed",
         "unknown version"),
        ("binding zero amount", "payment_binding", binding(amount=u64(0)), "bad_amount",
         "a price is positive"),
        ("binding method lower case", "payment_binding", binding(method=u8(3) + b"get"),
         "malformed", "methods are upper case"),
        ("binding method empty", "payment_binding", binding(method=u8(0)), "malformed",
         "a method has 1..16 characters"),
        ("binding method 17 characters", "payment_binding",
         binding(method=u8(17) + b"A" * 17), "malformed", "refused from the length byte"),
        ("binding method with a space", "payment_binding", binding(method=u8(4) + b"GE T"),
         "malformed", "a method is one token"),
        ("binding resource without a leading slash", "payment_binding",
         binding(resource=text(b"weather")), "malformed", "a request target starts with /"),
        ("binding resource empty", "payment_binding", binding(resource=text(b"")), "malformed",
         "a request target starts with /"),
        ("binding resource with a newline", "payment_binding",
         binding(resource=text(b"/a\nb")), "malformed", "no ASCII control characters"),
        ("binding resource with DEL", "payment_binding", binding(resource=text(b"/a\x7f")),
         "malformed", "0x7f is a control character"),
        ("binding resource with NUL", "payment_binding", binding(resource=text(b"/\x00")),
         "malformed", "0x00 is a control character"),
        ("binding resource 2049 bytes", "payment_binding",
         binding(resource=u16(2049) + b"/" * 2049), "malformed",
         "refused from the length prefix, before the bytes"),
        ("binding resource not UTF-8", "payment_binding", binding(resource=text(b"/\xc3\x28")),
         "malformed", "invalid UTF-8"),
        ("binding resource with an encoded surrogate", "payment_binding",
         binding(resource=text(b"/\xed\xa0\x80")), "malformed",
         "UTF-8 never encodes U+D800..U+DFFF"),
        ("binding resource with an overlong slash", "payment_binding",
         binding(resource=text(b"/\xc0\xaf")), "malformed", "overlong forms are not UTF-8"),
        ("binding resource length past end", "payment_binding",
         binding(resource=u16(30) + b"/x"), "malformed", "declared length longer than the input"),
        ("binding trailing byte", "payment_binding", binding() + b"\x00", "malformed",
         "one byte after the end"),
        ("binding zero amount and a lower-case method", "payment_binding",
         binding(amount=u64(0), method=u8(3) + b"get"), "bad_amount",
         "amount comes before method"),
        ("receipt method lower case", "receipt", raw_receipt(method=u8(3) + b"get"), "malformed",
         "methods are upper case"),
        ("receipt resource without a leading slash", "receipt",
         raw_receipt(resource=text(b"weather")), "malformed", "a request target starts with /"),
        ("receipt truncated in the expected height", "receipt", raw_receipt()[:-1], "malformed",
         "last byte missing"),
        ("merkle proof count 0", "merkle_proof", u32(0) + u32(0) + u16(0), "malformed",
         "a proof is of a leaf of a tree with at least one leaf"),
        ("merkle proof count 65537", "merkle_proof", u32(0) + u32(65_537) + u16(0), "malformed",
         "a block holds at most 65,536 entries"),
        ("merkle proof index equal to count", "merkle_proof",
         u32(5) + u32(5) + u16(3) + b"".join(sib), "malformed", "index < count"),
        ("merkle proof one sibling short", "merkle_proof",
         u32(2) + u32(5) + u16(2) + sib[0] + sib[1], "malformed", "leaf 2 of 5 has 3 siblings"),
        ("merkle proof one sibling too many", "merkle_proof",
         u32(2) + u32(5) + u16(4) + b"".join(sib) + sib[0], "malformed",
         "leaf 2 of 5 has 3 siblings"),
        ("merkle proof of the only leaf with a sibling", "merkle_proof",
         u32(0) + u32(1) + u16(1) + sib[0], "malformed", "a tree of one leaf has no siblings"),
        ("merkle proof 17 siblings", "merkle_proof", u32(0) + u32(65_536) + u16(17),
         "malformed", "at most 16 siblings, refused from the count"),
        ("merkle proof sibling truncated", "merkle_proof", proof.to_bytes()[:-1], "malformed",
         "31 bytes of the last sibling"),
        ("merkle proof index equal to count and one sibling short", "merkle_proof",
         u32(5) + u32(5) + u16(2) + sib[0] + sib[1], "malformed",
         "index < count is checked before the number of siblings"),
        ("final receipt da_commitment 65 bytes", "final_receipt",
         final_raw(da_commitment=u32(65) + bytes(65)), "malformed",
         "a DA commitment is at most 64 bytes"),
        ("final receipt truncated namespace", "final_receipt", final.to_bytes()[:-1], "malformed",
         "9 bytes of namespace"),
        ("final receipt trailing byte", "final_receipt", final.to_bytes() + b"\x00", "malformed",
         "one byte after the end"),
        ("final receipt with a proof one sibling short", "final_receipt",
         final_raw(inclusion=raw_fields(final.inclusion)[:8] + u16(2)
                   + b"".join(final.inclusion.siblings[:2])),
         "malformed", "the nested proof's own rules"),
        ("final receipt with a zero-amount receipt", "final_receipt",
         final_raw(receipt=raw_fields(final.receipt.receipt, amount=u64(0))
                   + final.receipt.signature), "bad_amount", "receipt amounts are positive"),
    ]  # fmt: skip


def invalid() -> list[dict[str, str]]:
    good = raw_tx()
    Transaction.from_bytes(good)  # the base of the mutations is itself valid
    deposit = dict(records())["deposit"].to_bytes()
    tx_entry = encode_entry(transactions()[1][1])  # the signed transfer

    def burn(amount: int) -> bytes:
        return u8(1) + b"\x22" * 20 + u64(amount) + TOKEN

    leaf = dict(records())["withdrawal leaf"].to_bytes()
    named = {name: value for name, value, _ in chain()}
    header = named["header"].to_bytes()
    gen = named["genesis"].to_bytes()
    zero_out = u16(1) + pub(1) + u64(0)
    empty_block = named["block without entries"].to_bytes()[:-4]  # signed header, tx_count 0
    zero_deposit = deposit[:-8] + u64(0)
    cases: list[tuple[str, str, bytes, str, str]] = [
        ("tx truncated", "transaction", good[:-1], "malformed", "last byte missing"),
        ("tx empty input", "transaction", b"", "malformed", "no bytes at all"),
        ("tx trailing byte", "transaction", good + b"\x00", "malformed", "one byte after the end"),
        ("tx version 2", "transaction", raw_tx(version=u8(2)), "malformed", "unknown version"),
        ("tx kind 0", "transaction", raw_tx(kind=u8(0)), "malformed", "enum value 0"),
        ("tx kind 4", "transaction", raw_tx(kind=u8(4)), "malformed", "enum value 4"),
        ("tx chain id upper case", "transaction", raw_tx(chain_id=u8(6) + b"Devnet"), "malformed",
         "chain id outside [a-z0-9-]"),
        ("tx chain id empty", "transaction", raw_tx(chain_id=u8(0)), "malformed", "chain id empty"),
        ("tx chain id 33 chars", "transaction", raw_tx(chain_id=u8(33) + b"a" * 33), "malformed",
         "chain id longer than 32"),
        ("tx chain id not utf-8", "transaction", raw_tx(chain_id=u8(2) + b"\xc3\x28"),
         "malformed", "invalid UTF-8"),
        ("tx no inputs", "transaction", raw_tx(inputs=u16(0)), "malformed", "inputs need 1..64"),
        ("tx 65 inputs", "transaction",
         raw_tx(inputs=u16(65) + b"".join(h(f"i{i}") + u16(0) for i in range(65))),
         "malformed", "list count above 64"),
        ("tx duplicate input", "transaction", raw_tx(inputs=u16(2) + (h("in") + u16(0)) * 2),
         "malformed", "the same outpoint twice"),
        ("tx 65 outputs", "transaction", raw_tx(outputs=u16(65) + (pub(1) + u64(1)) * 65),
         "malformed", "list count above 64"),
        ("tx zero output", "transaction", raw_tx(outputs=u16(1) + pub(1) + u64(0)), "bad_amount",
         "output amounts are positive"),
        ("tx payload option tag 2", "transaction", raw_tx(payload_hash=u8(2) + bytes(32)),
         "malformed", "option tag must be 0 or 1"),
        ("tx memo 257 bytes", "transaction", raw_tx(memo=u32(257) + bytes(257)), "malformed",
         "varbytes above its maximum of 256"),
        ("tx memo length past end", "transaction", raw_tx(memo=u32(10) + bytes(3)), "malformed",
         "declared length longer than the input"),
        ("tx withdrawal kind without burn", "transaction", raw_tx(kind=u8(3)), "malformed",
         "a withdrawal must carry a burn"),
        ("tx burn on a transfer", "transaction", raw_tx(withdrawal=burn(5)), "malformed",
         "only a withdrawal carries a burn"),
        ("tx zero burn", "transaction", raw_tx(kind=u8(3), withdrawal=burn(0)),
         "bad_amount", "burn amounts are positive"),
        ("tx burn without its token", "transaction",
         raw_tx(kind=u8(3), withdrawal=burn(5)[:-20]), "malformed",
         "a burn ends with its 20-byte token (what follows is too short for it)"),
        ("withdrawal leaf zero amount", "withdrawal_leaf", leaf[:-8] + u64(0), "bad_amount",
         "a withdrawal leaf's amount is positive"),
        ("withdrawal leaf truncated", "withdrawal_leaf", leaf[:-1], "malformed",
         "the amount needs 8 bytes"),
        ("tx 65 witnesses", "transaction",
         raw_tx(witnesses=u16(65) + b"".join(pub(i + 1) + bytes(64) for i in range(65))),
         "malformed", "list count above 64"),
        ("tx same witness twice", "transaction",
         raw_tx(witnesses=u16(2) + (pub(1) + bytes(64)) * 2), "malformed", "one key signs once"),
        ("deposit zero amount", "deposit", deposit[:-8] + u64(0), "bad_amount",
         "deposits are positive"),
        ("deposit truncated", "deposit", deposit[:-1], "malformed", "last byte missing"),
        ("utxo zero amount", "utxo", pub(1) + u64(0) + h("tx") + u16(0), "bad_amount",
         "outputs are positive"),
        ("fee credit zero amount", "fee_credit", u64(1) + pub(3) + u64(0), "bad_amount",
         "credits are positive"),
        ("entry type 0", "entry", u8(0) + tx_entry[1:], "malformed", "enum value 0"),
        ("entry type 5", "entry", u8(5) + tx_entry[1:], "malformed", "enum value 5"),
        ("entry body over 1 MiB", "entry", u8(1) + u32(2**20 + 1), "malformed",
         "rejected from the length alone, before reading the body"),
        ("entry body with a trailing byte", "entry",
         tx_entry[:1] + u32(len(tx_entry) - 4) + tx_entry[5:] + b"\x00", "malformed",
         "the body holds one byte after the transaction"),
        ("entry body of another type", "entry", u8(2) + tx_entry[1:], "malformed",
         "a transaction body labelled as a deposit"),
        ("header version 2", "header", u8(2) + header[1:], "malformed", "unknown version"),
        ("header trailing byte", "header", header + b"\x00", "malformed", "one byte after the end"),
        ("block count differs from header", "block",
         named["block without entries"].to_bytes()[:-4] + u32(1) + tx_entry, "malformed",
         "header.tx_count is 0 but the block holds one entry"),
        ("genesis block time 0", "genesis",
         gen[:7 + 8 + 32 + 10] + u32(0) + gen[7 + 8 + 32 + 10 + 4:], "malformed",
         "block_time_ms must be positive"),
        ("genesis zero allocation", "genesis", gen[:-8] + u64(0), "bad_amount",
         "allocations are positive"),
        ("receipt version 0", "receipt", u8(0) + named["receipt"].to_bytes()[1:], "malformed",
         "unknown version"),
        # The chain id rules hold in headers and receipts (and blobs, see "blobs").
        ("header chain id upper case", "header", raw_header(chain_id=u8(6) + b"Devnet"),
         "malformed", "chain id outside [a-z0-9-]"),
        ("header chain id 33 chars", "header", raw_header(chain_id=u8(33) + b"a" * 33),
         "malformed", "chain id longer than 32, refused from the length byte"),
        ("receipt chain id empty", "receipt", raw_receipt(chain_id=u8(0)), "malformed",
         "chain id empty"),
        ("receipt zero amount", "receipt", raw_receipt(amount=u64(0)), "bad_amount",
         "receipt amounts are positive, like every amount"),
        # A block holds at most 65,536 entries; the count is checked before any entry.
        ("header tx_count above the maximum", "header", raw_header(tx_count=u32(65_537)),
         "malformed", "tx_count is at most 65,536"),
        ("block entry count above the maximum", "block", empty_block + u32(65_537),
         "malformed", "refused from the count alone, before the equality with tx_count"),
        ("signed header truncated signature", "signed_header",
         named["signed header"].to_bytes()[:-1], "malformed", "63 bytes of signature"),
        # Two broken rules: the first in decoding order decides the code (section 1.3).
        ("tx zero output, then truncated", "transaction", raw_tx(outputs=zero_out)[:-1],
         "bad_amount", "the amount's value rule comes before the later truncation"),
        ("tx truncated before a zero output", "transaction", raw_tx(outputs=zero_out)[:20],
         "malformed", "the truncation comes first in encoding order"),
        ("tx version 2 and a zero output", "transaction",
         raw_tx(version=u8(2), outputs=zero_out), "malformed", "version is the first field"),
        ("tx duplicate input and a zero output", "transaction",
         raw_tx(inputs=u16(2) + (h("in") + u16(0)) * 2, outputs=zero_out), "malformed",
         "a list's distinctness is checked right after the list, before later fields"),
        ("tx 65 outputs, the first zero", "transaction",
         raw_tx(outputs=u16(65) + zero_out[2:] + (pub(1) + u64(1)) * 64), "malformed",
         "a count is checked on its prefix, before any item"),
        ("tx zero burn on a transfer", "transaction", raw_tx(withdrawal=burn(0)),
         "bad_amount", "field rules come before the cross-field rule (burn only on kind 3)"),
        ("tx withdrawal kind without burn and a zero output", "transaction",
         raw_tx(kind=u8(3), outputs=zero_out), "bad_amount",
         "the cross-field rule is checked after all fields"),
        ("tx zero output and a trailing byte", "transaction", raw_tx(outputs=zero_out) + b"\x00",
         "bad_amount", "trailing bytes are checked last"),
        ("deposit zero amount and a trailing byte", "deposit", zero_deposit + b"\x00",
         "bad_amount", "trailing bytes are checked last"),
        ("entry type 5 with a zero-amount deposit body", "entry",
         u8(5) + u32(len(zero_deposit)) + zero_deposit, "malformed", "the type byte comes first"),
        ("entry zero-amount deposit body with a trailing byte", "entry",
         u8(2) + u32(len(zero_deposit) + 1) + zero_deposit + b"\x00", "bad_amount",
         "the body's own rules before its trailing bytes"),
        ("block count differs from header and a zero-amount entry", "block",
         empty_block + u32(1) + u8(2) + u32(len(zero_deposit)) + zero_deposit, "malformed",
         "the count is compared with tx_count before any entry is read"),
        ("receipt version 0 and a zero amount", "receipt",
         raw_receipt(version=u8(0), amount=u64(0)), "malformed", "version is the first field"),
        ("receipt chain id upper case and a zero amount", "receipt",
         raw_receipt(chain_id=u8(6) + b"Devnet", amount=u64(0)), "malformed",
         "chain_id comes before amount"),
        ("genesis block time 0 and a zero allocation", "genesis",
         gen[:7 + 8 + 32 + 10] + u32(0) + gen[7 + 8 + 32 + 10 + 4 : -8] + u64(0), "malformed",
         "block_time_ms comes before the allocations"),
    ]  # fmt: skip
    cases += payment_invalid()
    return [{"name": n, "type": t, "hex": b.hex(), "error": e, "why": w} for n, t, b, e, w in cases]


# --- JSON and blobs ------------------------------------------------------------------


def json_vectors() -> dict[str, list[dict[str, Any]]]:
    """JSON a decoder must refuse, and non-canonical JSON it must accept (section 5)."""
    named = {name: value for name, value, _ in chain()}
    tx = transactions()[1][1]  # the signed transfer
    good = tx.to_json()
    out = good["outputs"][0]
    header, receipt, gen = named["header"], named["receipt"], genesis()
    bind, final = BINDING.to_json(), final_receipt().to_json()
    proof = MerkleProof.build([h(f"id {i}") for i in range(5)], 2).to_json()
    invalid: list[tuple[str, str, Any, str, str]] = [
        ("tx without the witnesses key", "transaction",
         {k: v for k, v in good.items() if k != "witnesses"}, "malformed",
         "every key is required; an unsigned transaction has \"witnesses\": []"),
        ("tx with a version key", "transaction", good | {"version": 1}, "malformed",
         "a transaction's version is implied: an unknown key"),
        ("tx memo in upper-case hex", "transaction", good | {"memo": "AB"}, "malformed",
         "hex is lower case"),
        ("tx memo with 0x", "transaction", good | {"memo": "0xab"}, "malformed", "no 0x prefix"),
        ("tx fee as a float", "transaction", good | {"fee": 1.0}, "malformed",
         "a JSON number must be an integer"),
        ("tx fee with a leading zero", "transaction", good | {"fee": "010000"}, "malformed",
         "decimal strings have no leading zeros"),
        ("tx fee negative", "transaction", good | {"fee": "-1"}, "malformed", "no sign"),
        ("tx fee above u64", "transaction", good | {"fee": str(2**64)}, "malformed",
         "out of range"),
        ("tx fee as a boolean", "transaction", good | {"fee": True}, "malformed",
         "booleans are not numbers"),
        ("tx kind in upper case", "transaction", good | {"kind": "TRANSFER"}, "malformed",
         "enums are lower-case names"),
        ("tx kind as a number", "transaction", good | {"kind": 1}, "malformed",
         "enums are names, not numbers"),
        ("tx input index as a string", "transaction",
         good | {"inputs": [good["inputs"][0] | {"index": "0"}]}, "malformed",
         "u8/u16/u32 values are JSON integers, never strings"),
        ("tx zero output amount", "transaction", good | {"outputs": [out | {"amount": "0"}]},
         "bad_amount", "amounts are positive"),
        ("tx output amount with a fraction", "transaction",
         good | {"outputs": [out | {"amount": 1.5}]}, "bad_amount", "whole utia only"),
        ("tx output owner in mixed case", "transaction",
         good | {"outputs": [out | {"owner": out["owner"][:6] + out["owner"][6:].upper()}]},
         "bad_address", "an address is all lower or all upper case"),
        ("header tx_count as a string", "header", header.to_json() | {"tx_count": "4"},
         "malformed", "u32 values are JSON integers"),
        ("header version as a string", "header", header.to_json() | {"version": "1"},
         "malformed", "u8 values are JSON integers"),
        ("header chain id upper case", "header", header.to_json() | {"chain_id": "Devnet"},
         "malformed", "the chain id rules hold in headers"),
        ("receipt zero amount", "receipt", receipt.to_json() | {"amount": "0"}, "bad_amount",
         "receipt amounts are positive"),
        ("genesis block time as a string", "genesis", gen.to_json() | {"block_time_ms": "1000"},
         "malformed", "u32 values are JSON integers"),
        ("genesis block time 0", "genesis", gen.to_json() | {"block_time_ms": 0}, "malformed",
         "block_time_ms is positive"),
        ("entry of an unknown type", "entry", {"type": "coinbase", "body": {}}, "malformed",
         "entry types are the four names"),
        ("binding pay_to as hex", "payment_binding", bind | {"pay_to": pub(2).hex()},
         "bad_address", "pay_to is an account: its bech32m text"),
        ("binding amount 0", "payment_binding", bind | {"amount": "0"}, "bad_amount",
         "a price is positive"),
        ("binding method lower case", "payment_binding", bind | {"method": "get"}, "malformed",
         "methods are upper case; nothing is folded"),
        ("binding method with a Kelvin sign", "payment_binding", bind | {"method": "LIN\u212a"},
         "malformed", "ASCII only: U+212A is not K"),
        ("binding resource with a tab", "payment_binding", bind | {"resource": "/a\tb"},
         "malformed", "no ASCII control characters"),
        ("binding resource with a lone surrogate", "payment_binding",
         bind | {"resource": "/\ud800"}, "malformed", "text that has no UTF-8 form"),
        ("binding resource of 2049 bytes", "payment_binding",
         bind | {"resource": LONG_RESOURCE + "x"}, "malformed",
         "the bound is on UTF-8 bytes, not characters"),
        ("binding without the version key", "payment_binding",
         {k: v for k, v in bind.items() if k != "version"}, "malformed",
         "a binding's version is written out, like a receipt's"),
        ("receipt with the old resource_hash key", "receipt",
         receipt.to_json() | {"resource_hash": "00" * 32}, "malformed", "an unknown key"),
        ("merkle proof count as a string", "merkle_proof", proof | {"count": "5"}, "malformed",
         "u32 values are JSON integers"),
        ("merkle proof sibling in upper-case hex", "merkle_proof",
         proof | {"siblings": [proof["siblings"][0].upper(), *proof["siblings"][1:]]},
         "malformed", "hex is lower case"),
        ("merkle proof sibling of 31 bytes", "merkle_proof",
         proof | {"siblings": [proof["siblings"][0][2:], *proof["siblings"][1:]]}, "malformed",
         "siblings are 32 bytes"),
        ("merkle proof index equal to count", "merkle_proof", proof | {"index": 5}, "malformed",
         "index < count"),
        ("merkle proof one sibling short", "merkle_proof",
         proof | {"siblings": proof["siblings"][:2]}, "malformed", "leaf 2 of 5 has 3 siblings"),
        ("final receipt da_height as a float", "final_receipt", final | {"da_height": 12.0},
         "malformed", "a JSON number must be an integer"),
        ("final receipt da_commitment of 65 bytes", "final_receipt",
         final | {"da_commitment": "00" * 65}, "malformed", "at most 64 bytes"),
        ("final receipt without the inclusion proof", "final_receipt",
         {k: v for k, v in final.items() if k != "inclusion"}, "malformed",
         "every key is required"),
        ("final receipt with a zero-amount receipt", "final_receipt",
         final | {"receipt": {**final["receipt"], "receipt": receipt.to_json() | {"amount": "0"}}},
         "bad_amount", "nested values follow their own rules"),
    ]  # fmt: skip
    accepted: list[tuple[str, str, Any, Any]] = [
        ("tx with u64 values as JSON integers", "transaction",
         good | {"fee": tx.fee, "expiry_ms": tx.expiry_ms}, tx),
        ("tx with the largest u64 as a JSON integer", "transaction",
         transactions()[2][1].to_json() | {"expiry_ms": U64_MAX}, transactions()[2][1]),
        ("tx with an upper-case address", "transaction",
         good | {"outputs": [out | {"owner": out["owner"].upper()}, *good["outputs"][1:]]}, tx),
        ("genesis with u64 values as JSON integers", "genesis",
         gen.to_json() | {"genesis_time_ms": gen.genesis_time_ms, "min_fee": gen.min_fee}, gen),
        ("binding with an upper-case pay_to and the amount as a JSON integer", "payment_binding",
         bind | {"pay_to": bind["pay_to"].upper(), "amount": 1500}, BINDING),
        ("final receipt with da_height as a JSON integer", "final_receipt",
         final | {"da_height": 12}, final_receipt()),
    ]  # fmt: skip
    return {
        "invalid": [{"name": n, "type": t, "json": j, "error": e, "why": w}
                    for n, t, j, e, w in invalid],
        "accepted": [{"name": n, "type": t, "json": j, "hex": v.to_bytes().hex()}
                     for n, t, j, v in accepted],
    }  # fmt: skip


def blob_vectors() -> dict[str, list[dict[str, str]]]:
    """DA blobs (section 4, DA blob), decoded by a reader of chain ``chain_id``."""
    named = {name: value for name, value, _ in chain()}
    full, empty = named["block with one entry of each type"], named["block without entries"]
    blob = encode_blob(full)
    prefix = b"FNTB" + u8(1) + u8(6) + b"devnet"
    invalid = [
        ("not a Fontana blob", blob.replace(b"FNTB", b"FNTX", 1), "malformed", "magic"),
        ("blob version 2", b"FNTB" + u8(2) + blob[5:], "malformed", "unknown blob version"),
        ("blob chain id upper case", b"FNTB" + u8(1) + u8(6) + b"Devnet" + full.to_bytes(),
         "malformed", "the chain id rules hold in blobs"),
        ("blob chain id 33 chars", b"FNTB" + u8(1) + u8(33) + b"a" * 33 + full.to_bytes(),
         "malformed", "refused from the length byte"),
        ("blob of another chain", b"FNTB" + u8(1) + u8(5) + b"other" + full.to_bytes(),
         "malformed", "a reader of devnet skips it"),
        ("blob header of another chain",
         prefix + raw_header(chain_id=u8(5) + b"other", tx_count=u32(0)) + bytes(64) + u32(0),
         "malformed",
         "the header's chain id must be the blob's (checked after the block)"),
        ("blob with a trailing byte", blob + b"\x00", "malformed", "one byte after the block"),
        ("blob truncated", blob[:-1], "malformed", "last byte missing"),
    ]  # fmt: skip
    return {
        "valid": [{"name": n, "chain_id": "devnet", "hex": encode_blob(b).hex(),
                   "block": b.to_bytes().hex()}
                  for n, b in (("empty block", empty), ("one entry of each type", full))],
        "invalid": [{"name": n, "chain_id": "devnet", "hex": b.hex(), "error": e, "why": w}
                    for n, b, e, w in invalid],
    }  # fmt: skip


# --- hashes and addresses -------------------------------------------------------------


def merkle_vectors() -> list[dict[str, Any]]:
    out = []
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17):
        ids = [h(f"id {i}") for i in range(n)]
        out.append({"ids": [i.hex() for i in ids], "root": merkle_root(ids).hex()})
    return out


def merkle_proof_vectors() -> dict[str, list[dict[str, Any]]]:
    """Inclusion proofs in the trees of ``merkle_root`` (leaf ``i`` is ``h("id i")``)."""
    valid = []
    cases = {1: [0], 2: [0, 1], 3: [0, 1, 2], 5: [0, 2, 4], 7: [0, 3, 4, 6], 8: [0, 5, 7],
             9: [0, 7, 8], 16: [0, 9, 15], 17: [0, 13, 16]}  # fmt: skip
    for n, indexes in cases.items():
        ids = [h(f"id {i}") for i in range(n)]
        for index in indexes:
            proof = MerkleProof.build(ids, index)
            valid.append({"root": merkle_root(ids).hex(), "leaf": ids[index].hex(),
                          "index": index, "count": n,
                          "siblings": [x.hex() for x in proof.siblings],
                          "hex": proof.to_bytes().hex()})  # fmt: skip
    ids = [h(f"id {i}") for i in range(5)]
    root, sib = merkle_root(ids).hex(), [x.hex() for x in merkle_proof(ids, 2)]
    flipped = ("01" if sib[1][:2] != "01" else "02") + sib[1][2:]
    four = [h(f"id {i}") for i in range(4)]
    bad = [
        ("another leaf", ids[3].hex(), 2, 5, sib, "the proof is of id 2"),
        ("another index", ids[2].hex(), 3, 5, sib, "the path of leaf 3 turns the other way"),
        ("a sibling changed", ids[2].hex(), 2, 5, [sib[0], flipped, sib[2]], "one bit"),
        ("siblings reordered", ids[2].hex(), 2, 5, [sib[1], sib[0], sib[2]], "order is leaf first"),
        ("one sibling short", ids[2].hex(), 2, 5, sib[:2], "leaf 2 of 5 has 3 siblings"),
        ("one sibling too many", ids[2].hex(), 2, 5, [*sib, sib[0]], "leaf 2 of 5 has 3"),
        ("another count", ids[2].hex(), 2, 9, sib, "in a tree of 9 leaves leaf 2 has 4 siblings"),
        ("index equal to count", ids[2].hex(), 5, 5, sib, "index < count"),
        ("count 0", ids[2].hex(), 0, 0, [], "no leaf is in an empty tree"),
        ("the leaf hash as the leaf", tagged_hash("fontana/txroot/leaf", ids[2]).hex(), 2, 5,
         sib, "the leaf is the id; the verifier hashes it"),
        ("a subtree root as a leaf of a smaller tree",
         merkle_root(four[:2]).hex(), 0, 2, [merkle_root(four[2:]).hex()],
         "an inner node is never a leaf: their tags differ"),
    ]  # fmt: skip
    invalid = [{"name": n, "root": root if n != "a subtree root as a leaf of a smaller tree"
                else merkle_root(four).hex(), "leaf": leaf, "index": i, "count": c,
                "siblings": sb, "why": w} for n, leaf, i, c, sb, w in bad]  # fmt: skip
    return {"valid": valid, "invalid": invalid}


def request_hash_vectors() -> list[dict[str, str]]:
    """``request_hash(method, resource, body)`` with its preimage spelled out."""
    cases = [
        ("GET", "/weather?city=lisbon", b""),
        ("POST", "/v1/jobs", b'{"prompt": "hello"}'),
        ("PUT", "/caf\u00e9/\u2713?q=%20", bytes(range(256))),
    ]
    out = []
    for method, resource, body in cases:
        m, r = method.encode(), resource.encode("utf-8")
        preimage = u8(len(m)) + m + u16(len(r)) + r + hashlib.sha256(body).digest()
        digest = request_hash(method, resource, body)
        assert digest == tagged_hash("fontana/request", preimage)
        out.append({"method": method, "resource": resource, "body": body.hex(),
                    "preimage": preimage.hex(), "hash": digest.hex()})  # fmt: skip
    return out


def receipt_check_vectors() -> dict[str, Any]:
    """Receipts verified against the genesis vector: each invalid one fails exactly one check."""
    final = final_receipt()
    other = Genesis("devnet", 1_764_000_000_001, pub(3), b"fontana\x00\x00\x01", 1000, 1000, 12,
                    ())  # fmt: skip
    header = final.header.header

    def receipt(gh: bytes = GENESIS_HASH, **changes: Any) -> SignedReceipt:
        return SignedReceipt.sign(paid_receipt(**changes), key(2), gh)

    def signed(signer: int = 3, gh: bytes = GENESIS_HASH, **changes: Any) -> SignedHeader:
        return SignedHeader.sign(attrs.evolve(header, **changes), key(signer), gh)

    proof = final.inclusion
    bent = bytes([proof.siblings[0][0] ^ 1]) + proof.siblings[0][1:]
    flipped_sig = bytes([final.receipt.signature[0] ^ 1]) + final.receipt.signature[1:]
    bad: list[tuple[str, Any, str, str]] = [
        ("receipt of another chain", attrs.evolve(final, receipt=receipt(chain_id="other")),
         "receipt_chain", "signed by the payee, but for a chain id that is not the genesis'"),
        ("receipt signed for another deployment", attrs.evolve(final, receipt=receipt(other.hash)),
         "receipt_signature", "same chain id, another genesis hash"),
        ("receipt signature altered",
         attrs.evolve(final, receipt=attrs.evolve(final.receipt, signature=flipped_sig)),
         "receipt_signature", "one bit of the signature"),
        ("receipt amount altered after signing", attrs.evolve(final, receipt=attrs.evolve(
            final.receipt, receipt=paid_receipt(amount=1))), "receipt_signature",
         "the signature is over the receipt id"),
        ("header of another chain", attrs.evolve(final, header=signed(chain_id="other")),
         "header_chain", "signed by the sequencer for another chain id"),
        ("header proposed by another key", attrs.evolve(final, header=signed(4, proposer=pub(4))),
         "header_proposer", "validly signed by its proposer, who is not the genesis sequencer"),
        ("header signed for another deployment", attrs.evolve(final, header=signed(gh=other.hash)),
         "header_signature", "same chain id and sequencer, another genesis hash"),
        ("header height below the expected height",
         attrs.evolve(final, receipt=receipt(expected_height=8)), "expected_height",
         "the payment cannot be in a block before the one open when it settled"),
        ("proof count differs from the header's tx_count", attrs.evolve(
            final, inclusion=MerkleProof(proof.index, 6, proof.siblings)), "inclusion_count",
         "a proof of leaf 2 of 6 under a header of 5 entries"),
        ("proof of another index", attrs.evolve(
            final, inclusion=MerkleProof(3, 5, proof.siblings)), "inclusion",
         "the siblings of leaf 2 presented as those of leaf 3"),
        ("proof sibling altered", attrs.evolve(
            final, inclusion=MerkleProof(2, 5, (bent, *proof.siblings[1:]))), "inclusion",
         "one bit of the first sibling"),
        ("receipt for a payment not in the block",
         attrs.evolve(final, receipt=receipt(txid=h("another payment"))), "inclusion",
         "a valid receipt and a valid block, but the txid is not in it"),
        ("DA namespace of another deployment", attrs.evolve(final, da_namespace=bytes(10)),
         "da_namespace", "the namespace is the genesis'"),
    ]  # fmt: skip
    provisional = final.receipt
    bad_provisional: list[tuple[str, Any, str, str]] = [
        ("provisional receipt of another chain", receipt(chain_id="other"), "receipt_chain",
         "chain id not the genesis'"),
        ("provisional receipt signed for another deployment", receipt(other.hash),
         "receipt_signature", "another genesis hash"),
        ("provisional receipt signed by the payer",
         SignedReceipt(provisional.receipt, key(1).sign(
             signing_message(GENESIS_HASH, provisional.receipt.id)).signature),
         "receipt_signature", "only the payee's signature counts"),
    ]  # fmt: skip
    return {
        "genesis_hash": GENESIS_HASH.hex(),
        "valid": [{"name": "final receipt", "type": "final_receipt", "json": final.to_json()},
                  {"name": "provisional receipt", "type": "signed_receipt",
                   "json": provisional.to_json()}],
        "invalid": [{"name": n, "type": v.NAME, "json": v.to_json(), "check": c, "why": w}
                    for n, v, c, w in bad + bad_provisional],
        "da": {"blob": encode_blob(paid_block()[0]).hex(),
               "commitment": paid_block()[2].hex()},
    }  # fmt: skip


def signing_vectors() -> list[dict[str, str]]:
    """What each kind of signature signs: signing_message(genesis hash, id), by a fixed seed."""
    named = {name: value for name, value, _ in chain()}
    txid = transactions()[1][1].txid
    other = Genesis("devnet", 1_764_000_000_001, pub(3), b"fontana\x00\x00\x01", 1000, 1000, 12, ())
    cases = [
        ("transaction witness (txid)", GENESIS_HASH, txid, 1),
        ("the same txid on another deployment with the same chain id", other.hash, txid, 1),
        ("block header (header hash)", GENESIS_HASH, named["header"].hash, 3),
        ("receipt (receipt id)", GENESIS_HASH, named["receipt"].id, 2),
    ]
    out = []
    for name, gh, ident, i in cases:
        message = signing_message(gh, ident)
        out.append({"name": name, "genesis_hash": gh.hex(), "id": ident.hex(),
                    "message": message.hex(), "seed": seed(i).hex(), "pubkey": pub(i).hex(),
                    "signature": key(i).sign(message).signature.hex()})  # fmt: skip
    return out


def entries_hash_vectors() -> list[dict[str, str]]:
    """``header.entries_hash`` over a block body (``u32 count || entries``)."""
    named = {name: value for name, value, _ in chain()}
    bodies = [("no entries (block 0 and every empty block)", b"\x00\x00\x00\x00")]
    block = named["block with one entry of each type"]
    bodies.append(("one entry of each type", block.body_bytes()))
    return [{"name": n, "body": b.hex(), "hash": entries_hash(b).hex()} for n, b in bodies]


def tagged_hash_vectors() -> list[dict[str, str]]:
    return [
        {"tag": tag, "data": data.hex(), "hash": tagged_hash(tag, data).hex()}
        for tag in ALL_TAGS
        for data in (b"", b"\x00\xff")
    ]


def _bech32(hrp: str, payload: bytes, const: int) -> str:
    """Any bech32 variant of any payload: the invalid address vectors need both."""
    data = _convertbits(payload, 8, 5, pad=True)
    poly = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    check = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + check)


def address_vectors() -> dict[str, list[dict[str, str]]]:
    raws = [bytes(32), b"\xff" * 32, pub(1), pub(2)]
    good = encode_address(pub(1))
    typo = good[:10] + ("q" if good[10] != "q" else "p") + good[11:]
    swap = good[:-3] + good[-2] + good[-3] + good[-1]
    assert typo != good and swap != good
    bad = [
        (typo, "one character changed"),
        (swap, "two adjacent characters swapped"),
        (good[:5] + good[5:].upper(), "mixed case"),
        (good[:-1], "last character missing"),
        ("fnx" + good[3:], "wrong prefix"),
        (_bech32("cosmos", pub(1), 0x2BC830A3), "another chain's prefix, valid checksum"),
        (_bech32("fnt", pub(1), 1), "bech32 checksum instead of bech32m"),
        (_bech32("fnt", pub(1)[:20], 0x2BC830A3), "20-byte payload"),
        (good[:8] + "b" + good[9:], "'b' is not in the bech32 alphabet"),
        ("", "empty"),
    ]
    return {
        "valid": [{"hex": raw.hex(), "text": encode_address(raw)} for raw in raws],
        "invalid": [{"text": text, "why": why} for text, why in bad],
    }


# --- file --------------------------------------------------------------------------


# --- the L1 bridge (docs/protocol.md, section 9) -------------------------------------

#: Bridge validator i has the secp256k1 private key bytes([i]) * 32.
BRIDGE_CHAIN_ID = 31337


def _eip712(checkpoint: dict[str, Any], chain_id: int, vault: bytes) -> tuple[bytes, ...]:
    """(domain separator, struct hash, digest) by eth-account's own EIP-712 encoder."""
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak, to_checksum_address

    message = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Checkpoint": [
                    {"name": "genesisHash", "type": "bytes32"},
                    {"name": "height", "type": "uint64"},
                    {"name": "stateRoot", "type": "bytes32"},
                ],
            },
            "primaryType": "Checkpoint",
            "domain": {
                "name": "Fontana Vault",
                "version": "1",
                "chainId": chain_id,
                "verifyingContract": to_checksum_address(vault),
            },
            "message": checkpoint,
        }
    )
    digest = keccak(b"\x19" + message.version + message.header + message.body)
    return message.header, message.body, digest


def checkpoint_vector(
    name: str, height: int, state_root: bytes, chain_id: int, vault: bytes, signers: list[int]
) -> dict[str, Any]:
    from eth_account import Account

    fields = {"genesisHash": GENESIS_HASH, "height": height, "stateRoot": state_root}
    domain, struct_hash, digest = _eip712(fields, chain_id, vault)
    signed = []
    for i in signers:
        account = Account.from_key(bytes([i]) * 32)
        signature = bytes(Account.unsafe_sign_hash(digest, account.key).signature)
        signed.append((bytes.fromhex(account.address[2:]), bytes([i]) * 32, signature))
    return {
        "name": name,
        "genesis_hash": GENESIS_HASH.hex(),
        "height": str(height),
        "state_root": state_root.hex(),
        "chain_id": str(chain_id),
        "vault": vault.hex(),
        "domain_separator": domain.hex(),
        "struct_hash": struct_hash.hex(),
        "digest": digest.hex(),
        "signatures": [
            {"key": k.hex(), "address": a.hex(), "signature": sig.hex()}
            for a, k, sig in sorted(signed)
        ],
    }


def bridge_vectors() -> dict[str, Any]:
    """Checkpoint digests and signatures, and one release's every argument."""
    from fontana.smt import MemoryNodeStore, SparseMerkleTree

    named = dict(records())
    leaf = named["withdrawal leaf"]
    other = named["withdrawal leaf native max"]
    tree_items = sorted(
        [
            (utxo_key(named["utxo"].outpoint), named["utxo"].leaf_value_hash()),
            (utxo_key(named["utxo max"].outpoint), named["utxo max"].leaf_value_hash()),
            (leaf.key, leaf.leaf_value_hash()),
            (other.key, other.leaf_value_hash()),
        ]
    )
    tree = SparseMerkleTree(MemoryNodeStore())
    root = tree.apply_batch(1, dict(tree_items))
    height = 5
    return {
        "checkpoints": [
            checkpoint_vector(
                "release checkpoint", height, root, BRIDGE_CHAIN_ID, VAULT, [1, 2, 3]
            ),
            checkpoint_vector("another chain, largest height", U64_MAX, h("root"), 1, TOKEN, [4]),
        ],
        "release": {
            "leaf": leaf.to_bytes().hex(),
            "key": leaf.key.hex(),
            "value_hash": leaf.leaf_value_hash().hex(),
            "tree": [[k.hex(), v.hex()] for k, v in tree_items],
            "root": root.hex(),
            "proof": tree.prove(leaf.key, 1).to_bytes().hex(),
            "checkpoint": "release checkpoint",
        },
    }


def build() -> dict[str, Any]:
    valid = [valid_vector(n, v, s) for n, v, s in transactions()]
    valid += [valid_vector(n, v, []) for n, v in records()]
    valid += [valid_vector(n, v, s) for n, v, s in chain()]
    valid += [valid_vector(n, v, s) for n, v, s in payments()]
    return {
        "version": 1,
        "description": "Fontana canonical encoding vectors; see docs/protocol.md",
        "hash_tags": list(ALL_TAGS),
        "valid": valid,
        "invalid": invalid(),
        "json": json_vectors(),
        "blobs": blob_vectors(),
        "merkle_root": merkle_vectors(),
        "merkle_proofs": merkle_proof_vectors(),
        "request_hash": request_hash_vectors(),
        "receipt_checks": receipt_check_vectors(),
        "signing": signing_vectors(),
        "entries_hash": entries_hash_vectors(),
        "tagged_hash": tagged_hash_vectors(),
        "addresses": address_vectors(),
        "bridge": bridge_vectors(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else OUT
    path.write_text(render(build()), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
