"""Paid-call models: the binding, the request hash, inclusion proofs and receipt verification."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from fontana.da.blob import encode_blob
from fontana.errors import AmountError, EncodingError, FontanaError, ReceiptError
from fontana.hashing import (
    merkle_path,
    merkle_proof,
    merkle_root,
    tagged_hash,
    verify_merkle_proof,
)
from fontana.models import (
    Block,
    BlockHeader,
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
    encode_entries,
    entries_hash,
    entry_id,
    request_hash,
    verify_final_receipt,
    verify_receipt,
)
from fontana.receipts import (
    read_receipt,
    verify_final_receipt_blob,
    verify_provisional,
    verify_receipt_json,
)

PAYER, PAYEE, SEQ, OTHER = (SigningKey(bytes([i]) * 32) for i in (1, 2, 3, 4))


def pk(key: SigningKey) -> bytes:
    return bytes(key.verify_key)


GENESIS = Genesis(
    "paynet", 1_000, pk(SEQ), b"fontana\x00\x00\x07", 1000, 1, 0, ((pk(PAYER), 10**9),)
)
#: Same chain id and sequencer, another deployment.
TWIN = attrs.evolve(GENESIS, genesis_time_ms=1_001)


def ids(n: int) -> list[bytes]:
    return [hashlib.sha256(b"id %d" % i).digest() for i in range(n)]


# --- binding and request hash -----------------------------------------------------------


def test_payload_hash_is_the_tagged_binding() -> None:
    binding = PaymentBinding(pk(PAYEE), 1500, "GET", "/weather?city=lisbon")
    assert binding.version == 1
    assert binding.payload_hash == tagged_hash("fontana/payment", binding.to_bytes())
    assert binding.to_bytes() == (
        b"\x01"
        + pk(PAYEE)
        + (1500).to_bytes(8, "big")
        + b"\x03GET"
        + b"\x00\x14/weather?city=lisbon"
    )
    others = [
        attrs.evolve(binding, **change)
        for change in (
            {"pay_to": pk(OTHER)},
            {"amount": 1501},
            {"method": "POST"},
            {"resource": "/weather?city=porto"},
        )
    ]
    assert len({binding.payload_hash, *(o.payload_hash for o in others)}) == 5


@pytest.mark.parametrize("method", ["GET", "POST", "M-SEARCH", "BASELINE-CONTROL", "X_1.~|`^"])
def test_methods_accepted(method: str) -> None:
    assert PaymentBinding(pk(PAYEE), 1, method, "/").method == method


@pytest.mark.parametrize(
    "method", ["", "get", "Get", "GE T", "GET\n", "A" * 17, "G\u212aT", "GÉT", "GET/", "(GET)", 1]
)
def test_methods_refused(method: Any) -> None:
    with pytest.raises(EncodingError, match="PaymentBinding.method"):
        PaymentBinding(pk(PAYEE), 1, method, "/")


@pytest.mark.parametrize(
    "resource",
    [
        "/",
        "/a b",
        "/caf\u00e9?q=\u2713",
        "/\u0085\u2028",
        "/#frag",
        "//x",
        "/" + "\u00e9" * 1023 + "x",
    ],
)
def test_resources_accepted(resource: str) -> None:
    """Anything after "/" but ASCII controls: non-ASCII (C1 controls too) is the client's text."""
    binding = PaymentBinding(pk(PAYEE), 1, "GET", resource)
    assert PaymentBinding.from_bytes(binding.to_bytes()) == binding
    assert PaymentBinding.from_json(binding.to_json()) == binding


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "a",
        " /",
        "\\",
        *(f"/{chr(c)}" for c in [*range(32), 127]),
        "/\ud800",
        "/" + "\u00e9" * 1024,
        "/" * 2049,
        b"/",
    ],
)
def test_resources_refused(resource: Any) -> None:
    with pytest.raises(EncodingError, match="PaymentBinding.resource"):
        PaymentBinding(pk(PAYEE), 1, "GET", resource)


def test_binding_amount_is_a_positive_amount() -> None:
    with pytest.raises(AmountError):
        PaymentBinding(pk(PAYEE), 0, "GET", "/")
    with pytest.raises(EncodingError, match="version"):
        PaymentBinding(pk(PAYEE), 1, "GET", "/", version=2)


