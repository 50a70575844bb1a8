"""Hashing rules and proofs of the sparse Merkle tree.

This module is the whole verifier: it needs no store, so it is the part that Rust and
Solidity reimplement (see docs/smt.md). Everything in it is deterministic and
canonical; a proof has exactly one valid byte form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from hashlib import sha256

from fontana.errors import EncodingError

__all__ = [
    "EMPTY",
    "LEAF_DOMAIN",
    "MAX_DEPTH",
    "NODE_DOMAIN",
    "Proof",
    "ProofKind",
    "leaf_hash",
    "node_hash",
    "verify_proof",
]

LEAF_DOMAIN = b"fontana/smt/leaf\x00"
NODE_DOMAIN = b"fontana/smt/node\x00"
#: Hash of an empty subtree, and the root of an empty tree.
EMPTY = bytes(32)
#: Keys have 256 bits, so no path is longer.
MAX_DEPTH = 256


def leaf_hash(key: bytes, value_hash: bytes) -> bytes:
    """Hash of a leaf; it commits to the whole key, so a leaf can sit above full depth."""
    return sha256(LEAF_DOMAIN + key + value_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an internal node; the domain tag keeps it apart from any leaf hash."""
    return sha256(NODE_DOMAIN + left + right).digest()


class ProofKind(IntEnum):
    """What sits at the end of the key's path."""

    INCLUSION = 0  # the key's own leaf
    EMPTY_SUBTREE = 1  # nothing: the key is absent
    OTHER_LEAF = 2  # a leaf of another key sharing the prefix: the key is absent


@dataclass(frozen=True, slots=True)
class Proof:
    """The siblings along a key's path, root side first, and what ends the path.

    ``siblings[i]`` is the hash of the sibling of the path node at depth ``i + 1``;
    ``EMPTY`` stands for an empty sibling. ``other_key``/``other_value`` are set only
    for ``OTHER_LEAF``.
    """

    kind: ProofKind
    siblings: tuple[bytes, ...]
    other_key: bytes = b""
    other_value: bytes = b""

    def to_bytes(self) -> bytes:
        """The canonical encoding (docs/smt.md, "Proof encoding")."""
        _check(self)
        n = len(self.siblings)
        bitmap = 0
        present = []
        for i, sib in enumerate(self.siblings):
            if sib != EMPTY:
                bitmap |= 1 << (8 * _bitmap_len(n) - 1 - i)
                present.append(sib)
        return b"".join(
            [
                bytes([self.kind]),
                n.to_bytes(2, "big"),
                bitmap.to_bytes(_bitmap_len(n), "big"),
                *present,
                self.other_key,
                self.other_value,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Decode, refusing anything that ``to_bytes`` would not produce."""
        data = bytes(data)
        if len(data) < 3:
            raise EncodingError("smt proof: truncated header")
        try:
            kind = ProofKind(data[0])
        except ValueError:
            raise EncodingError(f"smt proof: unknown kind {data[0]}") from None
        n = int.from_bytes(data[1:3], "big")
        if n > MAX_DEPTH:
            raise EncodingError(f"smt proof: {n} siblings exceed {MAX_DEPTH}")
        blen = _bitmap_len(n)
        pos = 3 + blen
        bitmap = int.from_bytes(data[3:pos], "big")
        pad = 8 * blen - n
        if bitmap & ((1 << pad) - 1):
            raise EncodingError("smt proof: bitmap padding bits set")
        count = bitmap.bit_count()
        tail = 64 if kind is ProofKind.OTHER_LEAF else 0
        if len(data) != pos + 32 * count + tail:
            raise EncodingError("smt proof: length does not match its header")
        siblings = []
        for i in range(n):
            if bitmap >> (8 * blen - 1 - i) & 1:
                sib = data[pos : pos + 32]
                if sib == EMPTY:
                    raise EncodingError("smt proof: empty sibling marked present")
                siblings.append(sib)
                pos += 32
            else:
                siblings.append(EMPTY)
        proof = cls(kind, tuple(siblings), data[pos : pos + tail // 2], data[pos + tail // 2 :])
        _check(proof)
        return proof


def _bitmap_len(n: int) -> int:
    return (n + 7) // 8


def _check(proof: Proof) -> None:
    """Raise EncodingError unless the proof has a canonical shape."""
    sibs = proof.siblings
    if len(sibs) > MAX_DEPTH:
        raise EncodingError(f"smt proof: {len(sibs)} siblings exceed {MAX_DEPTH}")
    if any(type(s) is not bytes or len(s) != 32 for s in sibs):
        raise EncodingError("smt proof: a sibling is not 32 bytes")
    # In a canonical tree a leaf or empty slot at depth > 0 always has a non-empty
    # sibling: otherwise its parent would have collapsed. Requiring it makes proofs unique.
    if sibs and sibs[-1] == EMPTY:
        raise EncodingError("smt proof: deepest sibling is empty")
    want = 32 if proof.kind is ProofKind.OTHER_LEAF else 0
    if len(proof.other_key) != want or len(proof.other_value) != want:
        raise EncodingError("smt proof: other leaf fields do not match the kind")


def verify_proof(root: bytes, key: bytes, value_hash: bytes | None, proof: Proof) -> bool:
    """True iff ``proof`` shows that ``key`` maps to ``value_hash`` (None: absent) under ``root``.

    Pure: the caller supplies the trusted root. Malformed proofs give False.
    """
    try:
        _check(proof)
    except EncodingError:
        return False
    if len(root) != 32 or len(key) != 32:
        return False
    n = len(proof.siblings)
    if proof.kind is ProofKind.INCLUSION:
        if value_hash is None or len(value_hash) != 32:
            return False
        h = leaf_hash(key, value_hash)
    elif value_hash is not None:
        return False
    elif proof.kind is ProofKind.EMPTY_SUBTREE:
        h = EMPTY
    else:
        other = proof.other_key
        if other == key or _prefix(other, n) != _prefix(key, n):
            return False
        h = leaf_hash(other, proof.other_value)
    path = int.from_bytes(key, "big") >> (MAX_DEPTH - n)
    for sib in reversed(proof.siblings):
        h = node_hash(sib, h) if path & 1 else node_hash(h, sib)
        path >>= 1
    return h == root


def _prefix(key: bytes, bits: int) -> int:
    return int.from_bytes(key, "big") >> (MAX_DEPTH - bits)
