"""Bridge validators: who holds the checkpoint keys and signs for the withdrawal processor.

A validator signs the checkpoint of a block only after checking the ledger's proof of
every withdrawal it is asked about against that block's state root: a ledger that
gives a proof of something else gets a typed refusal, not a signature. ``bridge.validator``
picks the implementation (:func:`open_validator`): ``python-validator`` (this module,
keys read by Python from ``bridge.validator_keys``) or ``native-validator`` (the
``native`` plugin: keys read and held by Rust); ``auto`` takes the native one when it
is there (docs/bridge.md, "Bridge validators").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import attrs

from fontana.bridge.checkpoint import Checkpoint, sign_checkpoint, validator_address
from fontana.errors import ConfigError, FontanaError, UnknownWithdrawalError

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import BridgeValidator
    from fontana.ledger import Ledger
    from fontana.models import WithdrawalLeaf

AUTO: Final = "auto"
PYTHON: Final = "python-validator"
NATIVE: Final = "native-validator"


class CheckpointRefusedError(FontanaError):
    """A validator will not sign: the ledger's block does not hold up to its checks."""

    code = "checkpoint_refused"
    exit_code = 65  # EX_DATAERR


class ProofMismatchError(CheckpointRefusedError):
    """A withdrawal's proof does not verify against the state root of the block to sign."""

    code = "proof_mismatch"


@attrs.frozen
class ProvenWithdrawal:
    """A burn's withdrawal leaf and the proof the validator checked it with."""

    leaf: WithdrawalLeaf
    proof: bytes


@attrs.frozen
class SignedCheckpoint:
    """A checkpoint, every validator key's signature of it, and the proofs checked first."""

    checkpoint: Checkpoint
    #: 65 bytes each, in increasing signer address order (the vault's).
    signatures: tuple[bytes, ...]
    withdrawals: tuple[ProvenWithdrawal, ...]


class PythonValidator:
    """The reference validator: keys read by Python, proofs checked by the ledger's tree."""

    name = PYTHON

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("bridge.validator_keys: name at least one validator key file")
        self._keys = tuple(keys)
        self._addresses = sorted(validator_address(k) for k in self._keys)
        if len(set(self._addresses)) != len(self._addresses):
            raise ConfigError("bridge.validator_keys: a validator key is given twice")

    def __repr__(self) -> str:
        return f"PythonValidator({', '.join('0x' + a.hex() for a in self._addresses)})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a validator holds private keys: it cannot be pickled or copied")

    def addresses(self) -> list[bytes]:
        return list(self._addresses)

    def sign(
        self, ledger: Ledger, height: int, burns: Sequence[bytes], chain_id: int, vault: bytes
    ) -> SignedCheckpoint:
        with ledger.storage.read() as s:
            block = s.get_block(height)
        if block is None:
            raise KeyError(f"no block at height {height}")
        checkpoint = Checkpoint(ledger.genesis_hash, height, block.state_root)
        proven = []
        for burn in burns:
            leaf, proof = ledger.prove_withdrawal(burn, height)
            if leaf.id != burn:
                raise ProofMismatchError(
                    f"withdrawal {burn.hex()}: the ledger gave the leaf of withdrawal "
                    f"{leaf.id.hex()}"
                )
            if not ledger.proofs.verify(block.state_root, leaf.key, leaf.leaf_value_hash(), proof):
                if ledger.proofs.verify(block.state_root, leaf.key, None, proof):
                    raise UnknownWithdrawalError(
                        f"withdrawal {burn.hex()} is not in the state of block {height}"
                        f" (root {block.state_root.hex()})"
                    )
                raise ProofMismatchError(
                    f"the proof of withdrawal {burn.hex()} does not verify against the state"
                    f" root {block.state_root.hex()} of block {height}"
                )
            proven.append(ProvenWithdrawal(leaf, proof))
        signatures = sign_checkpoint(self._keys, checkpoint, chain_id, vault)
        return SignedCheckpoint(checkpoint, tuple(signatures), tuple(proven))


def open_python_validator(settings: Settings) -> PythonValidator:
    """The reference validator with the keys of ``bridge.validator_keys``."""
    from fontana.bridge.keys import read_key_file

    if settings.bridge.validator_keys_env:
        raise ConfigError(
            f"bridge.validator_keys_env is read by {NATIVE} only (the fontana-native "
            f"plugin); {PYTHON} takes key files (bridge.validator_keys)"
        )
    paths = settings.bridge.validator_key_paths()
    return PythonValidator([read_key_file(p, "bridge.validator_keys") for p in paths])


def open_validator(settings: Settings) -> BridgeValidator:
    """The validator ``bridge.validator`` names; ``auto``: native when a plugin provides it."""
    from fontana.plugins import get_host

    registry = get_host().backends("validators")
    name = settings.bridge.validator
    if name == AUTO:
        name = NATIVE if NATIVE in registry.names() else PYTHON
    validator: BridgeValidator = registry.resolve(name).factory(settings)
    return validator
