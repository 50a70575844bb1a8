"""The vault's deposit side and deployment rules, on a real hardhat node through web3."""

from __future__ import annotations

from typing import Any

import pytest
from evm_helpers import GENESIS_HASH, ROLLUP_ADDRESS, VALIDATOR_KEYS, Deployment, deployment, w3
from web3 import Web3
from web3.logs import DISCARD

from fontana.bridge.checkpoint import validator_address
from fontana.bridge.vault import (
    VaultConfig,
    VaultRevertError,
    address,
    deploy_vault,
    deposit_native,
    deposit_token,
    load_artifact,
    send,
)

__all__ = ["deployment", "w3"]  # fixtures

SCALE = 10**12  # native units per utia
MAX_UTIA = 2**63 - 1


def _deposited(d: Deployment, receipt: Any) -> list[dict[str, Any]]:
    events = d.vault.events.Deposited().process_receipt(receipt, errors=DISCARD)
    return [dict(e["args"]) for e in events]


def test_native_deposits_emit_one_event_each_with_increasing_ids(deployment: Deployment) -> None:
    d = deployment
    first = deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, 1_500, d.user)
    second = deposit_native(d.w3, d.vault, b"\x02" * 32, 7, d.deployer)
    assert _deposited(d, first) == [
        {
            "depositId": 1,
            "sender": d.user,
            "rollupAddress": ROLLUP_ADDRESS,
            "token": address(bytes(20)),
            "amount": 1_500,
        }
    ]
    assert _deposited(d, second)[0]["depositId"] == 2
    assert _deposited(d, second)[0]["amount"] == 7
    assert d.w3.eth.get_balance(d.vault.address) == 1_507 * SCALE
    assert d.vault.functions.depositCount().call() == 2


def test_token_deposit_moves_the_tokens_and_emits_the_token(deployment: Deployment) -> None:
    d = deployment
    send(d.w3, d.token.functions.mint(d.user, 5_000), d.deployer)
    receipt = deposit_token(d.w3, d.vault, ROLLUP_ADDRESS, 1_200, d.user)
    assert _deposited(d, receipt) == [
        {
            "depositId": 1,
            "sender": d.user,
            "rollupAddress": ROLLUP_ADDRESS,
            "token": d.token.address,
            "amount": 1_200,
        }
    ]
    assert d.token.functions.balanceOf(d.vault.address).call() == 1_200
    assert d.token.functions.balanceOf(d.user).call() == 3_800


def test_a_locally_signed_deposit_works_too(deployment: Deployment) -> None:
    d = deployment
    receipt = deposit_native(d.w3, d.vault, ROLLUP_ADDRESS, 3, d.outsider)
    assert _deposited(d, receipt)[0]["sender"] == d.outsider.address


@pytest.mark.parametrize(
    ("value", "recipient", "error"),
    [
        (SCALE + 1, ROLLUP_ADDRESS, "BadAmount"),  # not a whole utia
        (SCALE - 1, ROLLUP_ADDRESS, "BadAmount"),  # less than one utia
        (0, ROLLUP_ADDRESS, "BadAmount"),
        (SCALE, bytes(32), "ZeroRecipient"),
    ],
    ids=["fraction", "below one utia", "zero", "zero recipient"],
)
def test_bad_native_deposits_revert_and_change_nothing(
    deployment: Deployment, value: int, recipient: bytes, error: str
) -> None:
    d = deployment
    with pytest.raises(VaultRevertError) as caught:
        send(d.w3, d.vault.functions.depositNative(recipient), d.user, value=value)
    assert caught.value.name == error
    assert d.vault.functions.depositCount().call() == 0
    assert d.w3.eth.get_balance(d.vault.address) == 0


