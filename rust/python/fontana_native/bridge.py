"""The native bridge validator: checkpoint keys read and held by Rust (``native-validator``).

The keys come from ``bridge.validator_keys`` (key files, mode 0600 or stricter) and/or
the environment variable ``bridge.validator_keys_env`` names; Rust reads them, zeroizes
every buffer that held them, and never hands them to Python. Python sees addresses and
signatures only. Rust calls back into the ledger for the signed header and the proofs,
checks them, and signs (docs/native.md, "Bridge validator").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.bridge.signer import SignedCheckpoint
    from fontana.config import Settings
    from fontana.interfaces import BridgeValidator, BridgeValidatorFactory, RegisterBackend
    from fontana.ledger import Ledger
    from fontana_native._native import Validator

# Every ``fontana`` command imports this module (the plugin's hooks): the validator's
# imports wait until the withdrawal processor opens one.

NAME: Final = "native-validator"


class NativeValidator:
    """A :class:`fontana.interfaces.BridgeValidator` over the Rust ``Validator``."""

    name = NAME

    def __init__(self, validator: Validator) -> None:
        self._validator = validator

    def __repr__(self) -> str:
        return f"NativeValidator({self._validator!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a validator holds private keys: it cannot be pickled or copied")

    def addresses(self) -> list[bytes]:
        return list(self._validator.addresses())

    def sign(
        self, ledger: Ledger, height: int, burns: Sequence[bytes], chain_id: int, vault: bytes
    ) -> SignedCheckpoint:
        from fontana.bridge.checkpoint import Checkpoint
        from fontana.bridge.signer import ProvenWithdrawal, SignedCheckpoint

        root, signatures, proven = self._validator.sign_checkpoint(
            ledger, height, list(burns), chain_id, vault
        )
        return SignedCheckpoint(
            Checkpoint(ledger.genesis_hash, height, root),
            tuple(signatures),
            tuple(ProvenWithdrawal(leaf, proof) for leaf, proof in proven),
        )


def open_native_validator(settings: Settings) -> BridgeValidator:
    """The Rust validator with the keys ``[bridge]`` names."""
    from fontana.errors import ConfigError
    from fontana_native._native import Validator

    paths = [str(p) for p in settings.bridge.validator_key_paths()]
    env = settings.bridge.validator_keys_env or None
    if not paths and env is None:
        raise ConfigError(
            "bridge.validator_keys or bridge.validator_keys_env: name the validator keys"
        )
    return NativeValidator(Validator(paths, env))


@hookimpl
def fontana_register_bridge_validators(register: RegisterBackend[BridgeValidatorFactory]) -> None:
    register(
        NAME,
        open_native_validator,
        description="checkpoint keys read and held by Rust; proofs checked in Rust",
    )
