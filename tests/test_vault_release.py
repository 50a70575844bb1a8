"""The vault's release: k-of-n checkpoint signatures and a state-tree proof, paid once.

Against a real hardhat node through web3. Withdrawal leaves and proofs come from the
Python tree (and, in the last test, from a real ledger that sealed a burn), signatures
from ``fontana.bridge.checkpoint``; every rejection is checked to change nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from evm_helpers import (
    GENESIS_HASH,
    ROLLUP_ADDRESS,
    THRESHOLD,
    VALIDATOR_KEYS,
    Deployment,
    deployment,
    w3,
)
from ledger_helpers import ALICE, ALLOCATION, SEQUENCER, genesis_outpoint, make_transfer
from web3.logs import DISCARD

from fontana.bridge.checkpoint import (
    SECP256K1_N,
    Checkpoint,
    domain_separator,
    sign_checkpoint,
    validator_address,
)
from fontana.bridge.vault import (
    VaultConfig,
    VaultRevertError,
    address,
    deploy_vault,
    deposit_native,
    deposit_token,
    is_released,
    release,
    send,
    send_signed,
    sign_release,
)
from fontana.ledger import Ledger
from fontana.models import NATIVE_TOKEN, WithdrawalLeaf, WithdrawalRequest
from fontana.smt import MemoryNodeStore, SparseMerkleTree

__all__ = ["deployment", "w3"]  # fixtures

SCALE = 10**12
HEIGHT = 7
RECIPIENT = bytes.fromhex("00000000000000000000000000000000000a11ce")
FUNDS = 1_000_000  # utia the vault holds in each form


@attrs.frozen
class Withdrawal:
    leaf: WithdrawalLeaf
    height: int
    root: bytes
    proof: bytes
    signatures: tuple[bytes, ...]


def bytes20(text_address: str) -> bytes:
    return bytes.fromhex(text_address[2:])


def signatures(
    d: Deployment, root: bytes, height: int = HEIGHT, keys: tuple[bytes, ...] = VALIDATOR_KEYS[:3]
) -> tuple[bytes, ...]:
    checkpoint = Checkpoint(GENESIS_HASH, height, root)
    return tuple(sign_checkpoint(keys, checkpoint, d.w3.eth.chain_id, bytes20(d.vault.address)))


def make_withdrawal(
    d: Deployment, amount: int, token: bytes = NATIVE_TOKEN, others: int = 200, seed: int = 0
) -> Withdrawal:
    """A leaf among ``others`` random keys in a Python tree, proven and signed at HEIGHT."""
    rng = random.Random(seed)
    tree = SparseMerkleTree(MemoryNodeStore())
    updates: dict[bytes, bytes | None] = {
        rng.randbytes(32): rng.randbytes(32) for _ in range(others)
    }
    leaf = WithdrawalLeaf(rng.randbytes(32), RECIPIENT, token, amount)
    updates[leaf.key] = leaf.leaf_value_hash()
    root = tree.apply_batch(1, updates)
    proof = tree.prove(leaf.key, 1).to_bytes()
    return Withdrawal(leaf, HEIGHT, root, proof, signatures(d, root))


@pytest.fixture
def funded(deployment: Deployment) -> Deployment:
    d = deployment
    deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, FUNDS, d.user)
    send(d.w3, d.token.functions.mint(d.user, FUNDS), d.deployer)
    deposit_token(d.w3, d.vault, ROLLUP_ADDRESS, FUNDS, d.user)
    return d


def submit(d: Deployment, w: Withdrawal, sender: Any = None, **override: Any) -> Any:
    args = attrs.asdict(w, recurse=False) | override
    return release(
        d.w3,
        d.vault,
        args["leaf"],
        args["height"],
        args["root"],
        args["signatures"],
        args["proof"],
        sender or d.user,
    )


def holdings(d: Deployment) -> tuple[int, ...]:
    who = (address(RECIPIENT), d.vault.address)
    return (
        *(d.w3.eth.get_balance(a) for a in who),
        *(d.token.functions.balanceOf(a).call() for a in who),
    )


def test_a_native_release_pays_once_and_marks_the_id(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 12_345)
    assert not is_released(d.vault, w.leaf.id)
    receipt = submit(d, w)
    assert d.w3.eth.get_balance(address(RECIPIENT)) == 12_345 * SCALE
    assert d.w3.eth.get_balance(d.vault.address) == (FUNDS - 12_345) * SCALE
    assert is_released(d.vault, w.leaf.id)
    [event] = d.vault.events.Released().process_receipt(receipt, errors=DISCARD)
    assert dict(event["args"]) == {
        "id": w.leaf.id,
        "recipient": address(RECIPIENT),
        "token": address(NATIVE_TOKEN),
        "amount": 12_345,
        "height": HEIGHT,
    }
    before = holdings(d)
    with pytest.raises(VaultRevertError) as caught:
        submit(d, w)
    assert (caught.value.name, caught.value.error_args) == ("AlreadyReleased", (w.leaf.id,))
    assert holdings(d) == before


def test_a_token_release_pays_the_token_scaled(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 777, token=bytes20(d.token.address))
    submit(d, w)
    assert d.token.functions.balanceOf(address(RECIPIENT)).call() == 777
    assert d.token.functions.balanceOf(d.vault.address).call() == FUNDS - 777
    assert d.w3.eth.get_balance(address(RECIPIENT)) == 0


def test_anyone_may_submit_and_the_leaf_recipient_is_paid(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 5)
    submit(d, w, sender=d.outsider)  # signed locally, sent raw
    assert d.w3.eth.get_balance(address(RECIPIENT)) == 5 * SCALE


def test_every_later_root_releases_too_and_all_validators_may_sign(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 9)
    submit(
        d, w, height=HEIGHT + 100, signatures=signatures(d, w.root, HEIGHT + 100, VALIDATOR_KEYS)
    )
    assert is_released(d.vault, w.leaf.id)


def test_a_stored_signed_release_is_one_transaction(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 21)
    args = (w.leaf, w.height, w.root, w.signatures, w.proof, d.outsider)
    signed = sign_release(d.w3, d.vault, *args)
    assert signed == sign_release(d.w3, d.vault, *args, nonce=signed.nonce)  # deterministic
    receipt = send_signed(d.w3, signed)
    assert receipt["transactionHash"] == signed.tx_hash
    assert d.w3.eth.get_balance(address(RECIPIENT)) == 21 * SCALE
    with pytest.raises(VaultRevertError) as caught:  # a new one is refused before signing
        sign_release(d.w3, d.vault, *args)
    assert caught.value.name == "AlreadyReleased"


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])


def _other_root(d: Deployment, w: Withdrawal) -> dict[str, Any]:
    """A root the validators did sign, but of a tree without this leaf."""
    other = make_withdrawal(d, w.leaf.amount, seed=1)
    return {"root": other.root, "signatures": other.signatures}


STRANGER = bytes([0x99]) * 32

# name -> (changes to the call, expected custom error)
TAMPERED: dict[str, tuple[Callable[[Deployment, Withdrawal], dict[str, Any]], str]] = {
    "proof against another signed root": (_other_root, "BadProof"),
    "root the validators did not sign": (lambda d, w: {"root": b"\x01" * 32}, "NotValidator"),
    "another height than signed": (lambda d, w: {"height": HEIGHT + 1}, "NotValidator"),
    "signed for another deployment": (
        lambda d, w: {
            "signatures": tuple(
                sign_checkpoint(
                    VALIDATOR_KEYS[:3],
                    Checkpoint(b"\x6b" * 32, HEIGHT, w.root),
                    d.w3.eth.chain_id,
                    bytes20(d.vault.address),
                )
            )
        },
        "NotValidator",
    ),
    "too few signatures": (lambda d, w: {"signatures": w.signatures[:2]}, "TooFewSignatures"),
    "no signatures": (lambda d, w: {"signatures": ()}, "TooFewSignatures"),
    "duplicate signature": (
        lambda d, w: {"signatures": (w.signatures[0], w.signatures[0], w.signatures[1])},
        "SignersNotIncreasing",
    ),
    "signers out of order": (
        lambda d, w: {"signatures": w.signatures[::-1]},
        "SignersNotIncreasing",
    ),
    "a non-validator's signature": (
        lambda d, w: {"signatures": signatures(d, w.root, keys=(*VALIDATOR_KEYS[:2], STRANGER))},
        "NotValidator",
    ),
    "high s": (
        lambda d, w: {"signatures": (_high_s(w.signatures[0]), *w.signatures[1:])},
        "HighS",
    ),
    "64-byte signature": (
        lambda d, w: {"signatures": (w.signatures[0][:64], *w.signatures[1:])},
        "BadSignatureLength",
    ),
    "v of 29": (
        lambda d, w: {"signatures": (w.signatures[0][:64] + b"\x1d", *w.signatures[1:])},
        "BadSignature",
    ),
    "tampered amount": (
        lambda d, w: {"leaf": attrs.evolve(w.leaf, amount=w.leaf.amount + 1)},
        "BadProof",
    ),
    "tampered recipient": (
        lambda d, w: {"leaf": attrs.evolve(w.leaf, l1_recipient=b"\x0b" * 20)},
        "BadProof",
    ),
    "tampered token": (
        lambda d, w: {"leaf": attrs.evolve(w.leaf, token=bytes20(d.token.address))},
        "BadProof",
    ),
    "tampered id": (lambda d, w: {"leaf": attrs.evolve(w.leaf, id=b"\x05" * 32)}, "BadProof"),
    "truncated proof": (lambda d, w: {"proof": w.proof[:-1]}, "BadProof"),
    "empty proof": (lambda d, w: {"proof": b""}, "BadProof"),
}


@pytest.mark.parametrize("case", TAMPERED, ids=str)
def test_a_bad_release_reverts_and_changes_nothing(funded: Deployment, case: str) -> None:
    d = funded
    w = make_withdrawal(d, 4_000)
    change, error = TAMPERED[case]
    before = holdings(d)
    with pytest.raises(VaultRevertError) as caught:
        submit(d, w, **change(d, w))
    assert caught.value.name == error
    assert holdings(d) == before
    assert not is_released(d.vault, w.leaf.id)
    submit(d, w)  # the genuine release still goes through
    assert is_released(d.vault, w.leaf.id)


def test_too_little_liquidity_reverts_and_the_id_stays_unused(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, FUNDS + 1)
    before = holdings(d)
    with pytest.raises(VaultRevertError) as caught:
        submit(d, w)
    assert caught.value.name == "InsufficientLiquidity"
    assert caught.value.error_args == (address(NATIVE_TOKEN), (FUNDS + 1) * SCALE, FUNDS * SCALE)
    assert holdings(d) == before and not is_released(d.vault, w.leaf.id)
    deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, 1, d.user)
    submit(d, w)  # once the vault holds enough, the same withdrawal is paid
    assert d.w3.eth.get_balance(address(RECIPIENT)) == (FUNDS + 1) * SCALE


def test_a_leaf_naming_another_token_is_refused(funded: Deployment) -> None:
    d = funded
    w = make_withdrawal(d, 10, token=b"\x0c" * 20)
    with pytest.raises(VaultRevertError) as caught:
        submit(d, w)
    assert caught.value.name == "UnknownToken"
    assert not is_released(d.vault, w.leaf.id)


def test_the_vault_hashes_and_digests_as_python_does(deployment: Deployment) -> None:
    d = deployment
    leaf = WithdrawalLeaf(b"\x11" * 32, RECIPIENT, bytes20(d.token.address), 2**64 - 1)
    vault = d.vault.functions
    assert vault.withdrawalKey(leaf.id).call() == leaf.key
    args = (leaf.id, address(leaf.l1_recipient), address(leaf.token), leaf.amount)
    assert vault.withdrawalValueHash(*args).call() == leaf.leaf_value_hash()
    chain_id, at = d.w3.eth.chain_id, bytes20(d.vault.address)
    assert vault.domainSeparator().call() == domain_separator(chain_id, at)
    checkpoint = Checkpoint(GENESIS_HASH, 2**64 - 1, b"\x22" * 32)
    assert vault.checkpointDigest(2**64 - 1, b"\x22" * 32).call() == checkpoint.digest(chain_id, at)


def test_a_burn_sealed_by_a_real_ledger_is_released(ledger: Ledger, w3: Any) -> None:
    """Ledger → prove_withdrawal → checkpoint of the block's root → release on L1."""
    deployer = w3.eth.accounts[0]
    config = VaultConfig(
        tuple(validator_address(k) for k in VALIDATOR_KEYS), THRESHOLD, ledger.genesis_hash
    )
    vault = deploy_vault(w3, config, deployer)
    deposit_native(w3, vault, ROLLUP_ADDRESS, 500, deployer)
    burn = WithdrawalRequest(RECIPIENT, 300)
    tx = make_transfer(
        [genesis_outpoint(0)], [(bytes(ALICE.verify_key), ALLOCATION - 302)], [ALICE], fee=2,
        burn=burn,
    )  # fmt: skip
    ledger.apply_transaction(tx)
    header = ledger.seal_block(SEQUENCER).header.header
    leaf, proof = ledger.prove_withdrawal(tx.txid, header.height)
    checkpoint = Checkpoint(ledger.genesis_hash, header.height, header.state_root)
    signed = sign_checkpoint(
        VALIDATOR_KEYS[1:4], checkpoint, w3.eth.chain_id, bytes20(vault.address)
    )
    release(w3, vault, leaf, header.height, header.state_root, signed, proof, deployer)
    assert w3.eth.get_balance(address(RECIPIENT)) == 300 * SCALE
    assert is_released(vault, tx.txid)
