"""``fontana devnet`` makes real paid calls and audits their final receipts as blocks reach DA."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


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
def test_every_paid_call_settles_once_and_its_final_receipt_verifies(
    tmp_path: Path, adapter: str
) -> None:
    done = devnet(
        tmp_path, "--blocks", "6", "--block-time-ms", "400", "--calls", "8", "--adapter", adapter
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"({adapter} example app, paid to provider)" in out
    summary = re.search(
        r"paid calls: (\d+) settled \((\d+) utia to the provider, which holds (\d+)\), "
        r"(\d+) failed calls charged nothing, (\d+) final receipts verified",
        out,
    )
    assert summary, out
    settled, earned, holds, _failed, verified = map(int, summary.groups())
    assert settled >= 1
    assert earned == holds
    assert verified == settled
    assert out.count("final receipt verified:") == settled
    assert "FAILED" not in out
    assert "every block and state root matches" in out


def test_a_failed_call_charges_nothing(tmp_path: Path) -> None:
    """The fourth call of the round answers 500: the consumer keeps its money."""
    done = devnet(
        tmp_path, "--blocks", "8", "--block-time-ms", "500", "--calls", "4", "--adapter", "wsgi"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if "call GET /v1/fail: 500, failed: nothing charged" not in done.stdout:
        pytest.fail(f"the devnet did not reach its failing call in 8 blocks:\n{done.stdout}")
    paid = re.findall(r"paid call \S+ \S+: 200, (\d+) utia", done.stdout)
    assert len(paid) == 3
    assert f"{sum(map(int, paid))} utia to the provider" in done.stdout


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
