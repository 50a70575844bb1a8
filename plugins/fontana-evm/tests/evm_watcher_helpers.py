"""Helpers of the EVM watcher's tests: the real Vault (fontana.bridge.vault), keys, a ledger.

Every test runs on a snapshot of the node (``evm_url``) that is reverted after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.config import Settings, load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import Genesis
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.evm import MNEMONIC, HardhatNode

SEQUENCER = SigningKey(b"\x41" * 32)
#: Where deposits go: an ed25519 public key, as Fontana's own tools insist.
ROLLUP = bytes(SigningKey(b"\x42" * 32).verify_key)


def genesis(l1_confirmations: int = 1) -> Genesis:
    return Genesis(
        chain_id="fontana-evm-test",
        genesis_time_ms=now_ms(),
        sequencer=bytes(SEQUENCER.verify_key),
        da_namespace=b"fontanaevm",
        block_time_ms=1_000,
        min_fee=1,
        l1_confirmations=l1_confirmations,
        allocations=(),
    )


def account(index: int) -> Any:
    """Hardhat's funded account ``index`` with its key (the public test mnemonic)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@pytest.fixture
def w3(evm_url: str) -> Any:
    from web3 import Web3

    return Web3(Web3.HTTPProvider(evm_url))


@pytest.fixture
def node(hardhat_node: HardhatNode, evm_url: str) -> HardhatNode:
    """The node, with the test's snapshot taken (``evm_url``)."""
    return hardhat_node


#: The one bridge validator of the tests' vaults (a secp256k1 key; its address is public).
VALIDATOR_KEY = bytes([0x51]) * 32


def deploy(w3: Any, genesis_hash: bytes) -> Any:
    """The real Vault, for the native coin, with one validator; deployed by account 0."""
    from fontana.bridge.checkpoint import validator_address
    from fontana.bridge.vault import VaultConfig, deploy_vault

    config = VaultConfig((validator_address(VALIDATOR_KEY),), 1, genesis_hash)
    return deploy_vault(w3, config, w3.eth.accounts[0])


def signed_deposit(w3: Any, vault: Any, rollup: bytes, utia: int, index: int = 1) -> bytes:
    """A ``depositNative`` transaction signed here, to send (and send again after a reorg)."""
    sender = account(index)
    tx = vault.functions.depositNative(rollup).build_transaction(
        {
            "from": sender.address,
            "value": utia * vault.functions.nativeScale().call(),
            "nonce": w3.eth.get_transaction_count(sender.address),
            "gas": 200_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
            "chainId": w3.eth.chain_id,
        }
    )
    return bytes(sender.sign_transaction(tx).raw_transaction)


def l1_settings(tmp_path: Path, url: str, vault: str, **extra: str) -> Settings:
    env = {
        "FONTANA_HOME": str(tmp_path / "home"),
        "FONTANA_L1_URL": url.replace("http://", "evm+http://"),
        "FONTANA_L1_VAULT": vault,
        **{f"FONTANA_L1_{k.upper()}": v for k, v in extra.items()},
    }
    return load_settings(environ=env, cwd=tmp_path)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    settings = load_settings(environ={"FONTANA_HOME": str(tmp_path / "home")}, cwd=tmp_path)
    storage = open_storage(settings)
    chain = genesis()
    initialize(storage, PythonSMTProvider(), chain)
    ledger = Ledger(storage, PythonSMTProvider(), chain)
    yield ledger
    storage.close()
