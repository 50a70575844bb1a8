"""`fontana watcher` and `fontana trigger-deposit` on the local L1, as real processes.

Deposits are credited once whoever delivers them (the trigger, the watcher, a
watcher killed mid-way and started again); a conflict or another L1 stops the
watcher with its code; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ledger_helpers import BOB, make_genesis, pub

from fontana.address import decode_address, encode_address
from fontana.bridge.local_l1 import LocalL1
from fontana.cli import cli
from fontana.config import load_settings
from fontana.ledger import open_ledger

BOB_ADDRESS = encode_address(pub(BOB))
FUNDS = 1_000_000


def fontana(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(*args: str, env: dict[str, str]) -> Any:
    result = fontana(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def lines(*args: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON lines of a `watcher --once --json` that exits 0."""
    result = fontana("watcher", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fontana", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
        assert line or proc.poll() is None, f"exited early: {proc.stderr.read()}"  # type: ignore[union-attr]
    raise AssertionError(f"no line with {needle!r}")


def balance(env: dict[str, str], address: str = BOB_ADDRESS) -> int:
    """Read in this process: only the commands under test run as processes."""
    ledger = open_ledger(load_settings(environ=env, cwd=Path(env["FONTANA_HOME"])))
    try:
        return ledger.balance(decode_address(address))
    finally:
        ledger.storage.close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A chain funding BOB, in a private home; the L1 is the local stand-in (the default)."""
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {"FONTANA_HOME": str(tmp_path / "home"), "FONTANA_L1_POLL_MS": "20"}
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(make_genesis([(pub(BOB), FUNDS)]).to_json()))
    for args in (["init"], ["genesis", str(path)]):
        result = CliRunner().invoke(cli, args, env={"FONTANA_HOME": env["FONTANA_HOME"]})
        assert result.exit_code == 0, result.output
    return env


def test_a_triggered_deposit_is_credited_at_once_and_the_watcher_finds_it_done(
    env: dict[str, str],
) -> None:
    first = ok("trigger-deposit", "42", BOB_ADDRESS, "--l1-tx", "ab" * 32, env=env)
    assert (first["credited"], first["l1_block"], first["logged_only"]) == (True, 1, False)
    out = lines("--once", env=env)
    assert [line["event"] for line in out] == ["started", "deposit", "scanned"]
    assert out[0]["cursor"] == -1 and out[0]["source"].startswith("local:")
    assert out[1] | {"credited": True} == {
        "event": "deposit",
        "credited": True,
        "deposit_id": first["deposit_id"],
        "to": BOB_ADDRESS,
        "amount": "42",
        "l1_tx_hash": "ab" * 32,
        "log_index": 0,
        "l1_block": 1,
    }
    assert out[1]["credited"] is False
    assert out[2] == {
        "event": "scanned",
        "from_block": 0,
        "to_block": 1,
        "deposits": 1,
        "withdrawals": 0,
        "skipped": 0,
    }
    assert balance(env) == FUNDS + 42


def test_logged_only_deposits_are_credited_by_the_watcher_once(env: dict[str, str]) -> None:
    for amount in ("5", "6", "7"):
        logged = ok("trigger-deposit", amount, BOB_ADDRESS, "--no-credit", env=env)
        assert (logged["credited"], logged["logged_only"]) == (False, True)
    text = fontana("trigger-deposit", "8", BOB_ADDRESS, "--no-credit", env=env).stdout
    assert text.startswith("logged a deposit of 0.000008 TIA (8 utia) to ")
    assert text.endswith(" in local L1 block 4; fontana watcher credits it\n")
    assert balance(env) == FUNDS
    out = fontana("watcher", "--once", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        out.stdout.splitlines()[0],
        *(
            f"deposit credited: 0.00000{n} TIA ({n} utia) to {BOB_ADDRESS}, "
            f"{tx}:0 (L1 block {block})"
            for n, tx, block in _logged(env)
        ),
        "scanned L1 blocks 0..4",
    ]
    assert out.stdout.startswith("watching local:") and " from L1 block 0\n" in out.stdout
    assert [line["event"] for line in lines("--once", env=env)] == ["started"]
    assert balance(env) == FUNDS + 5 + 6 + 7 + 8


def _logged(env: dict[str, str]) -> list[tuple[int, str, int]]:
    log = LocalL1(Path(env["FONTANA_HOME"]) / "l1")
    return [(d.amount, d.l1_tx_hash.hex(), d.l1_block) for d in log.scan(0, 100).deposits]


def test_the_daemon_credits_deposits_as_they_come_and_stops_cleanly_on_sigterm(
    env: dict[str, str],
) -> None:
    watcher = start("watcher", env=env)
    try:
        wait_for_line(watcher, "watching local:")
        ok("trigger-deposit", "9", BOB_ADDRESS, "--no-credit", env=env)
        line = wait_for_line(watcher, "deposit credited")
        assert line.startswith("deposit credited: 0.000009 TIA (9 utia) to ")
    finally:
        watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=30) == 0
    assert balance(env) == FUNDS + 9


def test_a_killed_watcher_restarts_at_its_cursor_and_credits_each_deposit_once(
    env: dict[str, str],
) -> None:
    log = LocalL1(Path(env["FONTANA_HOME"]) / "l1")
    amounts = [100 + i for i in range(25)]
    for amount in amounts:
        log.append_deposit(pub(BOB), amount)
    watcher = start("watcher", env=env | {"FONTANA_L1_MAX_RANGE": "1"})
    try:
        wait_for_line(watcher, "deposit credited")
    finally:
        watcher.kill()  # SIGKILL: no chance to finish the round or store the cursor
    watcher.wait(timeout=30)
    credited_before = balance(env) - FUNDS
    assert 0 < credited_before < sum(amounts)
    out = lines("--once", env=env)
    assert out[0]["cursor"] >= 0  # it resumed from the stored cursor, not from the start
    assert out[-1]["to_block"] == 25
    assert balance(env) == FUNDS + sum(amounts)
    ledger = open_ledger(load_settings(environ=env, cwd=Path(env["FONTANA_HOME"])))
    assert sorted(u.amount for u in ledger.utxos(pub(BOB))) == sorted([*amounts, FUNDS])
    ledger.storage.close()


def test_a_conflicting_deposit_stops_the_watcher_with_its_code(env: dict[str, str]) -> None:
    # The ledger credited L1 log cd..cd:0 with other contents than the L1 now reports.
    ok("trigger-deposit", "3", BOB_ADDRESS, "--l1-tx", "cd" * 32, env=env)
    home = Path(env["FONTANA_HOME"])
    LocalL1(home / "l1").path.unlink()  # a new L1 log: the same tx lands in another block
    for suffix in ("-wal", "-shm"):
        (home / "l1" / f"events.sqlite{suffix}").unlink(missing_ok=True)
    fresh = LocalL1(home / "l1")
    fresh.append_deposit(pub(BOB), 1)
    fresh.append_deposit(pub(BOB), 3, l1_tx_hash=b"\xcd" * 32)
    text = fontana("watcher", "--once", env=env)
    assert text.returncode == 2
    alert, error = text.stderr.splitlines()
    assert alert.startswith("CRITICAL fontana.watcher: ALERT: the ledger refused an L1 deposit")
    assert error.startswith("error[deposit_conflict]: ")
    assert f"stopped at the deposit {'cd' * 32}:0 in L1 block 2" in error
    as_json = fontana("watcher", "--once", "--json", env=env)
    assert as_json.returncode == 2
    *events, last = as_json.stdout.splitlines()
    assert [json.loads(e)["event"] for e in events] == ["started", "deposit"]
    assert json.loads(last)["error"]["code"] == "deposit_conflict"
    assert balance(env) == FUNDS + 3 + 1  # the deposit before it was credited, once


def test_the_watcher_never_follows_a_second_l1(env: dict[str, str], tmp_path: Path) -> None:
    assert fontana("watcher", "--once", env=env).returncode == 0
    other = env | {"FONTANA_L1_URL": f"local:///{tmp_path}/other-l1"}
    result = fontana("watcher", "--once", env=other)
    assert result.returncode == 78
    assert result.stderr.startswith("error[l1_mismatch]: this ledger's watcher follows local:")
    assert balance(env) == FUNDS


def test_trigger_deposit_is_for_the_local_l1_only(env: dict[str, str]) -> None:
    real = env | {
        "FONTANA_L1_URL": "evm+http://127.0.0.1:9",
        "FONTANA_L1_VAULT": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    }
    result = fontana("trigger-deposit", "5", BOB_ADDRESS, env=real)
    assert result.returncode == 78
    assert "trigger-deposit logs deposits on the local L1 stand-in only" in result.stderr
    assert balance(env) == FUNDS


def test_the_watcher_refuses_a_zero_recipient_and_a_huge_amount_before_logging(
    env: dict[str, str],
) -> None:
    zero = encode_address(bytes(32))
    assert decode_address(zero) == bytes(32)
    result = fontana("trigger-deposit", "5", zero, "--no-credit", env=env)
    assert result.returncode == 65 and "error[bad_address]" in result.stderr
    result = fontana("trigger-deposit", str(2**63), BOB_ADDRESS, "--no-credit", env=env)
    assert result.returncode == 2 and "error[amount_overflow]" in result.stderr
    assert [line["event"] for line in lines("--once", env=env)] == ["started", "scanned"]


def test_an_unreachable_l1_node_is_l1_unavailable_for_once(env: dict[str, str]) -> None:
    down = env | {
        "FONTANA_L1_URL": "evm+http://127.0.0.1:9",
        "FONTANA_L1_VAULT": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    }
    result = fontana("watcher", "--once", "--json", env=down)
    assert result.returncode == 69
    assert json.loads(result.stdout)["error"]["code"] == "l1_unavailable"
