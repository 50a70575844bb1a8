"""`fontana watcher` as a process on a real hardhat node: killed mid-way, restarted, stopped."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from evm_watcher_helpers import ROLLUP, deploy

from fontana.bridge.vault import deposit_native
from fontana.ledger import Ledger
from fontana.testing.evm import HardhatNode


def environment(tmp_path: Path, evm_url: str, vault: str, **l1: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {
        "FONTANA_HOME": str(tmp_path / "home"),
        "FONTANA_L1_URL": evm_url.replace("http://", "evm+http://"),
        "FONTANA_L1_VAULT": vault,
        "FONTANA_L1_POLL_MS": "20",
    }
    return env | {f"FONTANA_L1_{k.upper()}": v for k, v in l1.items()}


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fontana", "watcher", *args],
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


def once(env: dict[str, str]) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "fontana", "watcher", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_watcher_killed_mid_way_restarts_and_credits_every_deposit_once(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    first_block = w3.eth.block_number + 1
    amounts = [1_000 + i for i in range(15)]
    for i, amount in enumerate(amounts):
        deposit_native(w3, vault, ROLLUP, amount, w3.eth.accounts[1 + i % 4])
    node.mine(1)  # the genesis asks for one confirmation: the last deposit is final now
    env = environment(tmp_path, evm_url, vault.address, max_range="1", start_block=str(first_block))
    watcher = start(env)
    try:
        wait_for_line(watcher, "deposit credited")
    finally:
        watcher.kill()  # SIGKILL: anywhere, even between a credit and the cursor
    watcher.wait(timeout=30)
    assert 0 < ledger.balance(ROLLUP) < sum(amounts)
    out = once(env)
    assert out[0]["event"] == "started" and out[0]["cursor"] >= first_block - 1
    assert ledger.balance(ROLLUP) == sum(amounts)
    assert sorted(u.amount for u in ledger.utxos(ROLLUP)) == amounts
    assert [line["event"] for line in once(env)] == ["started"]  # nothing new is final


def test_the_daemon_credits_a_deposit_once_it_is_final_and_stops_cleanly(
    w3: Any, node: HardhatNode, evm_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    vault = deploy(w3, ledger.genesis_hash)
    env = environment(tmp_path, evm_url, vault.address, start_block=str(w3.eth.block_number))
    watcher = start(env, "--json")
    try:
        assert json.loads(wait_for_line(watcher, '"started"'))["cursor"] == w3.eth.block_number - 1
        receipt = deposit_native(w3, vault, ROLLUP, 42, w3.eth.accounts[2])
        wait_for_line(watcher, f'"to_block": {receipt["blockNumber"] - 1}')
        assert ledger.balance(ROLLUP) == 0  # in the head block: not final yet
        node.mine(1)
        line = json.loads(wait_for_line(watcher, '"deposit"'))
        assert (line["credited"], line["amount"], line["l1_block"]) == (
            True,
            "42",
            receipt["blockNumber"],
        )
    finally:
        watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=30) == 0
    assert ledger.balance(ROLLUP) == 42


class NestedAnswers(http.server.BaseHTTPRequestHandler):
    """A hostile node: every JSON-RPC answer is an array nested 200,000 deep."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"[" * 200_000 + b"]" * 200_000
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def test_a_node_answering_json_nested_past_any_limit_is_unavailable_not_a_crash(
    ledger: Ledger, tmp_path: Path
) -> None:
    # web3 imports py_ecc, which raises the recursion limit to 100,000: the JSON parser
    # would then overflow the C stack long before it raised RecursionError.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NestedAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        env = environment(tmp_path, url, "0x" + "11" * 20)
        result = subprocess.run(
            [sys.executable, "-m", "fontana", "watcher", "--once", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    assert result.returncode == 69, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1])["error"]["code"] == "l1_unavailable"
