"""Checkpoints: the bridge validators' EIP-712 signatures of a rollup state root.

The vault releases a withdrawal against ``(genesis_hash, height, state_root)`` signed by
``threshold`` of its validators (docs/bridge.md, docs/protocol.md section 9). The digest
is EIP-712's typed-data hash, so a validator's signature is bound to one vault on one
L1 chain and to one rollup deployment. Signatures are 65 bytes ``r ‖ s ‖ v`` with
``v`` in {27, 28} and low ``s`` (EIP-2), the only form the vault accepts.

keccak-256 and secp256k1 come from eth-hash and eth-keys (both installed with
eth-account, the ``evm`` extra); they are imported when first needed, so the core
runs without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Final

import attrs

from fontana.errors import ConfigError, EncodingError

if TYPE_CHECKING:
    from collections.abc import Callable

DOMAIN_NAME: Final = "Fontana Vault"
DOMAIN_VERSION: Final = "1"
DOMAIN_TYPE: Final = (
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
CHECKPOINT_TYPE: Final = b"Checkpoint(bytes32 genesisHash,uint64 height,bytes32 stateRoot)"
SIGNATURE_LEN: Final = 65
#: The secp256k1 group order; a signature's s must be at most half of it.
SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_U64_MAX: Final = 2**64 - 1


def keccak(data: bytes) -> bytes:
    """keccak-256 (Ethereum's, not SHA3-256)."""
    return _keccak()(data)


def _keccak() -> Callable[[bytes], bytes]:
    try:
        from eth_hash.auto import keccak as impl
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            f"checkpoints need the evm extra (pip install 'fontana[evm]'): {exc}"
        ) from None
    return impl


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


@attrs.frozen
class Checkpoint:
    """A rollup state root at a height, for one deployment (its genesis hash)."""

    genesis_hash: bytes
    height: int
    state_root: bytes

    def __attrs_post_init__(self) -> None:
        for name in ("genesis_hash", "state_root"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise EncodingError(f"checkpoint.{name}: expected 32 bytes")
        if isinstance(self.height, bool) or not isinstance(self.height, int):
            raise EncodingError("checkpoint.height: expected an integer")
        if not 0 <= self.height <= _U64_MAX:
            raise EncodingError(f"checkpoint.height: {self.height} is not a u64")

    def struct_hash(self) -> bytes:
        """EIP-712 ``hashStruct`` of the Checkpoint."""
        return keccak(
            keccak(CHECKPOINT_TYPE) + self.genesis_hash + _word(self.height) + self.state_root
        )

    def digest(self, chain_id: int, vault: bytes) -> bytes:
        """What validators sign: ``keccak(0x1901 ‖ domainSeparator ‖ hashStruct)``."""
        return keccak(b"\x19\x01" + domain_separator(chain_id, vault) + self.struct_hash())


def domain_separator(chain_id: int, vault: bytes) -> bytes:
    """The EIP-712 domain of the vault at address ``vault`` on chain ``chain_id``."""
    if not isinstance(vault, bytes) or len(vault) != 20:
        raise EncodingError("vault: expected a 20-byte address")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 <= chain_id < 2**256:
        raise EncodingError("chain_id: expected a uint256")
    return keccak(
        keccak(DOMAIN_TYPE)
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + _word(chain_id)
        + bytes(12)
        + vault
    )


def _keys() -> ModuleType:
    try:
        from eth_keys import keys
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            f"checkpoints need the evm extra (pip install 'fontana[evm]'): {exc}"
        ) from None
    return keys


def validator_address(private_key: bytes) -> bytes:
    """The 20-byte address of a secp256k1 private key."""
    keys = _keys()
    return bytes(keys.PrivateKey(private_key).public_key.to_canonical_address())


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A deterministic (RFC 6979) signature ``r ‖ s ‖ v`` with low s and v in {27, 28}."""
    if len(digest) != 32:
        raise EncodingError("digest: expected 32 bytes")
    keys = _keys()
    sig = keys.PrivateKey(private_key).sign_msg_hash(digest)
    r, s, v = sig.r, sig.s, sig.v
    if s > SECP256K1_N // 2:  # eth-keys already normalizes; the vault rejects anything else
        s, v = SECP256K1_N - s, v ^ 1
    return _word(r) + _word(s) + bytes([27 + v])


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """The address that made ``signature`` over ``digest``, by the vault's rules.

    Raises EncodingError for what the vault refuses: a length other than 65, a v
    other than 27 or 28, a high s, or a signature no key made.
    """
    if len(signature) != SIGNATURE_LEN:
        raise EncodingError(f"signature: expected {SIGNATURE_LEN} bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N // 2:
        raise EncodingError("signature: high s")
    if v not in (27, 28) or not 0 < r < SECP256K1_N or s == 0:
        raise EncodingError("signature: not a valid secp256k1 signature")
    keys = _keys()
    try:
        sig = keys.Signature(vrs=(v - 27, r, s))
        public = sig.recover_public_key_from_msg_hash(digest)
    except Exception as exc:  # eth-keys raises several types for unrecoverable input
        raise EncodingError(f"signature: recovers no key ({exc})") from None
    return bytes(public.to_canonical_address())


def sign_checkpoint(
    private_keys: Iterable[bytes], checkpoint: Checkpoint, chain_id: int, vault: bytes
) -> list[bytes]:
    """Each key's signature of the checkpoint, in increasing signer address order (the vault's)."""
    digest = checkpoint.digest(chain_id, vault)
    signed = [(validator_address(k), sign_digest(k, digest)) for k in private_keys]
    return [sig for _, sig in sorted(signed)]
