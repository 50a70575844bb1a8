"""The vault's Solidity proof verifier answers exactly as the Python tree does.

``contracts/SMTHarness.sol`` exposes ``SparseMerkleProof.verify`` as a view, called on a
real hardhat node: every proof of docs/smt.md's vectors (``tests/vectors/smt.json``),
every malformed one, and a differential run over random trees built with the Python tree,
their proofs of present and absent keys, and mutations of those proofs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from evm_helpers import harness, w3
from web3.contract import Contract

from fontana.errors import EncodingError
from fontana.smt import MemoryNodeStore, Proof, SparseMerkleTree, verify_proof

__all__ = ["harness", "w3"]  # fixtures

SMT: dict[str, Any] = json.loads((Path(__file__).parent / "vectors" / "smt.json").read_text())


def python_verify(root: bytes, key: bytes, value: bytes | None, proof: bytes) -> bool:
    """The reference: decode strictly (a proof that does not decode proves nothing), verify."""
    try:
        decoded = Proof.from_bytes(proof)
    except EncodingError:
        return False
    return verify_proof(root, key, value, decoded)


def solidity_verify(
    harness: Contract, root: bytes, key: bytes, value: bytes | None, proof: bytes
) -> bool:
    present = value is not None
    return bool(harness.functions.verifyProof(root, key, value or bytes(32), present, proof).call())


def test_the_smt_vectors(harness: Contract) -> None:
    checked = 0
    for version in SMT["versions"]:
        root = bytes.fromhex(version["root"])
        for vec in version["proofs"]:
            key = bytes.fromhex(vec["key"])
            value = bytes.fromhex(vec["value_hash"]) if vec["value_hash"] else None
            proof = bytes.fromhex(vec["proof"])
            assert solidity_verify(harness, root, key, value, proof) is vec["valid"], vec["note"]
            checked += 1
    assert checked == sum(len(v["proofs"]) for v in SMT["versions"])


def test_the_malformed_smt_vectors_prove_nothing(harness: Contract) -> None:
    root = bytes.fromhex(SMT["versions"][0]["root"])
    key = bytes.fromhex(SMT["versions"][0]["proofs"][0]["key"])
    for vec in SMT["malformed_proofs"]:
        proof = bytes.fromhex(vec["proof"])
        assert not harness.functions.wellFormed(proof).call(), vec["note"]
        for value in (None, b"\x01" * 32):
            assert not solidity_verify(harness, root, key, value, proof), vec["note"]
    for version in SMT["versions"]:
        for vec in version["proofs"]:  # every proof of the vectors decodes
            assert harness.functions.wellFormed(bytes.fromhex(vec["proof"])).call()


def test_the_worked_example_of_docs_smt(harness: Contract) -> None:
    """docs/smt.md's three-key tree: inclusion of c0…, absence of a0… and of 00…."""
    k00, k80, kc0, ka0 = (bytes([b]) + bytes(31) for b in (0x00, 0x80, 0xC0, 0xA0))
    tree = SparseMerkleTree(MemoryNodeStore())
    root = tree.apply_batch(1, {k00: b"\x11" * 32, k80: b"\x22" * 32, kc0: b"\x33" * 32})
    assert root.hex().startswith("9e4aa447")
    inclusion = tree.prove(kc0, 1).to_bytes()
    assert inclusion.hex().startswith("000002c03c92bf8f")
    assert solidity_verify(harness, root, kc0, b"\x33" * 32, inclusion)
    assert not solidity_verify(harness, root, kc0, b"\x34" * 32, inclusion)
    other_leaf = tree.prove(ka0, 1).to_bytes()
    assert other_leaf[0] == 2 and solidity_verify(harness, root, ka0, None, other_leaf)
    assert not solidity_verify(harness, root, k80, None, other_leaf)  # the other key itself


def _mutations(rng: random.Random, proof: bytes) -> list[bytes]:
    """Proof bytes near a genuine one: each breaks one thing, or nothing the verifier sees."""
    flip = rng.randrange(len(proof) * 8)
    out = [
        proof[:-1],
        proof + b"\x00",
        bytes([proof[0] ^ rng.choice((1, 2, 3))]) + proof[1:],
        proof[:1]
        + ((int.from_bytes(proof[1:3], "big") + 1) % 65536).to_bytes(2, "big")
        + proof[3:],
        bytearray_flip(proof, flip),
    ]
    n = int.from_bytes(proof[1:3], "big")
    if n:
        last_bitmap = 2 + (n + 7) // 8
        out.append(bytearray_flip(proof, last_bitmap * 8 + 7))  # a spare bit, or the last one
        start = 3 + (n + 7) // 8
        if len(proof) >= start + 32:
            out.append(proof[:start] + bytes(32) + proof[start + 32 :])  # a zero sibling
        out += _zero_marked_present(proof, n)
    return out


