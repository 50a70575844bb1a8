"""tests/vectors/encoding.json: Python passes every vector, and the file is reproducible."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from fontana.address import decode_address, encode_address
from fontana.da.blob import decode_blob, encode_blob
from fontana.errors import EncodingError, ReceiptError
from fontana.hashing import (
    ALL_TAGS,
    merkle_proof,
    merkle_root,
    signing_message,
    tagged_hash,
    verify_merkle_proof,
)
from fontana.models import (
    UTXO,
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
    TxOutput,
    WithdrawalConfirmation,
    WithdrawalLeaf,
    WithdrawalRequest,
    Witness,
    decode_entry,
    encode_entry,
    entries_hash,
    entry_from_json,
    entry_id,
    entry_to_json,
    request_hash,
    utxo_key,
)
from fontana.receipts import verify_final_receipt_blob, verify_receipt_json

VECTORS = Path(__file__).parent / "vectors"
DATA: dict[str, Any] = json.loads((VECTORS / "encoding.json").read_text())

MODELS = (OutPoint, TxOutput, WithdrawalRequest, Witness, Transaction, UTXO, Deposit,
          WithdrawalConfirmation, WithdrawalLeaf, FeeCredit, BlockHeader, SignedHeader, Block,
          Receipt, SignedReceipt, Genesis, PaymentBinding, MerkleProof, FinalReceipt)  # fmt: skip
Codec = tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], bytes], Callable]
CODECS: dict[str, Codec] = {
    m.NAME: (m.from_bytes, m.from_json, lambda v: v.to_bytes(), lambda v: v.to_json())
    for m in MODELS
}
CODECS["entry"] = (decode_entry, entry_from_json, encode_entry, entry_to_json)


def _ident(value: Any) -> bytes:
    if isinstance(value, Transaction | Deposit | WithdrawalConfirmation | FeeCredit):
        return entry_id(value)
    if isinstance(value, Receipt):
        return value.id
    if isinstance(value, SignedReceipt):
        return value.receipt.id
    if isinstance(value, FinalReceipt):
        return value.receipt.receipt.id
    if isinstance(value, PaymentBinding):
        return value.payload_hash
    if isinstance(value, BlockHeader | Genesis):
        return value.hash
    if isinstance(value, SignedHeader):
        return value.header.hash
    if isinstance(value, Block):
        return value.header.header.hash
    assert isinstance(value, UTXO | WithdrawalLeaf)
    return value.leaf_value_hash()


def _signatures(value: Any, vec: dict[str, Any]) -> list[tuple[bytes, bool]]:
    """Each signature in the value, in byte order: (signer's key, verifies for the genesis)."""
    gh = bytes.fromhex(vec.get("genesis_hash", "00" * 32))
    match value:
        case Transaction():
            ok = value.verify_witnesses(gh)
            return [(w.pubkey, ok) for w in value.witnesses]
        case Witness():
            return [(value.pubkey, value.verify(gh, bytes.fromhex(vec["signed_id"])))]
        case SignedHeader():
            return [(value.header.proposer, value.verify(gh))]
        case SignedReceipt():
            return [(value.receipt.payee, value.verify(gh))]
        case Block():
            inner = [s for e in value.entries for s in _signatures(e, vec)]
            return [*_signatures(value.header, vec), *inner]
        case FinalReceipt():
            return [*_signatures(value.receipt, vec), *_signatures(value.header, vec)]
    return []


def test_file_is_reproducible() -> None:
    spec = importlib.util.spec_from_file_location("vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render(module.build()) == (VECTORS / "encoding.json").read_text()


def test_schema_and_tags() -> None:
    assert DATA["version"] == 1
    assert DATA["hash_tags"] == list(ALL_TAGS)
    assert {v["type"] for v in DATA["valid"]} == set(CODECS)


@pytest.mark.parametrize("vec", DATA["valid"], ids=lambda v: v["name"])
def test_valid(vec: dict[str, Any]) -> None:
    from_bytes, from_json, to_bytes, to_json = CODECS[vec["type"]]
    raw = bytes.fromhex(vec["hex"])
    value = from_bytes(raw)
    assert from_json(vec["json"]) == value
    assert to_bytes(value).hex() == vec["hex"]
    assert to_json(value) == vec["json"]
    if "id" in vec:
        assert _ident(value).hex() == vec["id"]
    if "unsigned_hex" in vec:
        assert value.unsigned_bytes().hex() == vec["unsigned_hex"]
        assert tagged_hash("fontana/tx", value.unsigned_bytes()).hex() == vec["id"]
    if "key" in vec:
        key = value.key if isinstance(value, WithdrawalLeaf) else utxo_key(value.outpoint)
        assert key.hex() == vec["key"]
    keys = [bytes(SigningKey(bytes.fromhex(s)).verify_key) for s in vec.get("signing_seed", [])]
    signatures = _signatures(value, vec)
    assert [k for k, _ in signatures] == keys
    assert all(ok for _, ok in signatures)
    if isinstance(value, Block):
        header = value.header.header
        assert value.compute_tx_root() == header.tx_root
        body = raw[len(value.header.to_bytes()) :]
        assert entries_hash(body) == value.compute_entries_hash() == header.entries_hash


@pytest.mark.parametrize("vec", DATA["invalid"], ids=lambda v: v["name"])
def test_invalid(vec: dict[str, Any]) -> None:
    from_bytes = CODECS[vec["type"]][0]
    with pytest.raises(EncodingError) as info:
        from_bytes(bytes.fromhex(vec["hex"]))
    assert info.value.code == vec["error"]


@pytest.mark.parametrize("vec", DATA["json"]["invalid"], ids=lambda v: v["name"])
def test_invalid_json(vec: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as info:
        CODECS[vec["type"]][1](vec["json"])
    assert info.value.code == vec["error"]


@pytest.mark.parametrize("vec", DATA["json"]["accepted"], ids=lambda v: v["name"])
def test_accepted_json(vec: dict[str, Any]) -> None:
    """Non-canonical JSON that decodes to the value of ``hex`` (and re-encodes canonically)."""
    from_bytes, from_json, _, to_json = CODECS[vec["type"]]
    value = from_json(vec["json"])
    assert value == from_bytes(bytes.fromhex(vec["hex"]))
    assert to_json(value) != vec["json"]


@pytest.mark.parametrize("vec", DATA["blobs"]["valid"], ids=lambda v: v["name"])
def test_valid_blob(vec: dict[str, Any]) -> None:
    block = decode_blob(bytes.fromhex(vec["hex"]), vec["chain_id"])
    assert block.to_bytes().hex() == vec["block"]
    assert encode_blob(block).hex() == vec["hex"]


@pytest.mark.parametrize("vec", DATA["blobs"]["invalid"], ids=lambda v: v["name"])
def test_invalid_blob(vec: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as info:
        decode_blob(bytes.fromhex(vec["hex"]), vec["chain_id"])
    assert info.value.code == vec["error"]


@pytest.mark.parametrize("vec", DATA["merkle_root"], ids=lambda v: str(len(v["ids"])))
def test_merkle_root(vec: dict[str, Any]) -> None:
    assert merkle_root([bytes.fromhex(i) for i in vec["ids"]]).hex() == vec["root"]


def _proof_args(vec: dict[str, Any]) -> tuple[bytes, bytes, int, int, list[bytes]]:
    siblings = [bytes.fromhex(s) for s in vec["siblings"]]
    root, leaf = bytes.fromhex(vec["root"]), bytes.fromhex(vec["leaf"])
    return root, leaf, vec["index"], vec["count"], siblings


@pytest.mark.parametrize("vec", DATA["merkle_proofs"]["valid"],
                         ids=lambda v: f"{v['index']} of {v['count']}")  # fmt: skip
def test_merkle_proof(vec: dict[str, Any]) -> None:
    root, leaf, index, count, siblings = _proof_args(vec)
    ids = [bytes.fromhex(i) for i in next(
        v["ids"] for v in DATA["merkle_root"] if len(v["ids"]) == count)]  # fmt: skip
    assert merkle_root(ids) == root and ids[index] == leaf
    assert merkle_proof(ids, index) == siblings
    assert verify_merkle_proof(root, leaf, index, count, siblings)
    proof = MerkleProof.from_bytes(bytes.fromhex(vec["hex"]))
    assert proof == MerkleProof(index, count, tuple(siblings)) and proof.verify(root, leaf)


@pytest.mark.parametrize("vec", DATA["merkle_proofs"]["invalid"], ids=lambda v: v["name"])
def test_invalid_merkle_proof(vec: dict[str, Any]) -> None:
    assert not verify_merkle_proof(*_proof_args(vec)), vec["why"]


def test_merkle_proofs_cover_the_shapes() -> None:
    """Several tree sizes (one leaf, powers of two and one past them), first and last leaves."""
    valid = DATA["merkle_proofs"]["valid"]
    assert {v["count"] for v in valid} >= {1, 2, 3, 5, 8, 9, 16, 17}
    assert all({0, n - 1} <= {v["index"] for v in valid if v["count"] == n} for n in (5, 17))


@pytest.mark.parametrize("vec", DATA["request_hash"], ids=lambda v: v["method"])
def test_request_hash(vec: dict[str, Any]) -> None:
    body, preimage = bytes.fromhex(vec["body"]), bytes.fromhex(vec["preimage"])
    assert tagged_hash("fontana/request", preimage).hex() == vec["hash"]
    assert request_hash(vec["method"], vec["resource"], body).hex() == vec["hash"]


GENESIS = Genesis.from_json(next(v["json"] for v in DATA["valid"] if v["name"] == "genesis"))
CHECKS: dict[str, Any] = DATA["receipt_checks"]


@pytest.mark.parametrize("vec", CHECKS["valid"], ids=lambda v: v["name"])
def test_receipt_checks_pass(vec: dict[str, Any]) -> None:
    assert CHECKS["genesis_hash"] == GENESIS.hash.hex()
    value = verify_receipt_json(vec["json"], GENESIS)
    assert vec["type"] == type(value).NAME


@pytest.mark.parametrize("vec", CHECKS["invalid"], ids=lambda v: v["name"])
def test_receipt_checks_fail(vec: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError) as info:
        verify_receipt_json(vec["json"], GENESIS)
    assert info.value.code == "bad_receipt"
    assert info.value.check == vec["check"], vec["why"]


def test_final_receipt_da_blob() -> None:
    final = FinalReceipt.from_json(CHECKS["valid"][0]["json"])
    blob = bytes.fromhex(CHECKS["da"]["blob"])
    verify_final_receipt_blob(final, blob, GENESIS)
    assert final.da_commitment.hex() == CHECKS["da"]["commitment"]
    assert tagged_hash("fontana/da/local", final.da_namespace + blob) == final.da_commitment


@pytest.mark.parametrize("vec", DATA["signing"], ids=lambda v: v["name"])
def test_signing_message(vec: dict[str, Any]) -> None:
    gh, ident = bytes.fromhex(vec["genesis_hash"]), bytes.fromhex(vec["id"])
    message = signing_message(gh, ident)
    assert message == tagged_hash("fontana/sign", gh + ident)
    assert message.hex() == vec["message"]
    signing_key = SigningKey(bytes.fromhex(vec["seed"]))
    assert bytes(signing_key.verify_key).hex() == vec["pubkey"]
    assert signing_key.sign(message).signature.hex() == vec["signature"]


def test_signatures_differ_between_deployments() -> None:
    one, other = DATA["signing"][0], DATA["signing"][1]
    assert one["id"] == other["id"] and one["genesis_hash"] != other["genesis_hash"]
    assert one["signature"] != other["signature"]


@pytest.mark.parametrize("vec", DATA["entries_hash"], ids=lambda v: v["name"])
def test_entries_hash(vec: dict[str, Any]) -> None:
    body = bytes.fromhex(vec["body"])
    assert entries_hash(body).hex() == vec["hash"] == tagged_hash("fontana/entries", body).hex()


def test_tagged_hash() -> None:
    for vec in DATA["tagged_hash"]:
        assert tagged_hash(vec["tag"], bytes.fromhex(vec["data"])).hex() == vec["hash"]
    assert {v["tag"] for v in DATA["tagged_hash"]} == set(ALL_TAGS)


def test_addresses() -> None:
    for vec in DATA["addresses"]["valid"]:
        assert encode_address(bytes.fromhex(vec["hex"])) == vec["text"]
        assert decode_address(vec["text"]).hex() == vec["hex"]
    for vec in DATA["addresses"]["invalid"]:
        with pytest.raises(EncodingError) as info:
            decode_address(vec["text"])
        assert info.value.code == "bad_address", vec["why"]


# --- the L1 bridge: checkpoints and a release (docs/protocol.md, section 9) ------------

BRIDGE: dict[str, Any] = DATA["bridge"]


@pytest.mark.parametrize("vec", BRIDGE["checkpoints"], ids=lambda v: v["name"])
def test_checkpoint(vec: dict[str, Any]) -> None:
    from fontana.bridge.checkpoint import (
        Checkpoint,
        domain_separator,
        recover_signer,
        sign_checkpoint,
        sign_digest,
        validator_address,
    )

    checkpoint = Checkpoint(
        bytes.fromhex(vec["genesis_hash"]), int(vec["height"]), bytes.fromhex(vec["state_root"])
    )
    chain_id, vault = int(vec["chain_id"]), bytes.fromhex(vec["vault"])
    assert domain_separator(chain_id, vault).hex() == vec["domain_separator"]
    assert checkpoint.struct_hash().hex() == vec["struct_hash"]
    digest = checkpoint.digest(chain_id, vault)
    assert digest.hex() == vec["digest"]
    keys = [bytes.fromhex(s["key"]) for s in vec["signatures"]]
    for key, signed in zip(keys, vec["signatures"], strict=True):
        signature = bytes.fromhex(signed["signature"])
        assert validator_address(key).hex() == signed["address"]
        assert sign_digest(key, digest) == signature  # RFC 6979: deterministic
        assert recover_signer(digest, signature).hex() == signed["address"]
    addresses = [s["address"] for s in vec["signatures"]]
    assert addresses == sorted(addresses)  # the order the vault wants
    shuffled = keys[::-1]
    expected = [bytes.fromhex(s["signature"]) for s in vec["signatures"]]
    assert sign_checkpoint(shuffled, checkpoint, chain_id, vault) == expected


def test_release_vector() -> None:
    from fontana.smt import MemoryNodeStore, Proof, SparseMerkleTree, verify_proof

    vec = BRIDGE["release"]
    leaf = WithdrawalLeaf.from_bytes(bytes.fromhex(vec["leaf"]))
    assert leaf.key.hex() == vec["key"]
    assert leaf.leaf_value_hash().hex() == vec["value_hash"]
    pairs = {bytes.fromhex(k): bytes.fromhex(v) for k, v in vec["tree"]}
    assert pairs[leaf.key] == leaf.leaf_value_hash()
    tree = SparseMerkleTree(MemoryNodeStore())
    root = tree.apply_batch(1, pairs)
    assert root.hex() == vec["root"] == _reference_root(pairs).hex()
    assert tree.prove(leaf.key, 1).to_bytes().hex() == vec["proof"]
    proof = Proof.from_bytes(bytes.fromhex(vec["proof"]))
    assert verify_proof(root, leaf.key, leaf.leaf_value_hash(), proof)
    [checkpoint] = [c for c in BRIDGE["checkpoints"] if c["name"] == vec["checkpoint"]]
    assert checkpoint["state_root"] == vec["root"]


# --- tests/vectors/smt.json, read as docs/smt.md "Test vectors" says ----------------------

SMT: dict[str, Any] = json.loads((VECTORS / "smt.json").read_text())


def _reference_root(pairs: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The tree root straight from its definition in docs/smt.md, "Shape"."""
    from fontana.smt.proof import EMPTY, leaf_hash, node_hash

    if not pairs:
        return EMPTY
    if len(pairs) == 1:
        [(k, v)] = pairs.items()
        return leaf_hash(k, v)
    left = {k: v for k, v in pairs.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in pairs.items() if k not in left}
    return node_hash(_reference_root(left, depth + 1), _reference_root(right, depth + 1))


def test_smt_versions_are_cumulative_and_null_deletes() -> None:
    from fontana.smt.proof import Proof, verify_proof

    state: dict[bytes, bytes] = {}
    for version in SMT["versions"]:
        for key, value in version["updates"]:
            if value is None:
                state.pop(bytes.fromhex(key), None)  # deleting an absent key is a no-op
            else:
                state[bytes.fromhex(key)] = bytes.fromhex(value)
        root = bytes.fromhex(version["root"])
        assert _reference_root(state) == root
        for case in version["proofs"]:
            key = bytes.fromhex(case["key"])
            claim = None if case["value_hash"] is None else bytes.fromhex(case["value_hash"])
            proof = Proof.from_bytes(bytes.fromhex(case["proof"]))
            assert verify_proof(root, key, claim, proof) is case["valid"], case["note"]
            if case["valid"]:
                assert state.get(key) == claim  # null claims absence


@pytest.mark.parametrize("vec", SMT["malformed_proofs"], ids=lambda v: v["note"])
def test_smt_malformed_proofs(vec: dict[str, str]) -> None:
    from fontana.smt.proof import Proof

    with pytest.raises(EncodingError):
        Proof.from_bytes(bytes.fromhex(vec["proof"]))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(DATA["valid"]), st.data())
def test_any_bytes_that_decode_are_canonical(vec: dict[str, Any], data: st.DataObject) -> None:
    """Mutated vectors either fail with a typed error or decode to a value whose encoding
    is exactly the input: one value, one byte string."""
    from_bytes, _, to_bytes, _ = CODECS[vec["type"]]
    raw = bytearray(bytes.fromhex(vec["hex"]))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        elif op == "delete" and raw:
            del raw[at]
        else:
            del raw[at:]
    try:
        value = from_bytes(bytes(raw))
    except EncodingError:
        return
    assert to_bytes(value) == bytes(raw)


_JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False) | st.text(max_size=70) | st.just([]) | st.just({}))  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(DATA["valid"]), st.data())
def test_any_json_that_decodes_round_trips(vec: dict[str, Any], data: st.DataObject) -> None:
    """A vector's JSON with one value replaced: a typed error, or a value that round trips."""
    _, from_json, to_bytes, to_json = CODECS[vec["type"]]
    doc = json.loads(json.dumps(vec["json"]))
    node: Any = doc
    while True:  # walk down to one value and replace it
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        child = node[key]
        if not isinstance(child, dict | list) or not child or data.draw(st.booleans()):
            break
        node = child
    node[key] = data.draw(_JSON_LEAVES)
    try:
        value = from_json(doc)
    except EncodingError:
        return
    assert from_json(to_json(value)) == value
    assert to_bytes(value) == to_bytes(from_json(to_json(value)))
