"""The vault contract through web3: deploy it, deposit into it, release from it.

One place that knows the contract's ABI and argument order, shared by the tests, the
watcher's and processor's helpers and the devnet. The compiled contracts are read from
``contracts/artifacts`` (committed, rebuilt by ``contracts/build.js``); a checkout other
than this repository's names its ``contracts/`` in ``$FONTANA_CONTRACTS_DIR``.

A sender is an address the node holds unlocked (a test node's accounts) or an
eth-account ``LocalAccount``, whose transactions are signed here. A transaction the
vault reverts raises :class:`VaultRevertError` naming the contract's custom error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

import attrs
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from fontana.bridge import restore_recursion_limit
from fontana.errors import ConfigError, FontanaError
from fontana.models import WithdrawalLeaf

restore_recursion_limit()  # web3 imported py_ecc, which raised it process-wide

CONTRACTS_DIR_ENV: Final = "FONTANA_CONTRACTS_DIR"
NATIVE: Final = bytes(20)
#: L1 units per utia by default: 18-decimal native coin, 6-decimal token (docs/bridge.md).
DEFAULT_NATIVE_SCALE: Final = 10**12
DEFAULT_TOKEN_SCALE: Final = 1

Sender = str | LocalAccount


class VaultRevertError(FontanaError):
    """The vault (or its token) refused a call; ``name`` is the custom error, if one decoded."""

    code = "l1_revert"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        name: str = "reverted",
        error_args: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(message, code=code)
        self.name = name
        self.error_args = error_args


def _reverted(name: str, args: tuple[Any, ...] = (), detail: str = "") -> VaultRevertError:
    text = f"L1 call reverted: {name}{args if args else ''} {detail}".rstrip()
    return VaultRevertError(text, name=name, error_args=args)


def contracts_dir() -> Path:
    explicit = os.environ.get(CONTRACTS_DIR_ENV, "").strip()
    path = Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "contracts"
    if not (path / "artifacts").is_dir():
        raise ConfigError(f"no compiled contracts in {path}/artifacts (set ${CONTRACTS_DIR_ENV})")
    return path


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """``contracts/artifacts/NAME.json``: ``abi``, ``bytecode`` and the compiler settings."""
    path = contracts_dir() / "artifacts" / f"{name}.json"
    try:
        artifact: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the artifact {path}: {exc}") from None
    return artifact


def address(raw: bytes | str) -> str:
    """The checksummed text form of a 20-byte address."""
    return to_checksum_address(raw if isinstance(raw, str) else "0x" + raw.hex())


@attrs.frozen
class VaultConfig:
    """What a vault is deployed with; none of it can change afterwards."""

    validators: tuple[bytes, ...]  # 20-byte addresses; sorted at deployment
    threshold: int
    genesis_hash: bytes
    token: bytes = NATIVE  # the ERC-20 form of TIA; zero: none
    native_scale: int = DEFAULT_NATIVE_SCALE
    token_scale: int = DEFAULT_TOKEN_SCALE

    def constructor_args(self) -> tuple[Any, ...]:
        return (
            [address(v) for v in sorted(self.validators)],
            self.threshold,
            self.genesis_hash,
            address(self.token),
            self.native_scale,
            self.token_scale,
        )


def contract(w3: Web3, name: str, at: bytes | str) -> Contract:
    """The deployed contract ``name`` (an artifact) at ``at``."""
    return w3.eth.contract(address=address(at), abi=load_artifact(name)["abi"])


def vault_at(w3: Web3, at: bytes | str) -> Contract:
    return contract(w3, "Vault", at)


def deploy(w3: Web3, name: str, args: Sequence[Any], sender: Sender) -> Contract:
    """Deploy the artifact ``name`` with constructor ``args``; wait for its receipt."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = send(w3, factory.constructor(*args), sender)
    return contract(w3, name, receipt["contractAddress"])


def deploy_vault(w3: Web3, config: VaultConfig, sender: Sender) -> Contract:
    return deploy(w3, "Vault", config.constructor_args(), sender)


def deploy_test_token(w3: Web3, sender: Sender) -> Contract:
    """The tests' mintable ERC-20 (6 decimals)."""
    return deploy(w3, "TestToken", (), sender)


