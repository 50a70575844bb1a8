"""The ledger commands end to end: balance, utxos, transfer, trigger-deposit, text and JSON.

Every ledger rejection must reach the user as ``error[<code>]`` (or a JSON
``error`` object) with a non-zero exit status, and change nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ledger_helpers import BOB, make_genesis, pub

from fontana.address import encode_address
from fontana.cli import cli
from fontana.wallet import key_info

BOB_ADDRESS = encode_address(pub(BOB))
FUNDS = 1_000_000


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    return tmp_path / "home"


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"FONTANA_HOME": str(home)})


def ok(home: Path, *args: str) -> dict[str, object]:
    result = run(home, *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def start(home: Path, tmp_path: Path, genesis_time_ms: int | None = None) -> str:
    """A wallet key, and a chain that funds it and BOB; returns the wallet's address."""
    assert run(home, "init").exit_code == 0
    me = key_info(home, "default").public_key
    genesis = make_genesis([(me, FUNDS), (pub(BOB), FUNDS)])
    data = genesis.to_json()
    if genesis_time_ms is not None:
        data["genesis_time_ms"] = str(genesis_time_ms)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert run(home, "genesis", str(path)).exit_code == 0
    return encode_address(me)


def test_commands_before_genesis_are_not_initialized(home: Path) -> None:
    result = run(home, "balance", BOB_ADDRESS)
    assert result.exit_code != 0
    assert result.stderr.startswith("error[not_initialized]: ")


def test_balance_and_utxos(home: Path, tmp_path: Path) -> None:
    me = start(home, tmp_path)
    assert ok(home, "balance") == {"address": me, "balance": str(FUNDS)}
    text = run(home, "balance", BOB_ADDRESS)
    assert text.stdout == f"{BOB_ADDRESS}: 1 TIA (1000000 utia)\n"
    utxos = ok(home, "utxos", BOB_ADDRESS)
    gid = make_genesis([(key_info(home, "default").public_key, FUNDS), (pub(BOB), FUNDS)]).hash
    assert utxos == {
        "address": BOB_ADDRESS,
        "utxos": [{"txid": gid.hex(), "index": 1, "amount": str(FUNDS)}],
    }
    assert run(home, "utxos", BOB_ADDRESS).stdout == f"{gid.hex()}:1  {FUNDS} utia\n"
    nobody = encode_address(b"\x07" * 32)
    assert run(home, "utxos", nobody).stdout == "no unspent outputs\n"
    assert ok(home, "utxos", "--limit", "1")["utxos"] != []


def test_transfer_text_and_json(home: Path, tmp_path: Path) -> None:
    me = start(home, tmp_path)
    sent = run(home, "transfer", "1500", BOB_ADDRESS, "--memo", "coffee")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(f"sent 0.0015 TIA (1500 utia) to {BOB_ADDRESS}\ntxid ")
    data = ok(home, "transfer", "0.25tia", BOB_ADDRESS, "--fee", "10")
    assert data["amount"] == "250000" and data["fee"] == "10" and data["status"] == "pending"
    assert data["to"] == BOB_ADDRESS and len(str(data["txid"])) == 64
    assert ok(home, "balance", BOB_ADDRESS)["balance"] == str(FUNDS + 1500 + 250_000)
    assert ok(home, "balance")["balance"] == str(FUNDS - 1501 - 250_010)
    change = ok(home, "utxos", me)["utxos"]
    assert [u["amount"] for u in change] == [str(FUNDS - 1501 - 250_010)]  # type: ignore[index]


def test_trigger_deposit_credits_once(home: Path, tmp_path: Path) -> None:
    me = start(home, tmp_path)
    l1_tx = "ab" * 32
    first = ok(home, "trigger-deposit", "42", "--l1-tx", l1_tx, "--log-index", "2")
    assert first["credited"] is True and first["to"] == me and first["amount"] == "42"
    again = run(home, "trigger-deposit", "42", "--l1-tx", l1_tx, "--log-index", "2")
    assert again.exit_code == 0
    assert again.stdout == f"deposit {l1_tx}:2 was credited before; nothing changed\n"
    assert ok(home, "trigger-deposit", "42", "--l1-tx", l1_tx, "--log-index", "2") == {
        **first,
        "credited": False,
    }
    text = run(home, "trigger-deposit", "1tia", BOB_ADDRESS)
    assert text.stdout == f"credited 1 TIA (1000000 utia) to {BOB_ADDRESS}\n"
    assert ok(home, "balance")["balance"] == str(FUNDS + 42)
    assert ok(home, "balance", BOB_ADDRESS)["balance"] == str(2 * FUNDS)