def test_request_hash_definition() -> None:
    body = b'{"q": 1}'
    preimage = b"\x04POST" + b"\x00\x03/v1" + hashlib.sha256(body).digest()
    assert request_hash("POST", "/v1", body) == tagged_hash("fontana/request", preimage)
    assert request_hash("POST", "/v1", bytearray(body)) == request_hash("POST", "/v1", body)
    distinct = {
        request_hash("POST", "/v1", body),
        request_hash("PUT", "/v1", body),
        request_hash("POST", "/v2", body),
        request_hash("POST", "/v1", body + b" "),
    }
    assert len(distinct) == 4


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("get", "/", b""), "request.method"),
        (("GET", "x", b""), "request.resource"),
        (("GET", "/\x00", b""), "request.resource"),
        (("GET", "/", "text"), "request.body"),
        (("GET", "/", None), "request.body"),
        ((None, "/", b""), "request.method"),
    ],
)
def test_request_hash_refuses_what_a_receipt_cannot_hold(args: tuple[Any, ...], where: str) -> None:
    with pytest.raises(EncodingError, match=where):
        request_hash(*args)


# --- inclusion proofs -----------------------------------------------------------------


def _reference_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962's PATH(m, D[n]) written from its recursive definition, siblings leaf first."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return [*_reference_path(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*_reference_path(index - k, leaves[k:]), merkle_root(leaves[:k])]


def test_proofs_follow_rfc6962_for_every_leaf_of_small_trees() -> None:
    leaves = ids(40)
    for n in range(1, 41):
        root = merkle_root(leaves[:n])
        for i in range(n):
            path = merkle_proof(leaves[:n], i)
            assert path == _reference_path(i, leaves[:n])
            assert len(path) == len(merkle_path(i, n))
            assert verify_merkle_proof(root, leaves[i], i, n, path)
            assert MerkleProof.build(leaves[:n], i).verify(root, leaves[i])


@given(st.integers(1, 70), st.data())
def test_any_change_to_a_proof_fails(n: int, data: st.DataObject) -> None:
    leaves = ids(n)
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, n - 1))
    path = merkle_proof(leaves, i)
    assert not verify_merkle_proof(root, leaves[(i + 1) % n] if n > 1 else bytes(32), i, n, path)
    if path:
        j = data.draw(st.integers(0, len(path) - 1))
        bit = data.draw(st.integers(0, 255))
        bent = bytearray(path[j])
        bent[bit // 8] ^= 1 << (bit % 8)
        assert not verify_merkle_proof(
            root, leaves[i], i, n, [*path[:j], bytes(bent), *path[j + 1 :]]
        )
        assert not verify_merkle_proof(root, leaves[i], i, n, path[:-1])
    assert not verify_merkle_proof(root, leaves[i], i, n, [*path, root])
    other = data.draw(st.integers(0, n - 1).filter(lambda x: x != i) if n > 1 else st.just(i))
    if other != i:
        assert not verify_merkle_proof(root, leaves[i], other, n, merkle_proof(leaves, other))


def test_the_count_only_shapes_the_path() -> None:
    """A proof holds in every tree size that gives its leaf the same path: the verifier of a
    final receipt therefore checks the count against the header's tx_count."""
    leaves = ids(5)
    path = merkle_proof(leaves, 2)
    assert merkle_path(2, 5) == merkle_path(2, 6) == merkle_path(2, 7)
    assert verify_merkle_proof(merkle_root(leaves), leaves[2], 2, 6, path)
    assert not verify_merkle_proof(merkle_root(leaves), leaves[2], 2, 9, path)


HOSTILE: list[Any] = [
    None,
    -1,
    2**32,
    2**64,
    10**5000,
    True,
    1.0,
    "1",
    b"",
    b"\x00" * 31,
    bytearray(32),
    "00" * 32,
    [],
    [b"\x00" * 32] * 40,
    "siblings",
]


@given(st.data())
def test_verify_answers_false_to_anything(data: st.DataObject) -> None:
    leaves = ids(5)
    good: list[Any] = [merkle_root(leaves), leaves[2], 2, 5, merkle_proof(leaves, 2)]
    args = list(good)
    for pos in data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True)):
        args[pos] = data.draw(st.sampled_from(HOSTILE))
    assert verify_merkle_proof(*args) is False


def test_merkle_proof_refuses_bad_arguments() -> None:
    for index in (-1, 5, True, "0", None):
        with pytest.raises(EncodingError, match="merkle_proof: index"):
            merkle_proof(ids(5), index)  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="merkle_proof: index"):
        merkle_proof([], 0)
    with pytest.raises(EncodingError, match="merkle_proof: id 1"):
        merkle_proof([bytes(32), bytes(31)], 0)


