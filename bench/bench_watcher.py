"""Deposit-to-credit latency through `fontana watcher` on a real hardhat node.

Run by hand: ``python bench/bench_watcher.py [--deposits N] [--poll-ms MS] [--confirmations C]``
(needs ``npm ci --prefix contracts`` and the fontana-evm plugin).

Each deposit: ``depositNative`` is sent to the real Vault (the node mines it at
once) at a random moment of the watcher's poll interval, ``C`` blocks are mined
on top on demand, and the clock stops when the UTXO is in the ledger, read here
every 2 ms while the watcher runs as its own process. The baseline, measured in
the same run, is the L1's own part: sending the transaction, its receipt and the
confirming blocks. What is left is the watcher's: on average half a poll
interval plus one round (``eth_chainId``, ``eth_blockNumber``, ``eth_getLogs``,
the credit and the cursor).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey
from web3 import Web3

from fontana.bridge.checkpoint import validator_address
from fontana.bridge.vault import VaultConfig, deploy_vault, deposit_native
from fontana.clock import now_ms
from fontana.config import load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import Genesis
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.evm import HardhatNode

ROLLUP = bytes(SigningKey(b"\x42" * 32).verify_key)


def make_ledger(home: Path, confirmations: int) -> Ledger:
    settings = load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home)
    storage = open_storage(settings)
    genesis = Genesis(
        chain_id="fontana-bench-watcher",
        genesis_time_ms=now_ms(),
        sequencer=bytes(SigningKey(b"\x41" * 32).verify_key),
        da_namespace=b"fontanabwt",
        block_time_ms=1_000,
        min_fee=1,
        l1_confirmations=confirmations,
        allocations=(),
    )
    initialize(storage, PythonSMTProvider(), genesis)
    return Ledger(storage, PythonSMTProvider(), genesis)


def wait_started(watcher: subprocess.Popen[str]) -> None:
    assert watcher.stdout is not None
    line = watcher.stdout.readline()
    if "watching" not in line:
        raise SystemExit(f"the watcher did not start: {line}{watcher.stderr.read()}")  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deposits", type=int, default=20)
    parser.add_argument("--poll-ms", type=int, default=100)
    parser.add_argument("--confirmations", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fontana-bench-watcher-") as tmp, HardhatNode() as node:
        home = Path(tmp) / "home"
        home.mkdir()
        ledger = make_ledger(home, args.confirmations)
        w3 = Web3(Web3.HTTPProvider(node.url))
        config = VaultConfig((validator_address(b"\x51" * 32),), 1, ledger.genesis_hash)
        vault = deploy_vault(w3, config, w3.eth.accounts[0])
        env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")} | {
            "FONTANA_HOME": str(home),
            "FONTANA_L1_URL": node.url.replace("http://", "evm+http://"),
            "FONTANA_L1_VAULT": vault.address,
            "FONTANA_L1_POLL_MS": str(args.poll_ms),
            "FONTANA_L1_START_BLOCK": str(w3.eth.block_number),
        }
        watcher = subprocess.Popen(
            [sys.executable, "-m", "fontana", "watcher"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_started(watcher)
            l1_part: list[float] = []
            total: list[float] = []
            credited = 0
            rng = random.Random(7)
            for i in range(args.deposits):
                amount = 1_000 + i
                # Out of step with the watcher's polls, as a depositor is.
                time.sleep(rng.uniform(0, args.poll_ms / 1000))
                start = time.perf_counter()
                deposit_native(w3, vault, ROLLUP, amount, w3.eth.accounts[1])
                if args.confirmations:
                    node.mine(args.confirmations)
                l1_part.append(time.perf_counter() - start)
                credited += amount
                while ledger.balance(ROLLUP) < credited:
                    time.sleep(0.002)
                total.append(time.perf_counter() - start)
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=30)
            ledger.storage.close()

    def ms(values: list[float], q: float) -> float:
        return (
            1000 * statistics.quantiles(values, n=100)[int(q) - 1]
            if q < 100
            else 1000 * max(values)
        )

    print(
        f"deposit-to-credit, {args.deposits} deposits, confirmations={args.confirmations}, "
        f"poll_ms={args.poll_ms}: median {1000 * statistics.median(total):.0f} ms, "
        f"p90 {ms(total, 90):.0f} ms, max {ms(total, 100):.0f} ms; "
        f"L1 baseline (send, receipt, confirming blocks) median "
        f"{1000 * statistics.median(l1_part):.0f} ms; "
        f"ratio {statistics.median(total) / statistics.median(l1_part):.1f}x"
    )


if __name__ == "__main__":
    main()
