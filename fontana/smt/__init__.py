"""Versioned sparse Merkle tree: the state commitment over the UTXO set (docs/smt.md)."""

from fontana.smt.proof import EMPTY, Proof, ProofKind, leaf_hash, node_hash, verify_proof
from fontana.smt.store import (
    MemoryNodeStore,
    NodeStore,
    TreeBatch,
    VersionError,
    node_key,
    prune,
)
from fontana.smt.tree import SparseMerkleTree

__all__ = [
    "EMPTY",
    "MemoryNodeStore",
    "NodeStore",
    "Proof",
    "ProofKind",
    "SparseMerkleTree",
    "TreeBatch",
    "VersionError",
    "leaf_hash",
    "node_hash",
    "node_key",
    "prune",
    "verify_proof",
]
