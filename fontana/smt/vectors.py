"""Deterministic test vectors for other implementations of the tree's verifier.

``python -m fontana.smt.vectors [PATH]`` writes them (default tests/vectors/smt.json);
a test checks that the committed file equals a fresh run, so the format cannot drift.
The format is specified in docs/smt.md, "Test vectors".
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from fontana.errors import EncodingError
from fontana.smt.proof import Proof, leaf_hash, node_hash, verify_proof
from fontana.smt.store import MemoryNodeStore
from fontana.smt.tree import SparseMerkleTree

__all__ = ["build_vectors", "render"]

DEFAULT_PATH = Path("tests/vectors/smt.json")


def _h(label: str) -> bytes:
    return hashlib.sha256(b"fontana/smt/vectors/" + label.encode()).digest()


def _keys() -> list[bytes]:
    """Eight hashed keys, plus a pair that differ only in the last bit (depth-256 leaves)."""
    keys = [_h(f"key {i}") for i in range(8)]
    twin = bytearray(_h("twin"))
    twin[31] &= 0xFE
    return [*keys, bytes(twin), bytes(twin[:31]) + bytes([twin[31] | 1])]


def _batches(keys: list[bytes]) -> list[dict[bytes, bytes | None]]:
    return [
        {k: _h(f"value {i} v1") for i, k in enumerate(keys)},
        {keys[0]: None, keys[1]: _h("value 1 v2"), keys[8]: None, _h("absent"): None},
        {k: None for k in keys[1:8]},
        {keys[9]: None},
    ]


def _proof_case(
    root: bytes, key: bytes, value: bytes | None, proof: Proof, note: str
) -> dict[str, Any]:
    return {
        "note": note,
        "key": key.hex(),
        "value_hash": None if value is None else value.hex(),
        "proof": proof.to_bytes().hex(),
        "valid": verify_proof(root, key, value, proof),
    }


def _malformed(proof: bytes) -> list[dict[str, str]]:
    """Byte strings that must not decode as a proof, each breaking one rule of the encoding.

    ``proof`` is a valid kind-0 proof whose sibling count is not a multiple of 8.
    """
    n = int.from_bytes(proof[1:3], "big")
    blen = (n + 7) // 8
    head, body = proof[: 3 + blen], proof[3 + blen :]
    bitmap = int.from_bytes(head[3:], "big")
    spare_bit = (bitmap | 1).to_bytes(blen, "big")
    assert proof[0] == 0 and n % 8 and bitmap >> (8 * blen - 1), "needs another proof"
    cases = [
        ("truncated header", proof[:2]),
        ("unknown kind 3", b"\x03" + proof[1:]),
        ("257 siblings", proof[:1] + (257).to_bytes(2, "big") + proof[3:]),
        ("one byte short", proof[:-1]),
        ("one byte too many", proof + b"\x00"),
        ("kind 2 without the other leaf", b"\x02" + proof[1:]),
        ("a present sibling of 32 zero bytes", head + bytes(32) + body[32:]),
        # Two siblings, only the first present: a leaf or empty slot always has a
        # non-empty sibling, so the deepest one can never be absent.
        ("the deepest sibling absent", bytes([0, 0, 2, 0x80]) + body[:32]),
        # A spare bit set, with one more sibling so that the length still matches.
        ("a spare bitmap bit set", proof[:3] + spare_bit + body + body[:32]),
    ]
    for note, data in cases:
        try:
            Proof.from_bytes(data)
        except EncodingError:
            continue
        raise AssertionError(f"malformed proof vector {note!r} decodes")
    return [{"note": note, "proof": data.hex()} for note, data in cases]


def build_vectors() -> dict[str, Any]:
    """Hash examples, then per batch: updates, root, and valid and invalid proofs."""
    keys = _keys()
    # Leaves the twins' long shared path at bit 100, into an empty subtree.
    stray = bytearray(keys[8])
    stray[12] ^= 0x08
    probes = [*keys, _h("never inserted"), bytes(stray)]
    tree = SparseMerkleTree(MemoryNodeStore())
    state: dict[bytes, bytes] = {}
    versions = []
    for version, updates in enumerate(_batches(keys), start=1):
        root = tree.apply_batch(version, updates)
        for k, v in updates.items():
            if v is None:
                state.pop(k, None)
            else:
                state[k] = v
        cases = []
        for key in probes:
            proof = tree.prove(key, version)
            value = state.get(key)
            cases.append(_proof_case(root, key, value, proof, proof.kind.name.lower()))
        key = keys[1]
        proof = tree.prove(key, version)
        cases.append(_proof_case(root, key, _h("wrong"), proof, "wrong value hash"))
        if proof.siblings:
            raw = bytearray(proof.to_bytes())
            raw[-1] ^= 1
            bad = Proof.from_bytes(bytes(raw))
            cases.append(_proof_case(root, key, state.get(key), bad, "flipped last byte"))
        versions.append(
            {
                "version": version,
                "updates": [
                    [k.hex(), None if v is None else v.hex()] for k, v in sorted(updates.items())
                ],
                "root": root.hex(),
                "proofs": cases,
            }
        )
    a, b = _h("left"), _h("right")
    return {
        "description": "fontana sparse Merkle tree vectors; see docs/smt.md",
        "hashes": {
            "leaf": {"key": a.hex(), "value_hash": b.hex(), "hash": leaf_hash(a, b).hex()},
            "node": {"left": a.hex(), "right": b.hex(), "hash": node_hash(a, b).hex()},
        },
        "versions": versions,
        "malformed_proofs": _malformed(tree.prove(keys[0], 1).to_bytes()),
    }


def render() -> str:
    """The vectors as the exact text of the committed file."""
    return json.dumps(build_vectors(), indent=1) + "\n"


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    path.write_text(render())


if __name__ == "__main__":
    main(sys.argv[1:])
