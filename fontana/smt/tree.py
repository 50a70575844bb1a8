"""The versioned sparse Merkle tree over the UTXO set (Jellyfish-style, binary).

Leaves sit at their key's shortest unique prefix, so paths are about log2(n) long. Nodes
are immutable and keyed by (version, path), so every retained version stays readable.
A batch is applied in one recursive pass over the sorted keys, touching each affected
node once. The hot path works on bytes and tuples, not node objects: it is what bounds
block throughput.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from hashlib import sha256
from typing import Any

from fontana.errors import EncodingError, StorageError
from fontana.smt.proof import (
    EMPTY,
    LEAF_DOMAIN,
    MAX_DEPTH,
    NODE_DOMAIN,
    Proof,
    ProofKind,
    leaf_hash,
    node_hash,
)
from fontana.smt.store import (
    EMPTY_ROOT_KEY,
    INTERNAL_TAG,
    KIND_INTERNAL,
    KIND_LEAF,
    LEAF_TAG,
    NodeStore,
    TreeBatch,
    VersionError,
)

__all__ = ["SparseMerkleTree"]

# A child as the recursion sees it: None (empty), a stored node (hash, version bytes,
# kind) or a new leaf not yet placed (hash, None, serialized leaf). Leaves move while a
# batch runs (pushed down by inserts, lifted by deletes), so they are written only once
# their final depth is known.
_Stored = tuple[bytes, bytes, int]  # a child as stored in its parent
_Ref = tuple[bytes, bytes | None, Any] | None

_LEAF_BYTE = bytes([LEAF_TAG])
_ROOT_SUFFIX = bytes(2)
_DEPTH = [d.to_bytes(2, "big") for d in range(MAX_DEPTH + 1)]
_NBYTES = [(d + 7) // 8 for d in range(MAX_DEPTH + 1)]
_PAD = [8 * ((d + 7) // 8) - d for d in range(MAX_DEPTH + 1)]
# Internal node header per (left kind, right kind): tag, then kinds byte.
_HEADER = {(lk, rk): bytes([INTERNAL_TAG, lk << 4 | rk]) for lk in range(3) for rk in range(3)}


def _suffix(depth: int, path: int) -> bytes:
    """Node key without its version (see store.node_key)."""
    return _DEPTH[depth] + (path << _PAD[depth]).to_bytes(_NBYTES[depth], "big")


def _parse_internal(node: bytes) -> tuple[_Stored | None, _Stored | None]:
    """Children of a serialized internal node: (hash, version bytes, kind) or None."""
    kinds = node[1]
    lk = kinds >> 4
    rk = kinds & 15
    if lk and rk:
        return (node[10:42], node[2:10], lk), (node[50:82], node[42:50], rk)
    if lk:
        return (node[10:42], node[2:10], lk), None
    return None, (node[10:42], node[2:10], rk)


def _key_bit(key: bytes, depth: int) -> int:
    return key[depth >> 3] >> (7 - (depth & 7)) & 1


class SparseMerkleTree:
    """A view of the tree in a store; it holds no state, so it survives restarts for free."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store

    @property
    def latest_version(self) -> int | None:
        return self.store.latest_version()

    def get_root(self, version: int | None = None) -> bytes:
        """Root hash at ``version`` (default: latest; the empty tree before any batch)."""
        ref = self._root_ref(version)
        return EMPTY if ref is None else ref[0]

    def get(self, key: bytes, version: int | None = None) -> bytes | None:
        """Value hash of ``key`` at ``version``, or None if absent."""
        return self._walk(key, version)[1]

    def prove(self, key: bytes, version: int | None = None) -> Proof:
        """Inclusion or non-inclusion proof of ``key`` against ``get_root(version)``."""
        return self._walk(key, version)[0]

    def _walk(self, key: bytes, version: int | None) -> tuple[Proof, bytes | None]:
        """Follow ``key``'s path to its end: the proof, and the value hash if present."""
        _check_key(key)
        ref = self._root_ref(version)
        if ref is None:
            return Proof(ProofKind.EMPTY_SUBTREE, ()), None
        siblings: list[bytes] = []
        depth = 0
        path = 0
        while True:
            node = self._read(ref[1] + _suffix(depth, path))
            if node[0] == LEAF_TAG:
                other, value = node[1:33], node[33:65]
                if other == key:
                    return Proof(ProofKind.INCLUSION, tuple(siblings)), value
                return Proof(ProofKind.OTHER_LEAF, tuple(siblings), other, value), None
            left, right = _parse_internal(node)
            bit = _key_bit(key, depth)
            child, sib = (right, left) if bit else (left, right)
            siblings.append(EMPTY if sib is None else sib[0])
            if child is None:
                return Proof(ProofKind.EMPTY_SUBTREE, tuple(siblings)), None
            ref = child
            depth += 1
            path = path << 1 | bit

    def apply_batch(self, version: int, updates: Mapping[bytes, bytes | None]) -> bytes:
        """Compute and write the batch of block ``version``; return the new root."""
        batch = self.compute_batch(version, updates)
        self.store.write_batch(batch)
        return batch.root

    def compute_batch(self, version: int, updates: Mapping[bytes, bytes | None]) -> TreeBatch:
        """The nodes block ``version`` writes and retires; reads the store, never writes.

        ``updates`` maps keys to value hashes (None deletes). The result depends only on
        the set of updates, not their order.
        """
        base = self.store.latest_version()
        if not 0 <= version < 1 << 64 or (base is not None and version <= base):
            raise VersionError(f"batch version {version} must be above {base} and fit u64")
        keys = sorted(updates)
        vals = [updates[k] for k in keys]
        for k in keys:
            _check_key(k)
        for v in vals:
            if v is not None and (type(v) is not bytes or len(v) != 32):
                raise EncodingError("smt value hash must be 32 bytes or None")
        root = self._root_ref(base) if base is not None else None

        v8 = version.to_bytes(8, "big")
        new_nodes: dict[bytes, bytes] = {}
        stale: list[tuple[bytes, int]] = []
        get = self.store.get_node
        read = self._read
        sha = sha256
        header = _HEADER
        dbytes, nbytes, pad = _DEPTH, _NBYTES, _PAD

        def lift(ref: _Ref, depth: int, path: int) -> _Ref:
            """Unplace a stored leaf so its parent can move it up."""
            nk = ref[1] + _suffix(depth, path)
            stale.append((nk, version))
            return (ref[0], None, read(nk))

        def combine(depth: int, path: int, sfx: bytes, left: _Ref, right: _Ref) -> _Ref:
            """The node at (depth, path) (key suffix ``sfx``) over two final children.

            A lone leaf child is not placed but handed up: that is the collapse rule.
            """
            if left is None:
                if right is None:
                    return None
                if right[1] is None:
                    return right
                if right[2] == KIND_LEAF:
                    return lift(right, depth + 1, path << 1 | 1)
            elif right is None:
                if left[1] is None:
                    return left
                if left[2] == KIND_LEAF:
                    return lift(left, depth + 1, path << 1)
            if left is None:
                lkind, lpart, lh = 0, b"", EMPTY
            else:
                lh = left[0]
                if left[1] is None:
                    new_nodes[v8 + _suffix(depth + 1, path << 1)] = left[2]
                    lkind, lpart = KIND_LEAF, v8 + lh
                else:
                    lkind, lpart = left[2], left[1] + lh
            if right is None:
                rkind, rpart, rh = 0, b"", EMPTY
            else:
                rh = right[0]
                if right[1] is None:
                    new_nodes[v8 + _suffix(depth + 1, path << 1 | 1)] = right[2]
                    rkind, rpart = KIND_LEAF, v8 + rh
                else:
                    rkind, rpart = right[2], right[1] + rh
            new_nodes[v8 + sfx] = header[lkind, rkind] + lpart + rpart
            return (sha(NODE_DOMAIN + lh + rh).digest(), v8, KIND_INTERNAL)

        def build(
            ks: list[bytes], vs: list[bytes | None], depth: int, path: int, lo: int, hi: int
        ) -> _Ref:
            """Subtree of the sorted items ks[lo:hi] over an empty base."""
            if hi - lo == 1:
                v = vs[lo]
                if v is None:
                    return None
                k = ks[lo]
                return (sha(LEAF_DOMAIN + k + v).digest(), None, _LEAF_BYTE + k + v)
            pivot = ((path << 1 | 1) << (255 - depth)).to_bytes(32, "big")
            mid = bisect_left(ks, pivot, lo, hi)
            child = path << 1
            left = build(ks, vs, depth + 1, child, lo, mid) if mid > lo else None
            right = build(ks, vs, depth + 1, child | 1, mid, hi) if hi > mid else None
            return combine(depth, path, _suffix(depth, path), left, right)

        def update(ref: _Stored | None, depth: int, path: int, lo: int, hi: int) -> _Ref:
            """Apply keys[lo:hi] (all under this path) to the stored subtree ``ref``."""
            if ref is None:
                return build(keys, vals, depth, path, lo, hi)
            sfx = dbytes[depth] + (path << pad[depth]).to_bytes(nbytes[depth], "big")
            nk = ref[1] + sfx
            node = get(nk)
            if node is None:
                node = read(nk)  # raises the missing-node error
            if ref[2] == KIND_LEAF:
                other = node[1:33]
                i = bisect_left(keys, other, lo, hi)
                if i < hi and keys[i] == other:
                    result = build(keys, vals, depth, path, lo, hi)
                else:
                    ks = keys[lo:hi]
                    vs = vals[lo:hi]
                    ks.insert(i - lo, other)
                    vs.insert(i - lo, node[33:65])
                    result = build(ks, vs, depth, path, 0, len(ks))
                if result is not None and result[0] == ref[0]:
                    return ref
                stale.append((nk, version))
                return result
            left, right = _parse_internal(node)
            if hi - lo == 1:  # most nodes of a batch lie on a single key's path
                mid = lo if keys[lo][depth >> 3] >> (7 - (depth & 7)) & 1 else hi
            else:
                pivot = ((path << 1 | 1) << (255 - depth)).to_bytes(32, "big")
                mid = bisect_left(keys, pivot, lo, hi)
            child = path << 1
            new_left = update(left, depth + 1, child, lo, mid) if mid > lo else left
            new_right = update(right, depth + 1, child | 1, mid, hi) if hi > mid else right
            if new_left is left and new_right is right:
                return ref
            stale.append((nk, version))
            return combine(depth, path, sfx, new_left, new_right)

        result = update(root, 0, 0, 0, len(keys)) if keys else root
        if result is None:
            return TreeBatch(version, EMPTY, EMPTY_ROOT_KEY, new_nodes, stale)
        root_key = v8 + _ROOT_SUFFIX if result[1] is None else result[1] + _ROOT_SUFFIX
        if result[1] is None:
            new_nodes[root_key] = result[2]
        return TreeBatch(version, result[0], root_key, new_nodes, stale)

    def _root_ref(self, version: int | None) -> _Ref:
        """The root as a stored ref, or None for an empty tree."""
        if version is None:
            version = self.store.latest_version()
            if version is None:
                return None
        root_key = self.store.get_root_key(version)
        if root_key is None:
            raise VersionError(f"version {version} is not retained")
        if root_key == EMPTY_ROOT_KEY:
            return None
        node = self._read(root_key)
        if node[0] == LEAF_TAG:
            return (leaf_hash(node[1:33], node[33:65]), root_key[:8], KIND_LEAF)
        left, right = _parse_internal(node)
        h = node_hash(EMPTY if left is None else left[0], EMPTY if right is None else right[0])
        return (h, root_key[:8], KIND_INTERNAL)

    def _read(self, nk: bytes) -> bytes:
        node = self.store.get_node(nk)
        if node is None:
            raise StorageError(f"smt node {nk.hex()} is missing (pruned or corrupt store)")
        return node


def _check_key(key: bytes) -> None:
    if type(key) is not bytes or len(key) != 32:
        raise EncodingError("smt key must be 32 bytes")
