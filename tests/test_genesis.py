"""``fontana genesis``: block 0 from the file alone, bad files named, never a second genesis."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ledger_helpers import (
    ALICE,
    create_ledger,
    genesis_root,
    make_genesis,
    pub,
    settings_for,
    snapshot,
)

from fontana.cli import cli
from fontana.errors import AlreadyInitializedError, GenesisError
from fontana.genesis import genesis_header, genesis_utxos, initialize, load_genesis_file
from fontana.ledger import Ledger
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage.base import StorageSession
from fontana.storage.sql import SQLSession

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "genesis.devnet.json"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # No fontana.toml or .env from the checkout, no FONTANA_* from the developer's shell.
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    return tmp_path / "home"


def run(home: Path, *args: str, url: str | None = None) -> Result:
    env = {"FONTANA_HOME": str(home)}
    if url is not None:
        env["FONTANA_STORAGE_URL"] = url
    return CliRunner().invoke(cli, list(args), env=env)


def write_genesis(path: Path, **changes: Any) -> Path:
    data = {**make_genesis().to_json(), **changes}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_example_genesis_is_valid() -> None:
    genesis = load_genesis_file(EXAMPLE)
    assert genesis.chain_id == "fontana-devnet"
    assert genesis.block_time_ms == 6_000 and genesis.min_fee == 1
    assert len(genesis.allocations) == 2


def test_genesis_creates_block_zero(home: Path, tmp_path: Path) -> None:
    result = run(home, "genesis", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    genesis = load_genesis_file(EXAMPLE)
    root = genesis_root(genesis)
    header = genesis_header(genesis, root).header
    assert data == {
        "chain_id": "fontana-devnet",
        "genesis_hash": genesis.hash.hex(),
        "allocations": 2,
        "block": {"height": 0, "hash": header.hash.hex()},
        "state_root": root.hex(),
    }
    assert header.prev_hash == genesis.hash
    assert (home / "fontana.db").is_file()


def test_genesis_human_output(home: Path) -> None:
    result = run(home, "genesis", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("chain fontana-devnet created: block 0 ")
    assert "(2 allocations)" in result.stdout


def test_block_zero_binds_the_genesis(ledger_url: str, tmp_path: Path) -> None:
    genesis = make_genesis()
    ledger = create_ledger(ledger_url, tmp_path / "home", genesis)
    block0 = ledger.latest_block()
    assert block0.prev_hash == genesis.hash
    assert block0.state_root == genesis_root(genesis)
    assert block0.hash == genesis_header(genesis, block0.state_root).header.hash
    assert ledger.balance(pub(ALICE)) == genesis.allocations[0].amount
    assert [u.outpoint.txid for u in genesis_utxos(genesis)] == [genesis.hash] * 3
    ledger.storage.close()


def test_second_genesis_is_refused_and_changes_nothing(ledger_url: str, tmp_path: Path) -> None:
    ledger = create_ledger(ledger_url, tmp_path / "home")
    before = snapshot(ledger)
    other = make_genesis(chain_id="fontana-other")
    with pytest.raises(AlreadyInitializedError) as caught:
        initialize(ledger.storage, PythonSMTProvider(), other)
    assert caught.value.code == "already_initialized"
    assert snapshot(ledger) == before
    ledger.storage.close()


def test_cli_second_genesis_is_already_initialized(
    home: Path, ledger_url: str, tmp_path: Path
) -> None:
    assert run(home, "genesis", str(EXAMPLE), url=ledger_url).exit_code == 0
    other = write_genesis(tmp_path / "other.json", chain_id="fontana-other")
    result = run(home, "genesis", str(other), url=ledger_url)
    assert result.exit_code == 65
    assert result.stderr.startswith("error[already_initialized]: ")
    again = run(home, "genesis", str(EXAMPLE), "--json", url=ledger_url)
    assert again.exit_code == 65
    assert json.loads(again.stdout)["error"]["code"] == "already_initialized"
    first_owner = load_genesis_file(EXAMPLE).to_json()["allocations"][0]["owner"]
    shown = run(home, "balance", first_owner, "--json", url=ledger_url)
    assert json.loads(shown.stdout)["balance"] == "1000000000000"


BAD_FILES: dict[str, tuple[str, str]] = {
    "bad_json": ('{"chain_id": "fontana-test",', "not valid JSON"),
    "unknown_key": ("extra", "unknown keys extra"),
    "zero_amount": ("zero", "allocations[0].amount"),
    "bad_address": ("address", "allocations[0].owner"),
    "float_amount": ("float", "allocations[0].amount"),
    "integral_float_amount": ("float1", "allocations[0].amount"),
}


def _bad_text(kind: str) -> str:
    data = make_genesis().to_json()
    owner = data["allocations"][0]["owner"]
    if kind == "extra":
        data["extra"] = 1
    elif kind == "zero":
        data["allocations"][0]["amount"] = "0"
    elif kind == "address":
        data["allocations"][0]["owner"] = owner[:-1] + ("q" if owner[-1] != "q" else "p")
    elif kind == "float":
        data["allocations"][0]["amount"] = 1.5
    elif kind == "float1":
        data["allocations"][0]["amount"] = 100.0
    return json.dumps(data)


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_genesis_file_is_genesis_invalid_and_names_the_file(
    case: str, home: Path, tmp_path: Path
) -> None:
    text, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text if case == "bad_json" else _bad_text(text), encoding="utf-8")
    with pytest.raises(GenesisError) as caught:
        load_genesis_file(path)
    assert caught.value.code == "genesis_invalid"
    assert str(path) in caught.value.message and expected in caught.value.message
    result = run(home, "genesis", str(path))
    assert result.exit_code == 65
    assert result.stderr.startswith(f"error[genesis_invalid]: {path}: ")
    as_json = run(home, "genesis", str(path), "--json")
    assert json.loads(as_json.stdout)["error"]["code"] == "genesis_invalid"
    assert not (home / "fontana.db").exists()  # nothing was created


def test_missing_genesis_file_is_genesis_invalid(home: Path, tmp_path: Path) -> None:
    result = run(home, "genesis", str(tmp_path / "nope.json"))
    assert result.exit_code == 65
    assert "error[genesis_invalid]" in result.stderr and "nope.json" in result.stderr


# -- all or nothing ------------------------------------------------------------------------


class Injected(Exception):
    """A failure in the middle of creating a ledger (a crash, a full disk, a bug)."""


class FailingTree(PythonSMTProvider):
    """Writes the genesis tree, then fails: the genesis rows are written by then."""

    def apply_batch(self, session: StorageSession, version: int, updates: Any) -> bytes:
        super().apply_batch(session, version, updates)
        raise Injected("after the genesis UTXOs and tree")


@pytest.mark.parametrize("where", ["tree", "block 0"])
def test_a_failure_in_the_middle_of_genesis_leaves_no_ledger(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    storage = open_storage(settings_for(tmp_path / "home"), ledger_url)
    proofs = PythonSMTProvider()
    if where == "tree":
        proofs = FailingTree()
    else:
        insert_block = SQLSession.insert_block

        def fail_after_block_zero(self: SQLSession, block: Any) -> None:
            insert_block(self, block)
            raise Injected("after block 0")

        monkeypatch.setattr(SQLSession, "insert_block", fail_after_block_zero)
    with pytest.raises(Injected):
        initialize(storage, proofs, make_genesis())
    assert storage.schema_version() is None  # no schema, no genesis rows, no block 0
    monkeypatch.undo()
    block = initialize(storage, PythonSMTProvider(), make_genesis())  # a clean retry works
    ledger = Ledger.load(storage, PythonSMTProvider())
    assert ledger.latest_block() == block
    assert ledger.balance(pub(ALICE)) == 1_000_000
    storage.close()


def test_genesis_beyond_what_the_ledger_stores_is_refused_before_any_write(
    home: Path, tmp_path: Path
) -> None:
    path = write_genesis(tmp_path / "late.json", genesis_time_ms=str(2**63))
    with pytest.raises(GenesisError, match="genesis_time_ms"):
        load_genesis_file(path)
    result = run(home, "genesis", str(path))
    assert result.exit_code == 65
    assert result.stderr.startswith(f"error[genesis_invalid]: {path}: genesis_time_ms ")
    assert not (home / "fontana.db").exists()