def test_largest_block_proof() -> None:
    """65,536 entries: 16 siblings, the most a MerkleProof holds."""
    leaves = [i.to_bytes(32, "big") for i in range(65_536)]
    proof = MerkleProof.build(leaves, 40_000)
    assert len(proof.siblings) == 16
    assert proof.verify(merkle_root(leaves), leaves[40_000])
    assert MerkleProof.from_bytes(proof.to_bytes()) == proof


# --- receipts ---------------------------------------------------------------------------


def _payment(binding: PaymentBinding) -> Transaction:
    return Transaction(
        kind=TxKind.PAYMENT,
        chain_id=GENESIS.chain_id,
        inputs=(OutPoint(GENESIS.hash, 0),),
        outputs=(TxOutput(binding.pay_to, binding.amount), TxOutput(pk(PAYER), 10**9 - 1501)),
        fee=1,
        expiry_ms=60_000,
        payload_hash=binding.payload_hash,
    ).sign(PAYER, GENESIS.hash)


BINDING = PaymentBinding(pk(PAYEE), 1500, "POST", "/v1/answer?x=1")
PAYMENT = _payment(BINDING)
OTHERS = [FeeCredit(i, pk(SEQ), i + 1) for i in range(1, 6)]


def _receipt(**changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "chain_id": GENESIS.chain_id,
        "txid": PAYMENT.txid,
        "payer": pk(PAYER),
        "payee": pk(PAYEE),
        "amount": 1500,
        "method": "POST",
        "resource": "/v1/answer?x=1",
        "request_hash": request_hash("POST", "/v1/answer?x=1", b"{}"),
        "issued_at_ms": 5_000,
        "expected_height": 3,
    }
    return Receipt(**(fields | changes))


def _block(height: int = 3, entries: tuple[Any, ...] | None = None, **changes: Any) -> Block:
    entries = (OTHERS[0], OTHERS[1], PAYMENT, *OTHERS[2:]) if entries is None else entries
    header = BlockHeader(
        1,
        GENESIS.chain_id,
        height,
        bytes(32),
        7_000,
        merkle_root([entry_id(e) for e in entries]),
        entries_hash(encode_entries(entries)),
        bytes(32),
        len(entries),
        pk(SEQ),
    )
    signer = changes.pop("signer", SEQ)
    genesis_hash = changes.pop("genesis_hash", GENESIS.hash)
    header = attrs.evolve(header, **changes)
    return Block(SignedHeader.sign(header, signer, genesis_hash), entries)


def _final(
    block: Block | None = None,
    receipt: SignedReceipt | None = None,
    leaves: list[bytes] | None = None,
) -> FinalReceipt:
    """The final receipt of PAYMENT in ``block``, whose tx root is over ``leaves``."""
    block = _block() if block is None else block
    leaves = [entry_id(e) for e in block.entries] if leaves is None else leaves
    return FinalReceipt(
        receipt=SignedReceipt.sign(_receipt(), PAYEE, GENESIS.hash) if receipt is None else receipt,
        header=block.header,
        inclusion=MerkleProof.build(leaves, leaves.index(PAYMENT.txid)),
        da_height=9,
        da_commitment=b"\x07" * 32,
        da_namespace=GENESIS.da_namespace,
    )


def test_receipt_id_and_signature() -> None:
    receipt = _receipt()
    assert receipt.version == 1
    assert receipt.id == tagged_hash("fontana/receipt", receipt.to_bytes())
    signed = SignedReceipt.sign(receipt, PAYEE, GENESIS.hash)
    verify_receipt(signed, GENESIS.hash)
    verify_provisional(signed, GENESIS)
    with pytest.raises(ReceiptError, match=r"signed_receipt\.signature") as info:
        verify_receipt(signed, TWIN.hash)
    assert (info.value.code, info.value.check) == ("bad_receipt", "receipt_signature")
    with pytest.raises(EncodingError, match="payee"):
        SignedReceipt.sign(receipt, PAYER, GENESIS.hash)


def test_a_valid_final_receipt_verifies() -> None:
    final = _final()
    verify_final_receipt(final, GENESIS)
    assert FinalReceipt.from_bytes(final.to_bytes()) == final
    assert FinalReceipt.from_json(final.to_json()) == final
    assert verify_receipt_json(final.to_json(), GENESIS) == final
    # The block after the expected one verifies too: the payment waited for space.
    verify_final_receipt(_final(_block(height=4)), GENESIS)


