"""Gas used by deposits and releases on the test node, within fixed budgets (docs/bridge.md).

Gas is deterministic for given calldata and state, so these bounds are exact checks, not
timings. ``pytest -s`` prints the figures docs/bridge.md quotes.

Proof sizes: a tree of 1,000 random keys is built for real. For a million UTXOs the test
builds a proof of the same shape as the median proof of a real 1M-leaf tree (20 present
siblings, 646 bytes; docs/smt.md, "Performance"): the leaf's key is fixed by its id, so
the tree holds 20 more keys, the i-th sharing exactly i leading bits with it. The verifier's
gas depends only on the proof's sibling count and size, not on the rest of the tree.
"""

from __future__ import annotations

import random

import pytest
from evm_helpers import ROLLUP_ADDRESS, VALIDATOR_KEYS, Deployment, deployment, w3
from test_vault_release import bytes20, signatures

from fontana.bridge.vault import deposit_native, deposit_token, release, send
from fontana.models import NATIVE_TOKEN, WithdrawalLeaf
from fontana.smt import MemoryNodeStore, SparseMerkleTree

__all__ = ["deployment", "w3"]  # fixtures

HEIGHT = 7


def _tree_with(leaf: WithdrawalLeaf, keys: list[bytes]) -> tuple[bytes, bytes]:
    tree = SparseMerkleTree(MemoryNodeStore())
    rng = random.Random(1)
    updates: dict[bytes, bytes | None] = {k: rng.randbytes(32) for k in keys}
    updates[leaf.key] = leaf.leaf_value_hash()
    root = tree.apply_batch(1, updates)
    return root, tree.prove(leaf.key, 1).to_bytes()


def _random_keys(count: int) -> list[bytes]:
    rng = random.Random(2)
    return [rng.randbytes(32) for _ in range(count)]


def _prefix_keys(key: bytes, depth: int) -> list[bytes]:
    """``depth`` keys, the i-th agreeing with ``key`` on bits 0..i-1 and differing at bit i."""
    rng = random.Random(3)
    value = int.from_bytes(key, "big")
    out = []
    for i in range(depth):
        low = rng.getrandbits(255 - i)  # the bits below i: anything
        flipped = (value >> (255 - i)) ^ 1
        out.append(((flipped << (255 - i)) | low).to_bytes(32, "big"))
    return out


def _release_gas(d: Deployment, leaf: WithdrawalLeaf, root: bytes, proof: bytes) -> int:
    signed = signatures(d, root, HEIGHT, VALIDATOR_KEYS[:3])
    receipt = release(d.w3, d.vault, leaf, HEIGHT, root, signed, proof, d.user)
    return int(receipt["gasUsed"])


def test_gas_of_deposits_and_releases(deployment: Deployment) -> None:
    d = deployment
    figures: dict[str, int] = {}
    first = deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, 10_000_000, d.user)
    figures["first native deposit"] = first["gasUsed"]
    figures["native deposit"] = deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, 5, d.user)["gasUsed"]
    send(d.w3, d.token.functions.mint(d.user, 10_000_000), d.deployer)
    figures["first token deposit"] = deposit_token(
        d.w3, d.vault, ROLLUP_ADDRESS, 5_000_000, d.user
    )["gasUsed"]
    figures["token deposit"] = deposit_token(d.w3, d.vault, ROLLUP_ADDRESS, 5, d.user)["gasUsed"]

    rng = random.Random(4)
    token = bytes20(d.token.address)
    cases = {
        "1k UTXOs": lambda leaf: _tree_with(leaf, _random_keys(1_000)),
        "1M UTXOs (median shape)": lambda leaf: _tree_with(leaf, _prefix_keys(leaf.key, 20)),
    }
    sizes = {}
    for label, build in cases.items():
        for form, form_token in (("native", NATIVE_TOKEN), ("token", token)):
            # A fresh recipient each time: the native payment creates its account.
            leaf = WithdrawalLeaf(rng.randbytes(32), rng.randbytes(20), form_token, 1_000)
            root, proof = build(leaf)
            sizes[label] = len(proof)
            figures[f"release {form}, {label}, {len(proof)} B proof"] = _release_gas(
                d, leaf, root, proof
            )
    print("\n".join(f"{name}: {gas}" for name, gas in figures.items()))
    assert sizes["1M UTXOs (median shape)"] == 3 + 3 + 20 * 32  # 646 B, as docs/smt.md
    assert 200 < sizes["1k UTXOs"] < 500
    for name, gas in figures.items():
        budget = 80_000 if "deposit" in name else 200_000
        assert gas < budget, (name, gas)


@pytest.mark.parametrize("depth", [1, 20, 40])
def test_prefix_keys_put_the_leaf_at_that_depth(depth: int) -> None:
    leaf = WithdrawalLeaf(b"\x01" * 32, b"\x02" * 20, NATIVE_TOKEN, 1)
    _, proof = _tree_with(leaf, _prefix_keys(leaf.key, depth))
    assert int.from_bytes(proof[1:3], "big") == depth
    assert len(proof) == 3 + (depth + 7) // 8 + 32 * depth  # every sibling present
