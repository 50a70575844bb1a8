"""``fontana withdrawals`` on a real hardhat node and the real Vault: each burn released once.

The processor runs as its own process (``python -m fontana withdrawals --once``), on a
ledger whose burn was sealed in a block posted to the local DA. A crash is injected
after each step (``FONTANA_TEST_WITHDRAWALS_CRASH_AFTER``: the process exits right
after that step is committed), and the restarted processor must still release once:
one ``Released`` log, one transaction from the sender, the balance grown once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from eth_account import Account
from evm_helpers import w3  # noqa: F401  (fixture)
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    CAROL,
    SEQUENCER,
    create_ledger,
    genesis_outpoint,
    make_genesis,
    make_transfer,
    pub,
    settings_for,
)
from web3 import Web3

from fontana.bridge.checkpoint import Checkpoint, sign_checkpoint, validator_address
from fontana.bridge.keys import write_key_file
from fontana.bridge.vault import VaultConfig, deploy_vault, deposit_native, release
from fontana.da import open_da
from fontana.errors import UnknownWithdrawalError
from fontana.ledger import Ledger
from fontana.models import WithdrawalRequest
from fontana.poster import Poster
from fontana.testing.evm import HardhatNode
from fontana.testing.requirements import require_external
from fontana.withdrawals import CRASH_ENV, CRASH_EXIT, _nonce_of, released_topic

VALIDATORS = tuple(bytes([0x30 + i]) * 32 for i in range(3))
SENDER_KEY = bytes([0x66]) * 32
RECIPIENT = bytes([0xAB]) * 20
AMOUNT = 700
SCALE = 10**12


@attrs.frozen
class Setup:
    home: Path
    ledger: Ledger
    w3: Web3
    vault: Any
    env: dict[str, str]
    burn_txid: bytes


#: Plugin selection passed on to the processor, so a run with ``FONTANA_DISABLE_PLUGINS=native``
#: takes the Python path in the subprocesses too.
PLUGIN_VARS = ("FONTANA_PLUGINS", "FONTANA_DISABLE_PLUGINS")
#: The environment variable the ``native-env`` variant hands the validator keys in.
KEYS_ENV = "BRIDGE_VALIDATOR_KEYS"
NATIVE = "the fontana-native extension (make .venv/.fontana-native)"
#: ``bridge.validator`` variants for the tests that name one (``setup`` is ``auto`` otherwise).
VALIDATOR_VARIANTS = [
    pytest.param("python-validator", id="python"),
    pytest.param("native-validator", id="native"),
    pytest.param("native-env", id="native-env"),
]


def validator_env(variant: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``bridge.validator`` set to the variant (the key files, or an env var)."""
    if variant == "python-validator":
        return env | {"FONTANA_BRIDGE_VALIDATOR": variant}
    try:
        import fontana_native._native  # noqa: F401
    except ImportError:
        require_external(NATIVE)
    native = {k: v for k, v in env.items() if k not in PLUGIN_VARS}
    native["FONTANA_BRIDGE_VALIDATOR"] = "native-validator"
    if variant == "native-env":
        keys = ",".join(k.hex() for k in VALIDATORS[:2])
        del native["FONTANA_BRIDGE_VALIDATOR_KEYS"]
        native |= {"FONTANA_BRIDGE_VALIDATOR_KEYS_ENV": KEYS_ENV, KEYS_ENV: keys}
    return native