def _bent(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:]


def _name(value: Any) -> str:
    return value if isinstance(value, str) and " " in value else ""


def _failures() -> list[tuple[str, FinalReceipt, str, str]]:
    final = _final()
    proof = final.inclusion
    sign = lambda r, key=PAYEE, gh=GENESIS.hash: SignedReceipt.sign(r, key, gh)  # noqa: E731
    payer_signed = SignedReceipt(_receipt(payee=pk(PAYER)), b"\x00" * 64)
    return [
        (
            "receipt of another chain",
            _final(receipt=sign(_receipt(chain_id="other"))),
            "receipt_chain",
            r"final_receipt\.receipt\.receipt\.chain_id: 'other'",
        ),
        (
            "receipt for another deployment",
            _final(receipt=sign(_receipt(), gh=TWIN.hash)),
            "receipt_signature",
            r"final_receipt\.receipt\.signature",
        ),
        (
            "receipt signature bent",
            attrs.evolve(
                final, receipt=attrs.evolve(final.receipt, signature=_bent(final.receipt.signature))
            ),
            "receipt_signature",
            r"final_receipt\.receipt\.signature",
        ),
        (
            "receipt changed after signing",
            attrs.evolve(final, receipt=attrs.evolve(final.receipt, receipt=_receipt(amount=1))),
            "receipt_signature",
            r"final_receipt\.receipt\.signature",
        ),
        (
            "receipt with a zero signature",
            _final(receipt=payer_signed),
            "receipt_signature",
            r"final_receipt\.receipt\.signature",
        ),
        (
            "header of another chain",
            _final(_block(chain_id="other")),
            "header_chain",
            r"final_receipt\.header\.header\.chain_id: 'other'",
        ),
        (
            "header proposed by another key",
            _final(_block(proposer=pk(OTHER), signer=OTHER)),
            "header_proposer",
            r"final_receipt\.header\.header\.proposer",
        ),
        (
            "header for another deployment",
            _final(_block(genesis_hash=TWIN.hash)),
            "header_signature",
            r"final_receipt\.header\.signature",
        ),
        (
            "header signature bent",
            attrs.evolve(
                final, header=attrs.evolve(final.header, signature=_bent(final.header.signature))
            ),
            "header_signature",
            r"final_receipt\.header\.signature",
        ),
        (
            "header before the expected block",
            _final(_block(height=2)),
            "expected_height",
            r"final_receipt\.header\.header\.height: 2 is below the receipt's expected_height 3",
        ),
        (
            "proof count not the header's",
            attrs.evolve(final, inclusion=MerkleProof(2, 7, proof.siblings)),
            "inclusion_count",
            r"final_receipt\.inclusion\.count: 7 differs from the header's tx_count 6",
        ),
        (
            "proof of another index",
            attrs.evolve(final, inclusion=MerkleProof(3, 6, proof.siblings)),
            "inclusion",
            r"final_receipt\.inclusion: does not prove txid",
        ),
        (
            "payment not in the block",
            _final(receipt=sign(_receipt(txid=bytes(32)))),
            "inclusion",
            r"final_receipt\.inclusion: does not prove txid 0000",
        ),
        (
            "namespace of another deployment",
            attrs.evolve(final, da_namespace=bytes(10)),
            "da_namespace",
            r"final_receipt\.da_namespace: 00000000000000000000 is not",
        ),
    ]


@pytest.mark.parametrize(("name", "final", "check", "message"), _failures(), ids=_name)
def test_every_failure_names_what_failed(
    name: str, final: FinalReceipt, check: str, message: str
) -> None:
    with pytest.raises(ReceiptError, match=message) as info:
        verify_final_receipt(final, GENESIS)
    assert (info.value.code, info.value.check) == ("bad_receipt", check), name
    with pytest.raises(ReceiptError) as again:
        verify_receipt_json(final.to_json(), GENESIS)
    assert again.value.check == check


def test_every_documented_check_is_tested() -> None:
    tested = {check for _, _, check, _ in _failures()}
    assert tested == {
        "receipt_chain",
        "receipt_signature",
        "header_chain",
        "header_proposer",
        "header_signature",
        "expected_height",
        "inclusion_count",
        "inclusion",
        "da_namespace",
    }


