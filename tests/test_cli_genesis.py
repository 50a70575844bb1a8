"""``fontana genesis new`` writes a genesis for the user's own keys; ``init`` (or FILE) uses it.

Every bad input is an ``error[<code>]`` line with a non-zero exit status, and no
file is left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fontana.address import encode_address
from fontana.cli import cli
from fontana.genesis import load_genesis_file
from fontana.wallet import key_info

OTHER = encode_address(b"\x42" * 32)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    home = tmp_path / "home"
    for name in ("sequencer", "default"):
        assert run(home, "init", "--name", name).exit_code == 0
    return home


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"FONTANA_HOME": str(home)})


def test_new_writes_a_genesis_for_the_users_keys(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    result = run(
        home,
        "genesis", "new", "--chain-id", "my-chain", "--alloc", "default=5tia",
        "--alloc", f"{OTHER}=1500", "--min-fee", "2", "--block-time-ms", "2000",
        "--genesis-time-ms", "1700000000000", "--out", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    genesis = load_genesis_file(out)
    assert genesis.sequencer == key_info(home, "sequencer").public_key
    assert [tuple(a) for a in genesis.allocations] == [
        (key_info(home, "default").public_key, 5_000_000),
        (b"\x42" * 32, 1500),
    ]
    assert (genesis.chain_id, genesis.min_fee, genesis.block_time_ms) == ("my-chain", 2, 2000)
    assert genesis.genesis_time_ms == 1_700_000_000_000
    assert data["genesis_hash"] == genesis.hash.hex()
    assert data["total"] == "5001500"
    assert data["da_namespace"] == genesis.da_namespace.hex() and len(genesis.da_namespace) == 10

    init = run(home, "genesis", "init", str(out), "--json")
    assert init.exit_code == 0, init.output
    assert json.loads(init.stdout)["genesis_hash"] == genesis.hash.hex()
    balance = run(home, "balance", "--json")
    assert json.loads(balance.stdout)["balance"] == "5000000"


def test_the_short_form_still_creates_the_ledger(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    assert run(home, "genesis", "new", "--chain-id", "c", "-o", str(out)).exit_code == 0
    for args in (["genesis", str(out)], ["genesis", "--json", str(out)]):
        result = run(tmp_path / f"home-{len(args)}", *args)
        assert result.exit_code == 0, result.output
    assert "next: fontana genesis init" in run(
        home, "genesis", "new", "--chain-id", "c", "-o", str(tmp_path / "h.json")
    ).stdout


def test_an_existing_file_is_replaced_only_with_force(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    out.write_text("mine")
    refused = run(home, "genesis", "new", "--chain-id", "c", "-o", str(out))
    assert refused.exit_code == 1
    assert "error[file_exists]" in refused.stderr
    assert out.read_text() == "mine"
    forced = run(home, "genesis", "new", "--chain-id", "c", "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert load_genesis_file(out).chain_id == "c"


@pytest.mark.parametrize(
    ("args", "code", "status"),
    [
        (["--alloc", "default"], "malformed", 65),
        (["--alloc", "=5"], "malformed", 65),
        (["--alloc", "fnt1qqqq=5"], "bad_address", 65),
        (["--alloc", "default=-5"], "bad_amount", 65),
        (["--alloc", "default=1.5utia"], "bad_amount", 65),
        (["--alloc", "default=" + "9" * 4000], "bad_amount", 65),
        (["--alloc", "default=0"], "bad_amount", 65),
        (["--alloc", "nobody=5"], "key_not_found", 1),
        (["--alloc", "bad name!=5"], "bad_key_name", 1),
        (["--alloc", f"default={2**62}", "--alloc", f"default={2**62}"], "genesis_invalid", 65),
        (["--sequencer", "nobody"], "key_not_found", 1),
        (["--sequencer", OTHER[:-1] + "x"], "bad_address", 65),
        (["--chain-id", "Upper"], "malformed", 65),
        (["--chain-id", "x" * 33], "malformed", 65),
        (["--namespace", "abc"], "malformed", 65),
        (["--namespace", "000000000000000000ff"], "malformed", 65),
        (["--block-time-ms", "0"], "malformed", 65),
        (["--block-time-ms", str(2**32)], "malformed", 65),
        (["--min-fee", "lots"], "bad_amount", 65),
        (["--genesis-time-ms", "-1"], "malformed", 65),
        (["--l1-confirmations", str(2**40)], "malformed", 65),
    ],
)
def test_bad_input_is_a_typed_error_and_writes_nothing(
    home: Path, tmp_path: Path, args: list[str], code: str, status: int
) -> None:
    out = tmp_path / "genesis.json"
    base = ["genesis", "new", "--chain-id", "c", "-o", str(out)]
    result = run(home, *base, *args)
    assert result.exit_code == status, result.output
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert not out.exists()
    assert ".tmp" not in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_bad_input_reaches_the_shell_as_one_line(home: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    done = subprocess.run(
        [sys.executable, "-m", "fontana", "genesis", "new", "--chain-id", "c", "--alloc", "x"],
        env=env | {"FONTANA_HOME": str(home)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 65
    assert done.stderr.startswith("error[malformed]: --alloc 'x': expected ADDRESS=AMOUNT")
    assert "Traceback" not in done.stderr


def test_help_names_both_subcommands(home: Path) -> None:
    result = run(home, "genesis", "--help")
    assert result.exit_code == 0
    assert "new " in result.output and "init " in result.output
