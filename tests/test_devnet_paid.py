"""``fontana devnet`` makes real paid calls and audits their final receipts as blocks reach DA."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fontana.bridge.hardhat import find_hardhat
from fontana.testing.requirements import require_external


def devnet(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    return subprocess.run(
        [sys.executable, "-m", "fontana", "devnet", "--dir", str(tmp_path / "net"), *args],
        env=clean | {"FONTANA_HOME": str(tmp_path / "home")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("adapter", ["wsgi", "flask"])
def test_calls_then_exit_after_every_final_receipt_verifies(tmp_path: Path, adapter: str) -> None:
    """``--calls 5``: quote, echo, words, a failing call, quote; then the last block, DA, checks."""
    done = devnet(tmp_path, "--block-time-ms", "300", "--calls", "5", "--adapter", adapter)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"({adapter} example app, paid to provider)" in out
    paid = [int(a) for a in re.findall(r"paid call \S+ \S+: 200, (\d+) utia", out)]
    assert paid == [1000, 500, 500, 1000]
    assert "call GET /v1/fail: 500, failed: nothing charged" in out
    assert (
        "paid calls: 4 settled (3000 utia to the provider, which holds 3000), "
        "1 failed calls charged nothing, 4 final receipts verified"
    ) in out
    assert out.count("final receipt verified:") == 4
    assert "balances: consumer " in out
    assert "FAILED" not in out and "refused" not in out
    assert "every block and state root matches" in out


def test_blocks_stop_the_calls_and_the_last_block_takes_those_in_flight(tmp_path: Path) -> None:
    done = devnet(tmp_path, "--blocks", "3", "--block-time-ms", "200", "--adapter", "wsgi")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    settled = len(re.findall(r"paid call \S+ \S+: 200,", out))
    assert f"paid calls: {settled} settled" in out
    assert f"{settled} final receipts verified" in out
    assert "block 3 sealed" in out and "block 4 sealed" not in out


def test_no_calls(tmp_path: Path) -> None:
    done = devnet(tmp_path, "--blocks", "2", "--block-time-ms", "100", "--calls", "0")
    assert done.returncode == 0, done.stderr
    assert "paid call" not in done.stdout and "provider" not in done.stdout


def test_an_unknown_adapter_is_named_with_the_installed_ones(tmp_path: Path) -> None:
    done = devnet(tmp_path, "--blocks", "2", "--adapter", "nope")
    assert done.returncode != 0
    assert "no charging backend for name 'nope'; available: " in done.stderr
    assert "wsgi" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_evm_l1_credits_deposits_and_releases_a_withdrawal(tmp_path: Path) -> None:
    """``--l1 evm``: deposits through the real vault and the watcher, a release through the
    withdrawal processor, both checked by the devnet itself (exit 0 only if they happened)."""
    if find_hardhat() is None:
        require_external("node and contracts/node_modules (npm ci --prefix contracts)")
    done = devnet(
        tmp_path, "--l1", "evm", "--calls", "0", "--blocks", "3", "--block-time-ms", "300"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"L1: hardhat at http://127\.0\.0\.1:\d+, vault 0x[0-9a-fA-F]{40}", out)
    assert out.count("L1 deposit credited: 5000000 utia") == 2
    assert re.search(r"withdrawal \S+ confirmed: released in L1 block \d+", out)
    assert "L1 check: 2 deposits credited; withdrawal released (1000000000000000000 wei" in out
    assert "every block and state root matches" in out
    assert "Traceback" not in done.stderr