def send(w3: Web3, call: ContractFunction | Any, sender: Sender, value: int = 0) -> TxReceipt:
    """Send a contract call (or constructor) from ``sender``; return its receipt.

    A revert (at gas estimation or in the mined transaction) raises VaultRevertError.
    """
    sender_address = sender.address if isinstance(sender, LocalAccount) else address(sender)
    params: dict[str, Any] = {"from": sender_address, "value": value}
    try:
        if isinstance(sender, LocalAccount):
            tx = call.build_transaction(
                {**params, "nonce": w3.eth.get_transaction_count(sender_address, "pending")}
            )
            signed = sender.sign_transaction(tx)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = call.transact(params)
    except (ContractCustomError, ContractLogicError) as exc:
        raise decode_revert(exc) from None
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise _reverted("reverted", detail=f"in transaction {tx_hash.hex()}")
    return receipt


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str]]]:
    selectors: dict[bytes, tuple[str, list[str]]] = {}
    for name in ("Vault", "TestToken"):
        for item in load_artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                selectors[Web3.keccak(text=signature)[:4]] = (item["name"], types)
    return selectors


def decode_revert(exc: ContractCustomError | ContractLogicError) -> VaultRevertError:
    """The vault's custom error (name and arguments) from web3's revert exception."""
    from eth_abi import decode

    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        raw = bytes.fromhex(data[2:])
        known = _error_selectors().get(raw[:4])
        if known is not None:
            name, types = known
            try:
                return _reverted(name, tuple(decode(types, raw[4:])))
            except Exception:  # undecodable arguments: the name is still right
                return _reverted(name)
    return _reverted("reverted", detail=str(exc)[:200])


# ------------------------------------------------------------------ deposits


def deposit_native(
    w3: Web3, vault: Contract, rollup_address: bytes, utia: int, sender: Sender
) -> TxReceipt:
    """Deposit ``utia`` of the native coin for ``rollup_address``."""
    value = utia * vault.functions.nativeScale().call()
    return send(w3, vault.functions.depositNative(rollup_address), sender, value=value)


def deposit_token(
    w3: Web3, vault: Contract, rollup_address: bytes, utia: int, sender: Sender
) -> TxReceipt:
    """Approve and deposit ``utia`` of the vault's token for ``rollup_address``."""
    amount = utia * vault.functions.tokenScale().call()
    token = contract(w3, "TestToken", vault.functions.token().call())
    send(w3, token.functions.approve(vault.address, amount), sender)
    return send(w3, vault.functions.depositToken(rollup_address, amount), sender)


# ------------------------------------------------------------------ releases


def release_call(
    vault: Contract,
    leaf: WithdrawalLeaf,
    height: int,
    state_root: bytes,
    signatures: Sequence[bytes],
    proof: bytes,
) -> ContractFunction:
    """The ``release`` call for ``leaf`` proven in ``state_root``, the root of block ``height``."""
    return vault.functions.release(
        leaf.id,
        address(leaf.l1_recipient),
        address(leaf.token),
        leaf.amount,
        height,
        state_root,
        list(signatures),
        proof,
    )


def release(
    w3: Web3,
    vault: Contract,
    leaf: WithdrawalLeaf,
    height: int,
    state_root: bytes,
    signatures: Sequence[bytes],
    proof: bytes,
    sender: Sender,
) -> TxReceipt:
    """Send the release and wait for its receipt."""
    return send(w3, release_call(vault, leaf, height, state_root, signatures, proof), sender)


@attrs.frozen
class SignedRelease:
    """A release transaction signed but not sent: store it first, then send (and resend) it.

    The same bytes sent twice are one transaction (same nonce, same hash), so a
    processor that crashed after sending cannot release twice by sending again.
    """

    raw: bytes
    tx_hash: bytes
    nonce: int


def sign_release(
    w3: Web3,
    vault: Contract,
    leaf: WithdrawalLeaf,
    height: int,
    state_root: bytes,
    signatures: Sequence[bytes],
    proof: bytes,
    account: LocalAccount,
    nonce: int | None = None,
) -> SignedRelease:
    """Build and sign the release from ``account`` (gas estimated now: a revert raises here)."""
    if nonce is None:
        nonce = w3.eth.get_transaction_count(account.address, "pending")
    call = release_call(vault, leaf, height, state_root, signatures, proof)
    try:
        tx = call.build_transaction({"from": account.address, "nonce": nonce})
    except (ContractCustomError, ContractLogicError) as exc:
        raise decode_revert(exc) from None
    signed = account.sign_transaction(tx)
    return SignedRelease(bytes(signed.raw_transaction), bytes(signed.hash), nonce)


def send_signed(w3: Web3, signed: SignedRelease) -> TxReceipt:
    """Send a stored signed transaction and wait for its receipt (VaultRevertError if reverted)."""
    w3.eth.send_raw_transaction(signed.raw)
    receipt = w3.eth.wait_for_transaction_receipt(signed.tx_hash)
    if receipt["status"] != 1:
        raise _reverted("reverted", detail=f"in transaction {signed.tx_hash.hex()}")
    return receipt


def is_released(vault: Contract, withdrawal_id: bytes) -> bool:
    return bool(vault.functions.released(withdrawal_id).call())