@pytest.fixture
def setup(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    w3: Web3,  # noqa: F811
    hardhat_node: HardhatNode,
) -> Any:
    """A ledger with one burn on DA and a vault; ``auto`` validator unless parametrized."""
    home = tmp_path / "home"
    genesis = make_genesis()
    ledger = create_ledger(f"sqlite:///{home / 'fontana.db'}", home, genesis)
    config = VaultConfig(tuple(validator_address(k) for k in VALIDATORS), 2, ledger.genesis_hash)
    vault = deploy_vault(w3, config, w3.eth.accounts[0])
    deposit_native(w3, vault, bytes([0xA1]) * 32, 10_000, w3.eth.accounts[1])  # liquidity
    sender = Account.from_key(SENDER_KEY)
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": sender.address, "value": 10**18})
    keys = tmp_path / "keys"
    keys.mkdir()
    paths = []
    for i, key in enumerate(VALIDATORS[:2]):
        write_key_file(keys / f"validator{i}", key)
        paths.append(str(keys / f"validator{i}"))
    write_key_file(keys / "sender", SENDER_KEY)
    burn = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), ALLOCATION - AMOUNT - 1)],
        [ALICE],
        burn=WithdrawalRequest(l1_recipient=RECIPIENT, amount=AMOUNT),
    )
    ledger.apply_transaction(burn)
    ledger.seal_block(SEQUENCER)
    post_all(home, ledger)
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("FONTANA_") or k in PLUGIN_VARS
    }
    env = clean | {
        "FONTANA_HOME": str(home),
        "FONTANA_L1_URL": hardhat_node.url.replace("http://", "evm+http://"),
        "FONTANA_L1_VAULT": vault.address,
        "FONTANA_L1_CONFIRMATIONS": "1",
        "FONTANA_BRIDGE_VALIDATOR_KEYS": ",".join(paths),
        "FONTANA_BRIDGE_SENDER_KEY": str(keys / "sender"),
    }
    variant = getattr(request, "param", None)
    if variant is not None:
        env = validator_env(variant, env)
    yield Setup(home, ledger, w3, vault, env, burn.txid)
    ledger.storage.close()


def post_all(home: Path, ledger: Ledger) -> None:
    """Every sealed block onto the local DA, as ``fontana poster`` does."""
    layer = open_da(settings_for(home), ledger.genesis.da_namespace)
    try:
        Poster(ledger.storage, layer, block_time_ms=1_000).post_pending(threading.Event())
    finally:
        layer.close()