def test_the_first_failing_check_wins() -> None:
    """Another chain and another namespace: the receipt's chain comes first."""
    final = attrs.evolve(
        _final(receipt=SignedReceipt.sign(_receipt(chain_id="other"), PAYEE, GENESIS.hash)),
        da_namespace=bytes(10),
    )
    with pytest.raises(ReceiptError) as info:
        verify_final_receipt(final, GENESIS)
    assert info.value.check == "receipt_chain"


def test_provisional_receipt_documents() -> None:
    signed = SignedReceipt.sign(_receipt(), PAYEE, GENESIS.hash)
    assert read_receipt(signed.to_json()) == signed
    assert verify_receipt_json(signed.to_json(), GENESIS) == signed
    other = SignedReceipt.sign(_receipt(chain_id="other"), PAYEE, GENESIS.hash)
    with pytest.raises(ReceiptError, match=r"signed_receipt\.receipt\.chain_id") as info:
        verify_receipt_json(other.to_json(), GENESIS)
    assert info.value.check == "receipt_chain"
    with pytest.raises(ReceiptError) as info:
        verify_receipt_json(signed.to_json(), TWIN)
    assert info.value.check == "receipt_signature"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (None, "signed_receipt: expected a JSON object"),
        ([], "signed_receipt: expected a JSON object"),
        ({}, "signed_receipt: missing keys receipt, signature"),
        ({"inclusion": {}}, "final_receipt: missing keys receipt"),
        ({"receipt": {}, "signature": "00"}, r"signed_receipt\.receipt: missing keys"),
    ],
)
def test_receipt_documents_are_strict(data: Any, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        verify_receipt_json(data, GENESIS)


@given(st.data())
def test_hostile_receipt_documents_answer_typed_errors(data: st.DataObject) -> None:
    from hostile_helpers import mutated_json

    seed = data.draw(st.sampled_from([_final().to_json(), _final().receipt.to_json()]))
    with contextlib.suppress(FontanaError):
        verify_receipt_json(data.draw(mutated_json(seed)), GENESIS)


# --- the DA check -------------------------------------------------------------------------


def test_da_blob_of_the_receipt() -> None:
    block = _block()
    final = _final(block)
    verify_final_receipt_blob(final, encode_blob(block), GENESIS)


def _blob_failure(final: FinalReceipt, blob: bytes) -> ReceiptError:
    with pytest.raises(ReceiptError) as info:
        verify_final_receipt_blob(final, blob, GENESIS)
    assert info.value.code == "bad_receipt"
    return info.value


def test_da_blob_failures_name_what_failed() -> None:
    block = _block()
    final = _final(block)
    blob = encode_blob(block)
    assert _blob_failure(final, b"not a blob").check == "da_blob"
    assert _blob_failure(final, blob[:40]).check == "da_blob"
    other_chain = encode_blob(_block(chain_id="other"))
    assert _blob_failure(final, other_chain).check == "da_blob"
    assert _blob_failure(final, encode_blob(_block(height=4))).check == "da_header"
    # The receipt's header, but other entries behind it.
    swapped = Block(block.header, (*block.entries[:2], OTHERS[4], *block.entries[3:]))
    assert _blob_failure(final, encode_blob(swapped)).check == "da_entries"


def test_da_blob_of_a_lying_sequencer() -> None:
    """A signed header whose tx_root names the payment though the block does not hold it."""
    entries = tuple(OTHERS)
    claimed = [entry_id(e) for e in entries]
    claimed[2] = PAYMENT.txid
    block = _block(entries=entries, tx_root=merkle_root(claimed))
    final = _final(block, leaves=claimed)
    verify_final_receipt(final, GENESIS)  # offline, the header vouches for it
    error = _blob_failure(final, encode_blob(block))
    assert error.check == "da_entry" and "inclusion.index: entry 2" in error.message


def test_da_blob_with_entries_that_do_not_decode() -> None:
    """A signed header committing to bytes that are not entries: found by the DA check."""
    body = (1).to_bytes(4, "big") + b"\x09" + bytes(8)
    header = attrs.evolve(_block().header.header, entries_hash=entries_hash(body), tx_count=1)
    signed = SignedHeader.sign(header, SEQ, GENESIS.hash)
    blob = b"FNTB\x01" + bytes([len(GENESIS.chain_id)]) + GENESIS.chain_id.encode()
    blob += signed.to_bytes() + body
    final = attrs.evolve(_final(), header=signed)
    error = _blob_failure(final, blob)
    assert error.check == "da_blob" and "does not decode" in error.message