def assert_error(home: Path, code: str, exit_code: int, *args: str) -> None:
    """Text and JSON both report ``code``; BOB's balance does not move."""
    text = run(home, *args)
    assert text.exit_code == exit_code, text.output
    assert text.stderr.startswith(f"error[{code}]: ")
    as_json = run(home, *args, "--json")
    assert as_json.exit_code == exit_code
    assert json.loads(as_json.stdout)["error"]["code"] == code
    assert ok(home, "balance", BOB_ADDRESS)["balance"] == str(FUNDS)


def test_ledger_rejections_show_their_code(home: Path, tmp_path: Path) -> None:
    start(home, tmp_path)
    assert_error(home, "fee_too_low", 2, "transfer", "10", BOB_ADDRESS, "--fee", "0")
    assert_error(home, "insufficient_funds", 2, "transfer", str(FUNDS), BOB_ADDRESS)
    assert_error(home, "amount_overflow", 2, "trigger-deposit", str(2**63), BOB_ADDRESS)
    assert_error(home, "bad_address", 65, "transfer", "10", "fnt1notanaddress")
    assert_error(home, "bad_amount", 65, "transfer", "1.5utia", BOB_ADDRESS)
    assert ok(home, "balance")["balance"] == str(FUNDS)


def test_transfer_into_a_block_that_opened_after_its_expiry_is_expired(
    home: Path, tmp_path: Path
) -> None:
    # The open block's timestamp (the genesis time here) is past the CLI's default expiry.
    start(home, tmp_path, genesis_time_ms=4_102_444_800_000)
    assert_error(home, "expired", 2, "transfer", "10", BOB_ADDRESS)


def kelvin(address: str) -> str:
    """``address`` in upper case with each K as U+212A KELVIN SIGN, whose lower() is "k"."""
    return address.upper().replace("K", "\u212a")


def test_hostile_arguments_are_typed_errors_that_change_nothing(home: Path, tmp_path: Path) -> None:
    start(home, tmp_path)
    huge = "9" * 5000  # past int()'s 4300-digit limit
    assert_error(home, "bad_amount", 65, "transfer", huge, BOB_ADDRESS)
    assert_error(home, "bad_amount", 65, "transfer", "10", BOB_ADDRESS, "--fee", huge)
    assert_error(home, "bad_amount", 65, "trigger-deposit", huge, BOB_ADDRESS)
    assert_error(home, "bad_amount", 65, "transfer", "\uff11\uff10", BOB_ADDRESS)
    assert_error(home, "bad_amount", 65, "transfer", "\u300010", BOB_ADDRESS)
    # Bytes that are not UTF-8 in argv reach Python as lone surrogates.
    assert_error(home, "malformed", 65, "transfer", "10", BOB_ADDRESS, "--memo", "\udcff\udcfe")
    assert_error(home, "malformed", 65, "trigger-deposit", "1", "--l1-tx", "ab cd")
    assert_error(home, "malformed", 65, "trigger-deposit", "1", "--l1-tx", "\u0661" * 64)
    assert "K" in BOB_ADDRESS.upper()
    assert_error(home, "bad_address", 65, "transfer", "10", kelvin(BOB_ADDRESS))
    assert_error(home, "bad_address", 65, "balance", kelvin(BOB_ADDRESS))


@pytest.mark.parametrize(
    "args",
    [
        ("utxos", "--limit", "99999999999999999999"),
        ("utxos", "--limit", "\u0661"),
        ("utxos", "--limit", "9" * 5000),
        ("transfer", "10", BOB_ADDRESS, "--expiry-seconds", "9" * 4299),
        ("transfer", "10", BOB_ADDRESS, "--expiry-seconds", "1_0"),
        ("trigger-deposit", "1", "--log-index", "\uff11"),
        ("trigger-deposit", "1", "--log-index", str(2**32)),
    ],
)
def test_integer_options_take_ascii_digits_in_range(
    home: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    start(home, tmp_path)
    result = run(home, *args)
    assert result.exit_code == 2, result.output
    assert "Error: Invalid value for '--" in result.stderr
    assert len(result.stderr) < 1000
    assert ok(home, "balance", BOB_ADDRESS)["balance"] == str(FUNDS)


def test_upper_case_and_0x_l1_hashes_name_the_same_deposit(home: Path, tmp_path: Path) -> None:
    me = start(home, tmp_path)
    first = ok(home, "trigger-deposit", "5", "--l1-tx", "AB" * 32)
    again = ok(home, "trigger-deposit", "5", "--l1-tx", "0x" + "ab" * 32)
    assert first["credited"] is True and again["credited"] is False
    assert ok(home, "balance", me)["balance"] == str(FUNDS + 5)