def _zero_marked_present(proof: bytes, n: int) -> list[bytes]:
    """The proof with its first absent sibling encoded as present zeros: hashes the same,
    but not canonical, so it must prove nothing."""
    bitmap = int.from_bytes(proof[3 : 3 + (n + 7) // 8], "big")
    width = 8 * ((n + 7) // 8)
    for i in range(n):
        if not bitmap >> (width - 1 - i) & 1:
            before = bin(bitmap >> (width - i)).count("1")  # present siblings ahead of i
            at = 3 + width // 8 + 32 * before
            marked = (bitmap | 1 << (width - 1 - i)).to_bytes(width // 8, "big")
            return [proof[:3] + marked + proof[3 + width // 8 : at] + bytes(32) + proof[at:]]
    return []


def bytearray_flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def python_decodes(proof: bytes) -> bool:
    try:
        Proof.from_bytes(proof)
    except EncodingError:
        return False
    return True


def solidity_verify_batch(
    harness: Contract, claims: list[tuple[bytes, bytes, bytes | None, bytes]]
) -> list[tuple[bool, bool]]:
    """``(verifyProof, wellFormed)`` of each ``(root, key, value or None, proof)``, 100 a call."""
    out: list[tuple[bool, bool]] = []
    for i in range(0, len(claims), 100):
        chunk = claims[i : i + 100]
        roots, keys, values, proofs = zip(*chunk, strict=True)
        call = harness.functions.verifyBatch(
            list(roots),
            list(keys),
            [v or bytes(32) for v in values],
            [v is not None for v in values],
            list(proofs),
        )
        results, formed = call.call({"gas": 16_000_000})  # below the per-transaction cap (2^24)
        out += zip(results, formed, strict=True)
    return out


def test_random_trees_and_proofs_agree_with_the_python_tree(harness: Contract) -> None:
    """Differential: Python and Solidity give the same answer on every (claim, proof) pair."""
    rng = random.Random(20261125)
    claims: list[tuple[bytes, bytes, bytes | None, bytes]] = []
    for round_ in range(24):
        tree = SparseMerkleTree(MemoryNodeStore())
        size = rng.choice((1, 2, 3, 17, 200, 1500))
        pairs = {rng.randbytes(32): rng.randbytes(32) for _ in range(size)}
        base = rng.randbytes(32)
        if round_ % 3 == 0:  # keys sharing long prefixes: deep paths, empty siblings
            for depth in rng.sample(range(8, 250), 6):
                k = bytearray(base)
                k[depth // 8] ^= 0x80 >> (depth % 8)
                pairs[bytes(k)] = rng.randbytes(32)
            pairs[base] = rng.randbytes(32)
        root = tree.apply_batch(1, pairs)
        wrong_root = bytearray_flip(root, rng.randrange(256))
        present = rng.sample(sorted(pairs), min(6, len(pairs)))
        absent = [rng.randbytes(32) for _ in range(4)]
        absent.append(bytearray_flip(base, 255))  # shares 255 bits with base (a key, or not)
        for key in present + absent:
            proof = tree.prove(key, 1).to_bytes()
            value = pairs.get(key)
            for claim in (value, None, rng.randbytes(32)):
                claims += [(root, key, claim, proof), (wrong_root, key, claim, proof)]
            claims += [(root, key, value, m) for m in _mutations(rng, proof)]
    expected = [(python_verify(*claim), python_decodes(claim[3])) for claim in claims]
    got = solidity_verify_batch(harness, claims)
    disagreements = [c for c, e, g in zip(claims, expected, got, strict=True) if e != g]
    assert disagreements == []
    assert len(claims) > 2_000
    assert sum(ok for ok, _ in expected) >= 24 * 6  # genuine proofs were among them
    assert sum(not formed for _, formed in expected) >= 24 * 5  # and malformed ones