@pytest.mark.parametrize(
    ("amount", "recipient", "approve", "error"),
    [
        (0, ROLLUP_ADDRESS, True, "BadAmount"),
        (MAX_UTIA + 1, ROLLUP_ADDRESS, True, "BadAmount"),  # beyond what the rollup counts
        (100, bytes(32), True, "ZeroRecipient"),
        (100, ROLLUP_ADDRESS, False, "TokenTransferFailed"),  # no allowance
    ],
    ids=["zero", "over 2^63-1 utia", "zero recipient", "not approved"],
)
def test_bad_token_deposits_revert_and_change_nothing(
    deployment: Deployment, amount: int, recipient: bytes, approve: bool, error: str
) -> None:
    d = deployment
    send(d.w3, d.token.functions.mint(d.user, 2**64), d.deployer)
    if approve:
        send(d.w3, d.token.functions.approve(d.vault.address, amount), d.user)
    with pytest.raises(VaultRevertError) as caught:
        send(d.w3, d.vault.functions.depositToken(recipient, amount), d.user)
    assert caught.value.name == error
    assert d.vault.functions.depositCount().call() == 0
    assert d.token.functions.balanceOf(d.vault.address).call() == 0


def test_the_largest_deposit_is_accepted(deployment: Deployment) -> None:
    d = deployment
    send(d.w3, d.token.functions.mint(d.user, MAX_UTIA), d.deployer)
    receipt = deposit_token(d.w3, d.vault, ROLLUP_ADDRESS, MAX_UTIA, d.user)
    assert _deposited(d, receipt)[0]["amount"] == MAX_UTIA


def test_a_vault_without_token_refuses_token_deposits(w3: Web3) -> None:
    config = VaultConfig((validator_address(VALIDATOR_KEYS[0]),), 1, GENESIS_HASH)
    vault = deploy_vault(w3, config, w3.eth.accounts[0])
    with pytest.raises(VaultRevertError) as caught:
        send(w3, vault.functions.depositToken(ROLLUP_ADDRESS, 1), w3.eth.accounts[1])
    assert caught.value.name == "NoToken"


def test_the_vault_takes_no_plain_transfers(deployment: Deployment) -> None:
    d = deployment
    with pytest.raises(Exception):  # noqa: B017 - no receive(): the node refuses it
        d.w3.eth.send_transaction({"from": d.user, "to": d.vault.address, "value": SCALE})
    assert d.w3.eth.get_balance(d.vault.address) == 0


def _validators(*keys: int) -> tuple[bytes, ...]:
    return tuple(validator_address(VALIDATOR_KEYS[k]) for k in keys)


def test_deployment_records_its_configuration(deployment: Deployment) -> None:
    vault = deployment.vault.functions
    assert vault.validators().call() == sorted(
        (address(a) for a in _validators(0, 1, 2, 3, 4)), key=lambda a: a.lower()
    )
    assert vault.threshold().call() == 3
    assert vault.genesisHash().call() == GENESIS_HASH
    assert vault.token().call() == deployment.token.address
    assert (vault.nativeScale().call(), vault.tokenScale().call()) == (SCALE, 1)
    assert all(vault.isValidator(address(a)).call() for a in _validators(0, 4))


@pytest.mark.parametrize(
    ("validators", "threshold", "scales", "reason"),
    [
        ("sorted", 0, (SCALE, 1), "threshold"),
        ("sorted", 3, (SCALE, 1), "threshold"),  # more than there are validators
        ("unsorted", 1, (SCALE, 1), "validators"),
        ("duplicate", 1, (SCALE, 1), "validators"),
        ("zero", 1, (SCALE, 1), "validators"),
        ("sorted", 1, (0, 1), "scale"),
        ("sorted", 1, (SCALE, 0), "scale"),
    ],
)
def test_bad_configurations_do_not_deploy(
    w3: Web3, validators: str, threshold: int, scales: tuple[int, int], reason: str
) -> None:
    pair = sorted(_validators(0, 1))
    chosen = {
        "sorted": pair,
        "unsorted": pair[::-1],
        "duplicate": [pair[0], pair[0]],
        "zero": [bytes(20), pair[0]],
    }[validators]
    config = VaultConfig(tuple(chosen), threshold, GENESIS_HASH, bytes(20), *scales)
    args = list(config.constructor_args())
    args[0] = [address(v) for v in chosen]  # constructor_args sorts; keep the order under test
    artifact = load_artifact("Vault")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with pytest.raises(VaultRevertError) as caught:
        send(w3, factory.constructor(*args), w3.eth.accounts[0])
    assert caught.value.name == "BadConfig"
    assert caught.value.error_args == (reason,)
