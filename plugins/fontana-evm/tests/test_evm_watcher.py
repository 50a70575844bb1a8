"""The EVM watcher on a real hardhat node and the real Vault: final deposits credited once.

Reorgs are hardhat's ``evm_snapshot``/``evm_revert`` with the same signed
transaction mined again in another block; hostile logs come from a contract
that emits whatever it is told (fontana_evm.testing).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from evm_watcher_helpers import (
    ROLLUP,
    SEQUENCER,
    VALIDATOR_KEY,
    account,
    deploy,
    l1_settings,
    signed_deposit,
)
from fontana_evm.decode import DEPOSITED_TOPIC, RELEASED_TOPIC
from fontana_evm.testing import deploy_emitter, deposited, emit, released, word
from fontana_evm.watcher import EvmWatcher, http_endpoint, vault_address
from nacl.signing import SigningKey

from fontana.bridge.checkpoint import Checkpoint, sign_checkpoint
from fontana.bridge.handlers import (
    DepositHandled,
    WithdrawalHandled,
    handle_deposit_received,
    handle_withdrawal_confirmed,
)
from fontana.bridge.vault import deposit_native, load_artifact, release
from fontana.errors import ConfigError, DepositConflictError, L1UnavailableError
from fontana.ledger import Ledger
from fontana.models import Deposit, Transaction, TxKind, WithdrawalRequest
from fontana.testing.evm import HardhatNode
from fontana.watcher import Watcher, load_cursor, open_l1_watcher

HOLDER = SigningKey(b"\x43" * 32)


def pub(key: SigningKey) -> bytes:
    return bytes(key.verify_key)


def watcher_for(url: str, address: str, confirmations: int, max_range: int = 1_000) -> EvmWatcher:
    return EvmWatcher(url, vault_address(address), confirmations=confirmations, max_range=max_range)


def credit(ledger: Ledger, l1: EvmWatcher, **options: Any) -> list[Any]:
    """Every event final now, handled; what the handlers and the decoder reported."""
    seen: list[Any] = []
    Watcher(ledger, l1, on_event=seen.append, **options).catch_up(threading.Event())
    return seen


def test_the_decoder_topics_are_the_vaults_events() -> None:
    events = {e["name"]: e for e in load_artifact("Vault")["abi"] if e["type"] == "event"}

    def topic(name: str) -> bytes:
        types = ",".join(i["type"] for i in events[name]["inputs"])
        return keccak(text=f"{name}({types})")

    assert (topic("Deposited"), topic("Released")) == (DEPOSITED_TOPIC, RELEASED_TOPIC)
    assert [i["indexed"] for i in events["Deposited"]["inputs"]] == [True] * 3 + [False] * 2
    assert [i["indexed"] for i in events["Released"]["inputs"]] == [True] * 2 + [False] * 3


def test_a_vault_deposit_is_credited_once_when_final(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    sender = w3.eth.accounts[1]
    receipt = deposit_native(w3, vault, ROLLUP, 5_000, sender)
    l1 = watcher_for(evm_url, vault.address, confirmations=2)
    assert l1.source == f"evm:31337:{vault.address.lower()}"
    assert l1.finalized_height() == receipt["blockNumber"] - 2
    assert credit(ledger, l1) == [] and ledger.balance(ROLLUP) == 0  # in the head block
    node.mine(1)
    assert credit(ledger, l1) == [] and ledger.balance(ROLLUP) == 0  # one block on top
    node.mine(1)
    (handled,) = credit(ledger, l1)
    assert isinstance(handled, DepositHandled) and handled.credited
    assert handled.deposit == Deposit(
        l1_chain_id=31337,
        vault=bytes.fromhex(vault.address[2:]),
        l1_tx_hash=bytes(receipt["transactionHash"]),
        log_index=receipt["logs"][0]["logIndex"],
        l1_block=receipt["blockNumber"],
        depositor=bytes.fromhex(sender[2:]),
        recipient=ROLLUP,
        amount=5_000,
    )
    assert ledger.balance(ROLLUP) == 5_000
    node.mine(5)
    assert credit(ledger, l1) == []  # the cursor is past it
    restarted = watcher_for(evm_url, vault.address, confirmations=2)
    assert credit(ledger, restarted) == [] and ledger.balance(ROLLUP) == 5_000
    cursor = load_cursor(ledger.storage)
    assert cursor is not None and cursor.scanned_to == w3.eth.block_number - 2


def test_chunked_scans_see_every_deposit_in_log_order(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    start = w3.eth.block_number
    for utia in range(1, 8):
        deposit_native(w3, vault, ROLLUP, utia, w3.eth.accounts[utia % 3 + 1])
    node.mine(1)
    l1 = watcher_for(evm_url, vault.address, confirmations=1, max_range=2)
    events = l1.scan(start, l1.finalized_height())
    assert [d.amount for d in events.deposits] == list(range(1, 8))
    handled = credit(ledger, l1, start_block=start, max_range=3)
    assert [h.deposit.amount for h in handled] == list(range(1, 8))
    assert ledger.balance(ROLLUP) == sum(range(1, 8))


def test_a_reorg_below_the_confirmations_credits_the_final_block_once(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    l1 = watcher_for(evm_url, vault.address, confirmations=3)
    assert account(1).address == w3.eth.accounts[1]  # the key signing here is the node's
    raw = signed_deposit(w3, vault, ROLLUP, 77)
    before_reorg = node.snapshot()
    first = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    node.mine(2)  # two blocks on top: not yet final at 3 confirmations
    assert credit(ledger, l1) == []
    node.revert(before_reorg)  # the deposit's block is gone ...
    node.mine(2)
    again = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    assert again["transactionHash"] == first["transactionHash"]
    assert again["blockNumber"] == first["blockNumber"] + 2  # ... and it is mined elsewhere
    node.mine(3)
    (handled,) = credit(ledger, l1)
    assert handled.credited and handled.deposit.l1_block == again["blockNumber"]
    assert ledger.balance(ROLLUP) == 77
    node.mine(3)
    assert credit(ledger, l1) == [] and ledger.balance(ROLLUP) == 77


def test_a_reorg_deeper_than_the_confirmations_stops_the_watcher(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    l1 = watcher_for(evm_url, vault.address, confirmations=0)  # nothing is safe at 0
    raw = signed_deposit(w3, vault, ROLLUP, 10)
    before_reorg = node.snapshot()
    first = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    assert [h.deposit.l1_block for h in credit(ledger, l1)] == [first["blockNumber"]]
    node.revert(before_reorg)
    node.mine(2)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    with pytest.raises(DepositConflictError, match="was credited as deposit"):
        credit(ledger, l1)
    assert ledger.balance(ROLLUP) == 10  # the first credit stands; nothing is guessed


def test_look_alike_events_from_another_contract_are_never_read(
    w3: Any, evm_url: str, ledger: Ledger
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    owner = w3.eth.accounts[0]
    four, three = deploy_emitter(w3, 4, owner), deploy_emitter(w3, 3, owner)
    sender = bytes.fromhex(owner[2:])
    emit(w3, four, *deposited(1, sender, ROLLUP, bytes(20), 1_000_000), owner)
    emit(w3, three, *released(b"\x05" * 32, sender, bytes(20), 9, 1), owner)
    every_log = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
    assert {bytes(log["topics"][0]) for log in every_log} == {DEPOSITED_TOPIC, RELEASED_TOPIC}
    l1 = watcher_for(evm_url, vault.address, confirmations=0)
    assert credit(ledger, l1) == [] and ledger.balance(ROLLUP) == 0


def test_malformed_vault_logs_are_skipped_with_their_place_and_never_stop_the_watcher(
    w3: Any, evm_url: str, ledger: Ledger
) -> None:
    # The emitter plays a vault gone wrong: every log comes from the configured address.
    owner = w3.eth.accounts[0]
    emitters = {k: deploy_emitter(w3, k, owner) for k in (3, 4)}
    sender = bytes.fromhex(owner[2:])
    topics, data = deposited(1, sender, ROLLUP, bytes(20), 500)
    hostile = [
        (topics[:3], data),  # Deposited with a topic missing (an unindexed field)
        (topics, data[:63]),
        (topics, data + bytes(32)),
        (topics, data[:32] + word(0)),
        (topics, data[:32] + word(2**63)),
        (topics, data[:32] + word(2**64 + 500)),
        ([*topics[:3], bytes(32)], data),
        ([*topics[:2], b"\x01" * 32, topics[3]], data),
        ([topics[0], word(2**64 + 1), *topics[2:]], data),
    ]
    receipts = [emit(w3, emitters[len(t)], t, d, owner) for t, d in hostile]
    # Another event's topic: the node's topic filter keeps it from the watcher altogether.
    other_event = keccak(text="Deposited(uint64,address,bytes32,address,uint256)")
    emit(w3, emitters[4], [other_event, *topics[1:]], data, owner)
    good = emit(w3, emitters[4], topics, data, owner)
    # Only the emitter of 4-topic logs is "the vault"; its 3-topic twin is a stranger.
    l1 = watcher_for(evm_url, emitters[4], confirmations=0)
    seen = credit(ledger, l1)
    skipped = [s for s in seen if not isinstance(s, DepositHandled)]
    from_vault = [r for r, (t, _) in zip(receipts, hostile, strict=True) if len(t) == 4]
    assert [(s.l1_tx_hash, s.l1_block) for s in skipped] == [
        (bytes(r["transactionHash"]), r["blockNumber"]) for r in from_vault
    ]
    assert all(s.log_index == 0 and s.reason for s in skipped)
    credited = [s for s in seen if isinstance(s, DepositHandled)]
    assert [(h.deposit.l1_tx_hash, h.deposit.amount) for h in credited] == [
        (bytes(good["transactionHash"]), 500)
    ]
    assert ledger.balance(ROLLUP) == 500


def test_an_unreachable_node_is_l1_unavailable(ledger: Ledger) -> None:
    l1 = watcher_for("http://127.0.0.1:9", "0x" + "11" * 20, confirmations=1)
    with pytest.raises(L1UnavailableError, match="eth_chainId from http://127.0.0.1:9"):
        l1.finalized_height()
    with pytest.raises(L1UnavailableError):
        Watcher(ledger, l1).step()
    l1.close()


def test_the_registry_opens_the_evm_watcher_with_the_genesis_confirmations(
    tmp_path: Path, evm_url: str
) -> None:
    vault = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    settings = l1_settings(tmp_path, evm_url, vault, max_range="7")
    l1 = open_l1_watcher(settings, 4)
    assert isinstance(l1, EvmWatcher)
    assert (l1.endpoint, l1.vault.hex(), l1.confirmations, l1.max_range) == (
        evm_url,
        vault[2:].lower(),
        4,
        7,
    )
    assert (
        open_l1_watcher(l1_settings(tmp_path, evm_url, vault, confirmations="0"), 4).confirmations
        == 0
    )


@pytest.mark.parametrize(
    "url", ["evm+ws://host:1", "evm://host:1", "evm+http://", "evm+http:///path", "http://h:1"]
)
def test_a_url_that_is_not_evm_over_http_is_config_invalid(url: str) -> None:
    with pytest.raises(ConfigError, match="l1.url"):
        http_endpoint(url)


def test_the_vault_address_must_be_set_and_checksummed_when_mixed_case() -> None:
    with pytest.raises(ConfigError, match="l1.vault is not set"):
        vault_address("")
    with pytest.raises(ConfigError, match="EIP-55 checksum"):
        vault_address("0x5FbDB2315678afecb367f032d93F642f64180aA3")
    assert vault_address("0x5fbdb2315678afecb367f032d93f642f64180aa3") == vault_address(
        "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    )
    assert http_endpoint("EVM+HTTPS://node.example/v3") == "https://node.example/v3"


def test_two_released_logs_of_one_id_confirm_it_once(w3: Any, evm_url: str, ledger: Ledger) -> None:
    funded = handle_deposit_received(
        ledger, Deposit(1, bytes(20), b"\x01" * 32, 0, 1, bytes(20), pub(HOLDER), 1_000)
    )
    burn = Transaction(
        kind=TxKind.WITHDRAWAL,
        chain_id=ledger.chain_id,
        inputs=(funded.utxo.outpoint,),
        outputs=(),
        fee=1,
        expiry_ms=2**62,
        withdrawal=WithdrawalRequest(l1_recipient=b"\x99" * 20, amount=999),
    ).sign(HOLDER, ledger.genesis_hash)
    ledger.apply_transaction(burn)
    # The emitter plays a vault gone wrong: the real one releases an id only once.
    owner = w3.eth.accounts[0]
    vault = deploy_emitter(w3, 3, owner)
    log = released(burn.txid, b"\x99" * 20, bytes(20), 999, 1)
    first = emit(w3, vault, *log, owner)
    emit(w3, vault, *log, owner)  # a second Released of the same id changes nothing
    handled = credit(ledger, watcher_for(evm_url, vault, confirmations=0))
    assert [(h.confirmation.l1_tx_hash, h.confirmed) for h in handled] == [
        (bytes(first["transactionHash"]), True),
        (handled[1].confirmation.l1_tx_hash, False),
    ]
    with ledger.storage.read() as s:
        row = s.get_withdrawal(burn.txid)
    assert row is not None and row.status == "confirmed"


def test_a_release_by_the_real_vault_confirms_the_withdrawal_once(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger
) -> None:
    """L1 deposit → credit → burn → sealed → proven → released on L1 → confirmed."""
    vault = deploy(w3, ledger.genesis_hash)
    l1 = watcher_for(evm_url, vault.address, confirmations=1)
    deposit_native(w3, vault, pub(HOLDER), 1_000, w3.eth.accounts[1])
    node.mine(1)
    (deposit,) = credit(ledger, l1)
    recipient = bytes.fromhex(w3.eth.accounts[5][2:])
    burn = Transaction(
        kind=TxKind.WITHDRAWAL,
        chain_id=ledger.chain_id,
        inputs=(deposit.utxo.outpoint,),
        outputs=(),
        fee=1,
        expiry_ms=2**62,
        withdrawal=WithdrawalRequest(l1_recipient=recipient, amount=999),
    ).sign(HOLDER, ledger.genesis_hash)
    ledger.apply_transaction(burn)
    header = ledger.seal_block(SEQUENCER).header.header
    leaf, proof = ledger.prove_withdrawal(burn.txid, header.height)
    checkpoint = Checkpoint(ledger.genesis_hash, header.height, header.state_root)
    vault_bytes = bytes.fromhex(vault.address[2:])
    signatures = sign_checkpoint([VALIDATOR_KEY], checkpoint, w3.eth.chain_id, vault_bytes)
    receipt = release(
        w3, vault, leaf, header.height, header.state_root, signatures, proof, w3.eth.accounts[2]
    )
    assert credit(ledger, l1) == []  # in the head block: not final yet
    node.mine(1)
    (handled,) = credit(ledger, l1)
    assert isinstance(handled, WithdrawalHandled) and handled.confirmed
    assert (handled.confirmation.burn_txid, handled.confirmation.l1_block) == (
        burn.txid,
        receipt["blockNumber"],
    )
    with ledger.storage.read() as s:
        row = s.get_withdrawal(burn.txid)
    assert row is not None and row.status == "confirmed"
    # The withdrawal processor confirming it from its own receipt later changes nothing.
    assert not handle_withdrawal_confirmed(ledger, handled.confirmation).confirmed
