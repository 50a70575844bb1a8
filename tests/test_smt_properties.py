"""Property tests of the sparse Merkle tree against a naive reference implementation."""

from __future__ import annotations

import hashlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fontana.errors import EncodingError
from fontana.smt import (
    EMPTY,
    MemoryNodeStore,
    Proof,
    SparseMerkleTree,
    leaf_hash,
    node_hash,
    prune,
    verify_proof,
)
from fontana.smt.store import node_key

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_root(items: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The root by definition: empty, one leaf, or split on the bit at ``depth``."""
    if not items:
        return EMPTY
    if len(items) == 1:
        ((key, value),) = items.items()
        return leaf_hash(key, value)
    left = {k: v for k, v in items.items() if not k[depth // 8] >> (7 - depth % 8) & 1}
    right = {k: v for k, v in items.items() if k not in left}
    return node_hash(reference_root(left, depth + 1), reference_root(right, depth + 1))


def value_of(key: bytes, salt: int = 0) -> bytes:
    return hashlib.sha256(key + bytes([salt])).digest()


# Random 32-byte keys, plus keys with long shared prefixes to exercise deep splits.
_prefix_keys = st.builds(
    lambda head, tail: (head + tail)[:32],
    st.sampled_from([bytes(31), b"\xff" * 30, b"\x80" * 16]),
    st.binary(min_size=32, max_size=32),
)
keys = st.one_of(st.binary(min_size=32, max_size=32), _prefix_keys)
key_sets = st.lists(keys, min_size=0, max_size=40, unique=True)


@FAST
@given(key_sets, st.randoms(use_true_random=False))
def test_root_matches_reference_and_ignores_order(ks: list[bytes], rnd: random.Random) -> None:
    items = {k: value_of(k) for k in ks}
    shuffled = list(items.items())
    rnd.shuffle(shuffled)
    a = SparseMerkleTree(MemoryNodeStore())
    b = SparseMerkleTree(MemoryNodeStore())
    assert a.apply_batch(1, items) == reference_root(items)
    assert b.apply_batch(1, dict(shuffled)) == reference_root(items)


@FAST
@given(st.lists(st.tuples(key_sets, st.integers(0, 2**32)), min_size=1, max_size=5))
def test_batches_match_reference_and_proofs_verify(
    batches: list[tuple[list[bytes], int]],
) -> None:
    tree = SparseMerkleTree(MemoryNodeStore())
    state: dict[bytes, bytes] = {}
    history: list[tuple[int, dict[bytes, bytes]]] = []
    seen: set[bytes] = set()
    for version, (ks, seed) in enumerate(batches, start=1):
        rnd = random.Random(seed)
        # Delete about a third of the live keys, set the rest of the batch.
        updates: dict[bytes, bytes | None] = {k: None for k in state if rnd.random() < 0.33}
        updates.update({k: value_of(k, version) for k in ks})
        seen.update(ks)
        for k, v in updates.items():
            if v is None:
                state.pop(k, None)
            else:
                state[k] = v
        assert tree.apply_batch(version, updates) == reference_root(state)
        history.append((version, dict(state)))
    probe = seen | {bytes(32), b"\xff" * 32}
    for version, snapshot in history:
        root = tree.get_root(version)
        for key in probe:
            proof = tree.prove(key, version)
            value = snapshot.get(key)
            assert tree.get(key, version) == value
            assert verify_proof(root, key, value, proof)
            assert Proof.from_bytes(proof.to_bytes()) == proof
            assert not verify_proof(root, key, value_of(key, 255), proof)
            if value is not None:
                assert not verify_proof(root, key, None, proof)


@FAST
@given(key_sets.filter(lambda ks: len(ks) >= 2), st.data())
def test_tampered_proofs_fail(ks: list[bytes], data: st.DataObject) -> None:
    tree = SparseMerkleTree(MemoryNodeStore())
    root = tree.apply_batch(1, {k: value_of(k) for k in ks})
    key = data.draw(st.sampled_from(ks))
    other = data.draw(st.sampled_from([k for k in ks if k != key]))
    proof = tree.prove(key)
    assert not verify_proof(root, other, value_of(key), proof)
    assert not verify_proof(root, key, None, proof)
    raw = proof.to_bytes()
    index = data.draw(st.integers(0, len(raw) - 1))
    flipped = bytearray(raw)
    flipped[index] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(raw) - 1))
    for bad in (bytes(flipped), raw[:cut], raw + b"\x00"):
        try:
            decoded = Proof.from_bytes(bad)
        except EncodingError:
            continue
        assert not verify_proof(root, key, value_of(key), decoded)


@FAST
@given(key_sets, key_sets, st.integers(1, 3))
def test_pruning_keeps_newer_versions_provable(
    first: list[bytes], second: list[bytes], keep_offset: int
) -> None:
    store = MemoryNodeStore()
    tree = SparseMerkleTree(store)
    state: dict[bytes, bytes] = {}
    snapshots = {}
    for version, ks in enumerate([first, second, first[: len(first) // 2], second], start=1):
        updates = {k: (None if k in state else value_of(k, version)) for k in ks}
        for k, v in updates.items():
            if v is None:
                state.pop(k)
            else:
                state[k] = v
        tree.apply_batch(version, updates)
        snapshots[version] = dict(state)
    keep = 1 + keep_offset
    reachable = _reachable_nodes(store, range(keep, 5))
    prune(store, keep)
    assert set(store.nodes) == reachable
    for version in range(keep, 5):
        root = tree.get_root(version)
        assert root == reference_root(snapshots[version])
        for key in set(first) | set(second):
            proof = tree.prove(key, version)
            assert verify_proof(root, key, snapshots[version].get(key), proof)


def _reachable_nodes(store: MemoryNodeStore, versions: range) -> set[bytes]:
    """Every node key a walk from the roots of ``versions`` touches."""
    found: set[bytes] = set()

    def walk(key: bytes, depth: int, path: int) -> None:
        found.add(key)
        node = store.nodes[key]
        if node[0] != 1:
            return
        kinds = node[1]
        children = [(kinds >> 4, 0), (kinds & 15, 1)]
        offset = 2
        for kind, bit in children:
            if kind:
                version = int.from_bytes(node[offset : offset + 8], "big")
                child = (path << 1) | bit
                walk(node_key(version, depth + 1, child), depth + 1, child)
                offset += 40

    for version in versions:
        root_key = store.roots[version]
        if root_key:
            walk(root_key, 0, 0)
    return found
