"""Unit tests of the sparse Merkle tree: shapes, byte forms, versions, pruning, restart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fontana.errors import EncodingError, StorageError
from fontana.smt import (
    EMPTY,
    MemoryNodeStore,
    Proof,
    ProofKind,
    SparseMerkleTree,
    VersionError,
    leaf_hash,
    node_hash,
    node_key,
    prune,
    verify_proof,
)
from fontana.smt.vectors import render


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def key_with_bits(bits: str) -> bytes:
    """A key whose leading bits are ``bits``, then zeros."""
    return int(bits.ljust(256, "0"), 2).to_bytes(32, "big")


K0, K10, K11 = key_with_bits("0"), key_with_bits("10"), key_with_bits("11")


@pytest.fixture
def store() -> MemoryNodeStore:
    return MemoryNodeStore()


@pytest.fixture
def tree(store: MemoryNodeStore) -> SparseMerkleTree:
    return SparseMerkleTree(store)


def test_hash_rules() -> None:
    assert leaf_hash(K0, h("v")) == hashlib.sha256(b"fontana/smt/leaf\x00" + K0 + h("v")).digest()
    assert (
        node_hash(h("a"), h("b"))
        == hashlib.sha256(b"fontana/smt/node\x00" + h("a") + h("b")).digest()
    )


def test_empty_tree(tree: SparseMerkleTree) -> None:
    assert tree.get_root() == EMPTY
    proof = tree.prove(K0)
    assert proof.kind is ProofKind.EMPTY_SUBTREE
    assert proof.to_bytes() == b"\x01\x00\x00"
    assert verify_proof(EMPTY, K0, None, proof)
    assert tree.apply_batch(0, {}) == EMPTY
    assert tree.get_root(0) == EMPTY


def test_shape_and_node_bytes(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    v0, v10, v11 = h("0"), h("10"), h("11")
    root = tree.apply_batch(5, {K0: v0, K10: v10, K11: v11})
    right = node_hash(leaf_hash(K10, v10), leaf_hash(K11, v11))
    assert root == node_hash(leaf_hash(K0, v0), right)
    v = (5).to_bytes(8, "big")
    assert store.nodes[node_key(5, 1, 0)] == b"\x00" + K0 + v0
    assert store.nodes[node_key(5, 2, 0b11)] == b"\x00" + K11 + v11
    assert store.nodes[node_key(5, 0, 0)] == (b"\x01\x12" + v + leaf_hash(K0, v0) + v + right)
    assert node_key(5, 2, 0b11) == v + b"\x00\x02\xc0"
    assert len(store.nodes) == 5


def test_delete_collapses_sibling_upward(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    twin_a = bytes(31) + b"\x00"
    twin_b = bytes(31) + b"\x01"
    tree.apply_batch(1, {twin_a: h("a"), twin_b: h("b"), K10: h("c")})
    assert len(tree.prove(twin_a).siblings) == 256
    root = tree.apply_batch(2, {twin_b: None})
    assert root == node_hash(leaf_hash(twin_a, h("a")), leaf_hash(K10, h("c")))
    assert store.nodes[node_key(2, 1, 0)] == b"\x00" + twin_a + h("a")
    assert tree.apply_batch(3, {K10: None}) == leaf_hash(twin_a, h("a"))
    assert store.roots[3] == node_key(3, 0, 0)
    assert tree.apply_batch(4, {twin_a: None}) == EMPTY
    assert store.roots[4] == b""


def test_insert_pushes_leaf_down(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    tree.apply_batch(1, {K10: h("a")})
    root = tree.apply_batch(2, {K11: h("b")})
    assert root == node_hash(EMPTY, node_hash(leaf_hash(K10, h("a")), leaf_hash(K11, h("b"))))
    assert store.nodes[node_key(2, 0, 0)][:2] == b"\x01\x02"  # left empty, right internal
    assert (node_key(1, 0, 0), 2) in store.stale


def test_batch_touches_each_node_once(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    keys = [h(f"k{i}") for i in range(1000)]
    tree.apply_batch(1, {k: h("v") for k in keys})
    depth = len(tree.prove(keys[7]).siblings)
    batch = tree.compute_batch(2, {keys[7]: h("new")})
    assert len(batch.new_nodes) == depth + 1
    assert len(batch.stale) == depth + 1
    assert {since for _, since in batch.stale} == {2}
    assert store.latest_version() == 1  # compute_batch does not write


def test_noop_updates_write_nothing(tree: SparseMerkleTree) -> None:
    root = tree.apply_batch(1, {K0: h("a"), K10: h("b")})
    batch = tree.compute_batch(2, {K0: h("a"), K11: None, h("x"): None})
    assert batch.root == root
    assert batch.new_nodes == {} and batch.stale == []


def test_versions_stay_provable(tree: SparseMerkleTree) -> None:
    keys = [h(f"k{i}") for i in range(50)]
    roots = [tree.apply_batch(1, {k: h("v1") for k in keys})]
    roots.append(tree.apply_batch(2, {k: None for k in keys[:25]}))
    roots.append(tree.apply_batch(7, {k: h("v7") for k in keys[10:40]}))
    for version, root in zip((1, 2, 7), roots, strict=True):
        assert tree.get_root(version) == root
    for key in keys[:10]:
        assert verify_proof(roots[0], key, h("v1"), tree.prove(key, 1))
        assert verify_proof(roots[2], key, None, tree.prove(key, 7))
        assert tree.get(key, 1) == h("v1") and tree.get(key, 2) is None


def test_version_errors(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    tree.apply_batch(3, {K0: h("a")})
    for bad in (3, 2, -1, 1 << 64):
        with pytest.raises(VersionError):
            tree.apply_batch(bad, {})
    with pytest.raises(VersionError):
        tree.get_root(4)
    tree.apply_batch(4, {K0: h("b")})
    assert prune(store, 4) == 1
    with pytest.raises(VersionError):
        tree.prove(K0, 3)
    with pytest.raises(VersionError):
        prune(store, 5)
    assert tree.get(K0) == h("b")


def test_bad_inputs(tree: SparseMerkleTree) -> None:
    with pytest.raises(EncodingError):
        tree.apply_batch(1, {b"short": h("a")})
    with pytest.raises(EncodingError):
        tree.apply_batch(1, {K0: b"short"})
    with pytest.raises(EncodingError):
        tree.prove(b"short")


def test_missing_node_is_a_storage_error(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    tree.apply_batch(1, {K0: h("a"), K10: h("b")})
    del store.nodes[node_key(1, 1, 1)]
    with pytest.raises(StorageError):
        tree.prove(K10)


def test_restart_continues_from_store(store: MemoryNodeStore) -> None:
    keys = [h(f"k{i}") for i in range(200)]
    first = SparseMerkleTree(store)
    first.apply_batch(10, {k: h("a") for k in keys})
    reopened = SparseMerkleTree(store)
    assert reopened.latest_version == 10
    root = reopened.apply_batch(11, {k: None for k in keys[::2]})
    fresh = SparseMerkleTree(MemoryNodeStore())
    assert root == fresh.apply_batch(1, {k: h("a") for k in keys[1::2]})
    assert verify_proof(root, keys[1], h("a"), SparseMerkleTree(store).prove(keys[1]))


def test_prune_keeps_shared_nodes(tree: SparseMerkleTree, store: MemoryNodeStore) -> None:
    keys = [h(f"k{i}") for i in range(100)]
    tree.apply_batch(1, {k: h("a") for k in keys})
    tree.apply_batch(2, {keys[0]: h("b")})
    removed = prune(store, 2)
    assert removed == len(tree.prove(keys[0]).siblings) + 1
    assert set(store.roots) == {2} and store.stale == []
    root = tree.get_root(2)
    for key in keys:
        assert verify_proof(root, key, h("b") if key == keys[0] else h("a"), tree.prove(key))


def _sample_proof() -> Proof:
    return Proof(ProofKind.OTHER_LEAF, (h("s0"), EMPTY, h("s2")), K11, h("v"))


def test_proof_encoding() -> None:
    proof = _sample_proof()
    raw = proof.to_bytes()
    assert raw == b"\x02\x00\x03\xa0" + h("s0") + h("s2") + K11 + h("v")
    assert Proof.from_bytes(raw) == proof


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw[:-1],
        lambda raw: raw + b"\x00",
        lambda raw: raw[:2],
        lambda raw: b"\x03" + raw[1:],
        lambda raw: raw[:1] + (257).to_bytes(2, "big") + raw[3:],
        lambda raw: raw[:3] + b"\xb0" + raw[4:],  # padding bit set
        lambda raw: raw[:3] + b"\xc0" + raw[4:],  # claims three present siblings
        lambda raw: raw[:4] + EMPTY + raw[36:],  # zero hash marked present
        lambda raw: b"\x00" + raw[1:],  # inclusion with a trailing other leaf
    ],
)
def test_proof_decoding_is_strict(mutate: object) -> None:
    raw = _sample_proof().to_bytes()
    with pytest.raises(EncodingError):
        Proof.from_bytes(mutate(raw))  # type: ignore[operator]


def test_deepest_sibling_must_not_be_empty() -> None:
    with pytest.raises(EncodingError):
        Proof(ProofKind.EMPTY_SUBTREE, (h("a"), EMPTY)).to_bytes()
    with pytest.raises(EncodingError):
        Proof.from_bytes(b"\x01\x00\x02\x80" + h("a"))
    assert not verify_proof(h("r"), K0, None, Proof(ProofKind.EMPTY_SUBTREE, (h("a"), EMPTY)))


def test_other_leaf_must_share_the_prefix(tree: SparseMerkleTree) -> None:
    root = tree.apply_batch(1, {K0: h("a"), K10: h("b")})
    proof = tree.prove(K11)
    assert proof.kind is ProofKind.OTHER_LEAF and proof.other_key == K10
    assert verify_proof(root, K11, None, proof)
    # The same leaf cannot vouch for a key outside its subtree, nor for its own key.
    assert not verify_proof(root, K10, None, proof)
    assert not verify_proof(root, key_with_bits("01"), None, proof)


def test_committed_vectors_match_regeneration() -> None:
    path = Path(__file__).parent / "vectors" / "smt.json"
    assert path.read_text() == render()
