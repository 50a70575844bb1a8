"""u64 protocol fields at the edges of the database's integers, on SQLite and PostgreSQL.

Times, L1 block numbers, log indexes, heights and DA heights are u64 (log
indexes u32) in the protocol; the databases hold signed 64-bit integers.
Every such value either round-trips whole or is refused with a typed error
before anything is written (``docs/ledger.md``, *Integer ranges*): never an
``OverflowError`` or a driver's ``DataError``, never a half-written change.
Each field gets 2^31, 2^32, 2^63 - 1, 2^63 and 2^64 - 1, through the ledger
API and, where the CLI takes the value, through the CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result
from ledger_helpers import (
    ALICE,
    BOB,
    SEQUENCER,
    create_ledger,
    forge_block,
    genesis_outpoint,
    make_deposit,
    make_genesis,
    make_transfer,
    pub,
    rebuild_root,
    settings_for,
    snapshot,
    unspent,
)

from fontana.address import encode_address
from fontana.cli import cli
from fontana.errors import (
    EncodingError,
    ExpiredError,
    GenesisError,
    OutOfRangeError,
    RecoveryError,
)
from fontana.genesis import initialize
from fontana.ledger import ApplyResult, Ledger
from fontana.ledger.changes import created_utxos
from fontana.models import WithdrawalConfirmation, WithdrawalRequest
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

VALUES = [2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
MAX_STORED = 2**63 - 1


def stored(value: int) -> bool:
    return value <= MAX_STORED


# -- L1 events ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALUES)
def test_deposit_log_index(ledger: Ledger, value: int) -> None:
    if value >= 2**32:  # a u32 in the protocol: the model refuses it
        with pytest.raises(EncodingError, match="log_index"):
            make_deposit(pub(BOB), 5, log_index=value)
        return
    deposit = make_deposit(pub(BOB), 5, log_index=value)
    assert ledger.process_deposit_event(deposit).credited
    assert not ledger.process_deposit_event(deposit).credited  # found again by its log index
    with ledger.storage.read() as s:
        recorded = s.get_deposit(deposit.l1_tx_hash, value)
    assert recorded is not None and recorded.log_index == value


@pytest.mark.parametrize("value", VALUES)
def test_deposit_l1_block(ledger: Ledger, value: int) -> None:
    deposit = attrs.evolve(make_deposit(pub(BOB), 5), l1_block=value)
    if stored(value):
        assert ledger.process_deposit_event(deposit).credited
        with ledger.storage.read() as s:
            recorded = s.get_deposit(deposit.l1_tx_hash, deposit.log_index)
        assert recorded is not None and recorded.l1_block == value
        return
    before = snapshot(ledger)
    with pytest.raises(OutOfRangeError) as caught:
        ledger.process_deposit_event(deposit)
    assert caught.value.code == "out_of_range" and "l1_block" in caught.value.message
    assert snapshot(ledger) == before


@pytest.mark.parametrize("value", VALUES)
def test_withdrawal_confirmation_l1_block(ledger: Ledger, value: int) -> None:
    """Kept only in the entry's bytes, so every u64 is fine."""
    burn = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), 1_000_000 - 101)],
        [ALICE],
        burn=WithdrawalRequest(b"\x44" * 20, 100),
    )
    ledger.apply_transaction(burn)
    confirmation = WithdrawalConfirmation(burn.txid, b"\x55" * 32, 2**32 - 1, value)
    assert ledger.process_withdrawal_event(confirmation) is True
    assert ledger.seal_block(SEQUENCER).entries[1] == confirmation


# -- payments -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALUES)
def test_payment_expiry(ledger: Ledger, value: int) -> None:
    """Kept only in the transaction's bytes; compared, never stored as an integer."""
    tx = make_transfer([genesis_outpoint(0)], [(pub(BOB), 1_000_000 - 1)], [ALICE], expiry_ms=value)
    (result,) = ledger.apply_transactions([tx])
    if value < ledger.clock():
        assert isinstance(result, ExpiredError)
        return
    assert isinstance(result, ApplyResult)
    assert ledger.seal_block(SEQUENCER).entries[0] == tx


# -- genesis --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALUES)
def test_genesis_time(ledger_url: str, tmp_path: Path, value: int) -> None:
    genesis = make_genesis(genesis_time_ms=value)
    if stored(value):
        ledger = create_ledger(ledger_url, tmp_path / "home", genesis)
        assert ledger.latest_block().timestamp_ms == value
        ledger.storage.close()
        return
    storage = open_storage(settings_for(tmp_path / "home"), ledger_url)
    with pytest.raises(GenesisError, match="genesis_time_ms"):
        initialize(storage, PythonSMTProvider(), genesis)
    assert storage.schema_version() is None  # nothing was written, not even the schema
    storage.close()


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_genesis_min_fee_beyond_the_ledger(ledger_url: str, tmp_path: Path, value: int) -> None:
    storage = open_storage(settings_for(tmp_path / "home"), ledger_url)
    with pytest.raises(GenesisError, match="min_fee"):
        initialize(storage, PythonSMTProvider(), make_genesis(min_fee=value))
    assert storage.schema_version() is None
    storage.close()


