"""The chain's daemons as real processes: sequencer, a second sequencer, poster, recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fontana.clock import now_ms


def fontana(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fontana", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return
        assert line or proc.poll() is None, f"exited early: {proc.stderr.read()}"  # type: ignore[union-attr]
    raise AssertionError(f"no line with {needle!r}")


def address(name: str, env: dict[str, str]) -> str:
    return str(json.loads(fontana("show", "--name", name, "--json", env=env).stdout)["address"])


def test_sequencer_poster_and_recovery_as_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {
        "FONTANA_HOME": str(tmp_path / "home"),
        "FONTANA_SEQUENCER_BLOCK_TIME_MS": "100",
        "FONTANA_POSTER_POLL_MS": "50",
    }
    for name in ("sequencer", "default"):
        assert fontana("init", "--name", name, env=env).returncode == 0
    genesis = tmp_path / "genesis.json"
    genesis.write_text(
        json.dumps(
            {
                "chain_id": "fontana-daemons",
                "genesis_time_ms": str(now_ms()),
                "sequencer": address("sequencer", env),
                "da_namespace": "666f6e74616e61646d6e",
                "block_time_ms": 6000,
                "min_fee": "1",
                "l1_confirmations": 1,
                "allocations": [{"owner": address("default", env), "amount": "1000000"}],
            }
        )
    )
    assert fontana("genesis", str(genesis), env=env).returncode == 0

    sequencer = start("sequencer", env=env)
    running = [sequencer]
    try:
        wait_for_line(sequencer, "block 2 sealed")
        second = fontana("sequencer", env=env)
        assert second.returncode == 75
        assert "error[sequencer_running]" in second.stderr
        wipe = fontana("recover", str(genesis), "--wipe", env=env)
        assert wipe.returncode == 75 and "stop it before wiping" in wipe.stderr
        paid = fontana("transfer", "1000", address("sequencer", env), "--json", env=env)
        assert paid.returncode == 0, paid.stderr
        wait_for_line(sequencer, "2 entries")  # the payment and the sequencer's fee credit
        poster = start("poster", env=env)
        running.append(poster)
        wait_for_line(poster, "block 3 posted")
    finally:
        for proc in running:
            proc.send_signal(signal.SIGTERM)
    assert [proc.wait(timeout=30) for proc in running] == [0, 0]
    assert fontana("poster", "--once", env=env).returncode == 0  # what was sealed last

    verify = fontana("recover", str(genesis), "--verify", "--json", env=env)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["problems"] == []
    balance = json.loads(fontana("balance", address("sequencer", env), "--json", env=env).stdout)
    assert int(balance["balance"]) == 1001  # the payment and its fee