def process(setup: Setup, crash_after: str | None = None) -> subprocess.CompletedProcess[str]:
    env = setup.env | ({CRASH_ENV: crash_after} if crash_after else {})
    return subprocess.run(
        [sys.executable, "-m", "fontana", "withdrawals", "--once", "--json"],
        env=env,
        cwd=setup.home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def job_state(setup: Setup) -> str | None:
    with setup.ledger.storage.read() as s:
        job = s.get_withdrawal_job(setup.burn_txid)
    return None if job is None else job.state


def released_logs(setup: Setup) -> list[Any]:
    return setup.w3.eth.get_logs(
        {
            "address": setup.vault.address,
            "fromBlock": 0,
            "toBlock": "latest",
            "topics": ["0x" + released_topic().hex()],
        }
    )


def run_to_confirmed(setup: Setup, node: HardhatNode) -> list[dict[str, Any]]:
    """``--once`` rounds, a block mined between them, until the job is confirmed."""
    seen: list[dict[str, Any]] = []
    for _ in range(5):
        done = process(setup)
        assert done.returncode == 0, done.stdout + done.stderr
        seen.extend(lines(done))
        if job_state(setup) == "confirmed":
            return seen
        node.mine(1)
    raise AssertionError(f"not confirmed: {seen}")


def assert_released_once(setup: Setup, sender_txs: int = 1) -> None:
    logs = released_logs(setup)
    assert len(logs) == 1 and bytes(logs[0]["topics"][1]) == setup.burn_txid
    assert setup.w3.eth.get_balance(Web3.to_checksum_address(RECIPIENT)) == AMOUNT * SCALE
    assert setup.w3.eth.get_transaction_count(Account.from_key(SENDER_KEY).address) == sender_txs
    with setup.ledger.storage.read() as s:
        row = s.get_withdrawal(setup.burn_txid)
        job = s.get_withdrawal_job(setup.burn_txid)
    assert row is not None and row.status == "confirmed"
    assert row.l1_tx_hash == bytes(logs[0]["transactionHash"])
    assert job is not None and job.l1_tx_hash == row.l1_tx_hash


@pytest.mark.parametrize("setup", VALIDATOR_VARIANTS, indirect=True)
def test_a_burn_on_da_is_released_on_l1_and_confirmed_once(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    """burn → sealed → on DA → proven → released → recipient paid amount × scale → confirmed.

    With each validator: the vault accepts the Rust validator's signatures as the Python ones.
    """
    seen = run_to_confirmed(setup, hardhat_node)
    states = [e["state"] for e in seen if e.get("event") == "withdrawal"]
    assert states == ["pending", "proven", "submitted", "confirmed"]
    assert seen[0]["event"] == "started"
    assert seen[0]["validator"] == setup.env["FONTANA_BRIDGE_VALIDATOR"]
    assert_released_once(setup)
    # Running again changes nothing and sends nothing.
    again = process(setup)
    assert again.returncode == 0 and [e["event"] for e in lines(again)] == ["started"]
    assert_released_once(setup)


@pytest.mark.parametrize("step", ["pending", "proven", "stored", "submitted", "confirmed"])
def test_a_processor_killed_after_each_step_still_releases_once(
    setup: Setup, hardhat_node: HardhatNode, step: str
) -> None:
    for _ in range(3):  # "confirmed" is reached once a block is mined on the release
        crashed = process(setup, crash_after=step)
        if crashed.returncode == CRASH_EXIT:
            break
        assert crashed.returncode == 0, crashed.stdout + crashed.stderr
        hardhat_node.mine(1)
    assert crashed.returncode == CRASH_EXIT, crashed.stdout + crashed.stderr
    assert job_state(setup) == ("submitted" if step == "stored" else step)
    with setup.ledger.storage.read() as s:
        job = s.get_withdrawal_job(setup.burn_txid)
    assert job is not None
    stored = job.l1_tx_hash if job.state == "submitted" else None
    run_to_confirmed(setup, hardhat_node)
    assert_released_once(setup)
    if stored is not None:  # the stored signed transaction is the one mined: none was rebuilt
        assert bytes(released_logs(setup)[0]["transactionHash"]) == stored


def test_a_release_by_someone_else_is_confirmed_without_sending(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    header = setup.ledger.latest_block()
    leaf, proof = setup.ledger.prove_withdrawal(setup.burn_txid, header.height)
    checkpoint = Checkpoint(setup.ledger.genesis_hash, header.height, header.state_root)
    vault_bytes = bytes.fromhex(setup.vault.address[2:])
    signatures = sign_checkpoint(VALIDATORS[1:], checkpoint, setup.w3.eth.chain_id, vault_bytes)
    release(
        setup.w3,
        setup.vault,
        leaf,
        header.height,
        header.state_root,
        signatures,
        proof,
        setup.w3.eth.accounts[2],
    )
    seen = run_to_confirmed(setup, hardhat_node)
    details = [e["detail"] for e in seen if e.get("state") == "submitted"]
    assert details == ["released by another sender"]
    assert_released_once(setup, sender_txs=0)


def test_a_stored_transaction_is_broadcast_again_not_rebuilt(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    """Crash between storing the signed release and sending it; a new block on L1 meanwhile."""
    crashed = process(setup, crash_after="stored")
    assert crashed.returncode == CRASH_EXIT
    with setup.ledger.storage.read() as s:
        job = s.get_withdrawal_job(setup.burn_txid)
    assert job is not None and job.state == "submitted" and job.raw_tx is not None
    assert released_logs(setup) == []  # never sent
    hardhat_node.mine(3)
    run_to_confirmed(setup, hardhat_node)
    assert_released_once(setup)
    assert bytes(released_logs(setup)[0]["transactionHash"]) == job.l1_tx_hash


@pytest.mark.parametrize("setup", VALIDATOR_VARIANTS[:2], indirect=True)
def test_a_validator_key_readable_by_others_is_refused(setup: Setup) -> None:
    path = Path(setup.env["FONTANA_BRIDGE_VALIDATOR_KEYS"].split(",")[0])
    path.chmod(0o644)
    done = process(setup)
    assert done.returncode != 0
    assert lines(done)[-1]["error"]["code"] == "key_permissions"
    assert job_state(setup) is None


@pytest.mark.parametrize("setup", VALIDATOR_VARIANTS, indirect=True)
def test_a_key_that_is_no_validator_of_the_vault_is_config_invalid(
    setup: Setup, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger"
    write_key_file(stranger, bytes([0x99]) * 32)
    setup_env = setup.env | {"FONTANA_BRIDGE_VALIDATOR_KEYS": str(stranger)}
    done = process(attrs.evolve(setup, env=setup_env))
    assert done.returncode == 78
    error = lines(done)[-1]["error"]
    assert error["code"] == "config_invalid" and "no validator of the vault" in error["message"]
    assert job_state(setup) is None


def burn_and_post(setup: Setup, signer: Any, index: int, burn: WithdrawalRequest) -> bytes:
    tx = make_transfer(
        [genesis_outpoint(index)],
        [(pub(signer), ALLOCATION - burn.amount - 1)],
        [signer],
        burn=burn,
    )
    setup.ledger.apply_transaction(tx)
    setup.ledger.seal_block(SEQUENCER)
    post_all(setup.home, setup.ledger)
    return tx.txid


def test_missing_liquidity_is_retried_and_an_unpayable_token_fails_with_its_reason(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    big = burn_and_post(setup, BOB, 1, WithdrawalRequest(RECIPIENT, 20_000))
    stranger_token = burn_and_post(setup, CAROL, 2, WithdrawalRequest(RECIPIENT, 5, b"\x77" * 20))
    run_to_confirmed(setup, hardhat_node)  # the first burn, 700 utia
    with setup.ledger.storage.read() as s:
        waiting, failed = s.get_withdrawal_job(big), s.get_withdrawal_job(stranger_token)
    assert waiting is not None and waiting.state == "proven"  # InsufficientLiquidity: retried
    assert failed is not None and failed.state == "failed"
    assert failed.reason is not None and "UnknownToken" in failed.reason
    deposit_native(setup.w3, setup.vault, bytes([0xA1]) * 32, 20_000, setup.w3.eth.accounts[1])
    for _ in range(3):
        assert process(setup).returncode == 0
        hardhat_node.mine(1)
    with setup.ledger.storage.read() as s:
        released, still_failed = s.get_withdrawal_job(big), s.get_withdrawal_job(stranger_token)
    assert released is not None and released.state == "confirmed"
    assert still_failed is not None and still_failed.state == "failed"
    assert setup.w3.eth.get_balance(Web3.to_checksum_address(RECIPIENT)) == 20_700 * SCALE
    assert len(released_logs(setup)) == 2


def test_the_daemon_releases_and_stops_cleanly_on_sigterm(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    env = setup.env | {"FONTANA_BRIDGE_POLL_MS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fontana", "withdrawals", "--json"],
        env=env,
        cwd=setup.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        states = []
        for line in proc.stdout:
            event = json.loads(line)
            states.append(event.get("state"))
            if event.get("state") == "submitted":
                hardhat_node.mine(1)
            if event.get("state") == "confirmed":
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert states[-4:] == ["pending", "proven", "submitted", "confirmed"]
    assert_released_once(setup)


def test_a_release_waiting_in_the_mempool_is_broadcast_again_not_rebuilt(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    """Blocks are not mined meanwhile: the restarted processor sends the same bytes again."""
    hardhat_node.rpc("evm_setAutomine", [False])
    try:
        first = process(setup)
        assert first.returncode == 0, first.stdout + first.stderr
        with setup.ledger.storage.read() as s:
            job = s.get_withdrawal_job(setup.burn_txid)
        assert job is not None and job.state == "submitted"
        again = process(setup)  # the node knows the transaction already
        assert again.returncode == 0, again.stdout + again.stderr
        assert [e["event"] for e in lines(again)] == ["started"]
    finally:
        hardhat_node.rpc("evm_setAutomine", [True])
    hardhat_node.mine(1)
    run_to_confirmed(setup, hardhat_node)
    assert_released_once(setup)
    assert bytes(released_logs(setup)[0]["transactionHash"]) == job.l1_tx_hash


def test_a_stored_release_whose_nonce_another_transaction_took_is_rebuilt_once(
    setup: Setup, hardhat_node: HardhatNode
) -> None:
    """The sender's nonce used by something else (an operator, a second processor) first.

    The stored transaction can then never be mined: the job must not wait for it
    forever but go back to the vault's answer and send a new release, once.
    """
    crashed = process(setup, crash_after="stored")
    assert crashed.returncode == CRASH_EXIT
    with setup.ledger.storage.read() as s:
        job = s.get_withdrawal_job(setup.burn_txid)
    assert job is not None and job.state == "submitted"
    sender = Account.from_key(SENDER_KEY)
    other = sender.sign_transaction(
        {
            "to": setup.w3.eth.accounts[0],
            "value": 1,
            "gas": 21_000,
            "gasPrice": setup.w3.eth.gas_price,
            "nonce": setup.w3.eth.get_transaction_count(sender.address),
            "chainId": setup.w3.eth.chain_id,
        }
    )
    setup.w3.eth.wait_for_transaction_receipt(
        setup.w3.eth.send_raw_transaction(other.raw_transaction)
    )
    run_to_confirmed(setup, hardhat_node)
    assert_released_once(setup, sender_txs=2)
    assert bytes(released_logs(setup)[0]["transactionHash"]) != job.l1_tx_hash


@pytest.mark.parametrize("typed", [False, True])
def test_the_nonce_of_a_stored_transaction_reads_back(typed: bool) -> None:
    fees = {"maxFeePerGas": 10**9, "maxPriorityFeePerGas": 1} if typed else {"gasPrice": 10**9}
    tx = {"to": "0x" + "11" * 20, "value": 1, "gas": 21_000, "nonce": 300, "chainId": 5, **fees}
    raw = bytes(Account.from_key(SENDER_KEY).sign_transaction(tx).raw_transaction)
    assert (raw[0] < 0xC0) is typed
    assert _nonce_of(raw) == 300


class LyingLedger:
    """The setup's ledger, but its proofs of withdrawals have one bit flipped."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def prove_withdrawal(self, burn_txid: bytes, height: int) -> tuple[Any, bytes]:
        leaf, proof = self._ledger.prove_withdrawal(burn_txid, height)
        return leaf, proof[:-1] + bytes([proof[-1] ^ 1])


@pytest.mark.parametrize("setup", VALIDATOR_VARIANTS[:2], indirect=True)
def test_a_proof_that_does_not_verify_fails_the_job_and_nothing_is_signed(setup: Setup) -> None:
    """The validator refuses (proof_mismatch): the job fails with its reason, no release."""
    from fontana.config import load_settings
    from fontana.plugins import get_host
    from fontana.withdrawals import open_processor

    name = setup.env["FONTANA_BRIDGE_VALIDATOR"]
    if name not in get_host().backends("validators").names():
        pytest.skip(f"{name} is not registered in this process (FONTANA_DISABLE_PLUGINS)")
    settings = load_settings(environ=setup.env, cwd=setup.home)
    processor = open_processor(settings, LyingLedger(setup.ledger))  # type: ignore[arg-type]
    assert processor.validator.name == name
    events = processor.step()
    assert [e.state for e in events] == ["pending", "failed"]
    with setup.ledger.storage.read() as s:
        job = s.get_withdrawal_job(setup.burn_txid)
    assert job is not None and job.state == "failed" and job.signatures is None
    assert job.reason is not None and "does not verify against the state root" in job.reason
    assert released_logs(setup) == []


class ForgetfulLedger(LyingLedger):
    """The setup's ledger, but it no longer knows the burn it sealed."""

    def prove_withdrawal(self, burn_txid: bytes, height: int) -> tuple[Any, bytes]:
        raise UnknownWithdrawalError(f"no withdrawal burn {burn_txid.hex()} on this ledger")


@pytest.mark.parametrize("setup", VALIDATOR_VARIANTS[:2], indirect=True)
def test_a_ledger_refusal_while_proving_keeps_its_type_and_moves_nothing(setup: Setup) -> None:
    """Not an ``l1_error``: the processor stops with the ledger's own typed error."""
    from fontana.config import load_settings
    from fontana.plugins import get_host
    from fontana.withdrawals import open_processor

    name = setup.env["FONTANA_BRIDGE_VALIDATOR"]
    if name not in get_host().backends("validators").names():
        pytest.skip(f"{name} is not registered in this process (FONTANA_DISABLE_PLUGINS)")
    settings = load_settings(environ=setup.env, cwd=setup.home)
    processor = open_processor(settings, ForgetfulLedger(setup.ledger))  # type: ignore[arg-type]
    with pytest.raises(UnknownWithdrawalError) as raised:
        processor.step()
    assert raised.value.code == "unknown_withdrawal"
    assert job_state(setup) == "pending"