# -- replayed blocks ------------------------------------------------------------------------


@pytest.fixture
def timeless(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger whose genesis time is 0, so every tested time is a later one."""
    ledger = create_ledger(ledger_url, tmp_path / "home", make_genesis(genesis_time_ms=0))
    yield ledger
    ledger.storage.close()


@pytest.mark.parametrize("value", VALUES)
def test_replayed_block_time(timeless: Ledger, value: int) -> None:
    """A block's time also stamps its entries, so it is checked before any is applied."""
    deposit = make_deposit(pub(BOB), 5)
    root = rebuild_root(unspent(timeless) + created_utxos(deposit))
    block = forge_block(timeless, [deposit], timestamp_ms=value, state_root=root)
    if stored(value):
        timeless.replay_block(block)
        assert timeless.latest_block().timestamp_ms == value
        assert timeless.balance(pub(BOB)) == 1_000_000 + 5
        return
    before = snapshot(timeless)
    with pytest.raises(RecoveryError, match=f"block 1: timestamp {value}"):
        timeless.replay_block(block)
    assert snapshot(timeless) == before


@pytest.mark.parametrize("value", VALUES)
def test_replayed_block_da_height(ledger: Ledger, value: int) -> None:
    block = forge_block(ledger, [])
    if stored(value):
        ledger.replay_block(block, (value, b"\x01" * 32))
        assert ledger.latest_block().da_height == value
        return
    before = snapshot(ledger)
    with pytest.raises(RecoveryError, match=f"DA height {value}"):
        ledger.replay_block(block, (value, b"\x01" * 32))
    assert snapshot(ledger) == before


@pytest.mark.parametrize("value", VALUES)
def test_replayed_block_height(ledger: Ledger, value: int) -> None:
    """Heights are bounded by the chain itself: only the next one is accepted."""
    before = snapshot(ledger)
    with pytest.raises(RecoveryError, match="expected height 1"):
        ledger.replay_block(forge_block(ledger, [], height=value))
    assert snapshot(ledger) == before


@pytest.mark.parametrize("value", VALUES)
def test_proof_at_a_height_the_chain_does_not_have(ledger: Ledger, value: int) -> None:
    with pytest.raises(KeyError, match=f"no block at height {value}"):
        ledger.prove_utxo(genesis_outpoint(0), value)


# -- through the CLI ------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    return tmp_path / "home"


def run(home: Path, url: str, *args: str) -> Result:
    env = {"FONTANA_HOME": str(home), "FONTANA_STORAGE_URL": url}
    return CliRunner().invoke(cli, list(args), env=env)


def genesis_file(path: Path, genesis_time_ms: int) -> Path:
    data = {**make_genesis().to_json(), "genesis_time_ms": str(genesis_time_ms)}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("value", VALUES)
def test_cli_genesis_time(home: Path, ledger_url: str, tmp_path: Path, value: int) -> None:
    result = run(home, ledger_url, "genesis", str(genesis_file(tmp_path / "g.json", value)))
    storage = open_storage(settings_for(home), ledger_url)
    if stored(value):
        assert result.exit_code == 0, result.output
        assert storage.schema_version() is not None
    else:
        assert result.exit_code == 65, result.output
        assert result.stderr.startswith("error[genesis_invalid]: ")
        assert "genesis_time_ms" in result.stderr
        assert storage.schema_version() is None
    storage.close()


@pytest.mark.parametrize("value", [*VALUES, 2**32 - 1])
def test_cli_trigger_deposit_log_index(
    home: Path, ledger_url: str, tmp_path: Path, value: int
) -> None:
    genesis = genesis_file(tmp_path / "g.json", 1_700_000_000_000)
    assert run(home, ledger_url, "genesis", str(genesis)).exit_code == 0
    bob = encode_address(pub(BOB))
    args = ["trigger-deposit", "5utia", bob, "--l1-tx", "ab" * 32, "--log-index", str(value)]
    result = run(home, ledger_url, *args, "--json")
    balance = json.loads(run(home, ledger_url, "balance", bob, "--json").stdout)["balance"]
    if value < 2**32:
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["log_index"] == value
        assert balance == str(1_000_000 + 5)
        again = run(home, ledger_url, *args, "--json")
        assert json.loads(again.stdout)["credited"] is False
    else:  # a u32 option: refused as a usage error before any ledger work
        assert result.exit_code == 2
        assert "--log-index" in result.output and "Traceback" not in result.output
        assert balance == str(1_000_000)
