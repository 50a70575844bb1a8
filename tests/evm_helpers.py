"""Shared set-up of the vault tests: a web3 client on the test node, keys, a deployed vault.

Everything runs against a real hardhat node over HTTP (``fontana.testing.evm``); each
test gets the chain back as it was (``evm_url`` reverts a snapshot), so deployments
are per test and cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from fontana.bridge.checkpoint import validator_address
from fontana.bridge.vault import VaultConfig, deploy, deploy_test_token, deploy_vault

GENESIS_HASH = bytes.fromhex("6a" * 32)
#: Bridge validator i has the secp256k1 key bytes([i]) * 32, like the ed25519 test keys.
VALIDATOR_KEYS = tuple(bytes([i]) * 32 for i in range(1, 6))
THRESHOLD = 3
ROLLUP_ADDRESS = bytes.fromhex("a1" * 32)


def validator_keys_by_address(keys: Sequence[bytes] = VALIDATOR_KEYS) -> list[bytes]:
    """The keys sorted by their address: the order the vault wants signatures in."""
    return sorted(keys, key=validator_address)


@attrs.frozen
class Deployment:
    w3: Web3
    vault: Contract
    token: Contract
    deployer: str
    user: str
    outsider: LocalAccount  # a key the node does not hold: signed locally


@pytest.fixture
def w3(evm_url: str) -> Web3:
    client = Web3(Web3.HTTPProvider(evm_url, request_kwargs={"timeout": 60}))
    assert client.is_connected()
    return client


@pytest.fixture
def deployment(w3: Web3) -> Deployment:
    deployer, user = w3.eth.accounts[0], w3.eth.accounts[1]
    token = deploy_test_token(w3, deployer)
    config = VaultConfig(
        validators=tuple(validator_address(k) for k in VALIDATOR_KEYS),
        threshold=THRESHOLD,
        genesis_hash=GENESIS_HASH,
        token=bytes.fromhex(token.address[2:]),
    )
    vault = deploy_vault(w3, config, deployer)
    outsider = Account.from_key(bytes([0x77]) * 32)
    w3.eth.send_transaction({"from": deployer, "to": outsider.address, "value": 10**18})
    return Deployment(w3, vault, token, deployer, user, outsider)


@pytest.fixture
def harness(w3: Web3) -> Contract:
    """The proof verifier as an external view (contracts/SMTHarness.sol)."""
    return deploy(w3, "SMTHarness", (), w3.eth.accounts[0])
