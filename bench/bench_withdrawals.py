"""Withdrawal latency through the processor on a real hardhat node: burn → released → confirmed.

Run by hand: ``python bench/bench_withdrawals.py [--withdrawals N] [--poll-ms MS]
[--l1-block-ms MS]`` (needs ``npm ci --prefix contracts``).

Each withdrawal: a burn is applied, sealed in a block and posted to the local DA at
once (the sequencer's block time and the DA's latency come on top, and are measured
by ``bench_chain.py``); the clock starts when the block is on DA. The processor runs
in this process (``Processor.run``, polling every ``poll_ms``) against the real
Vault, while a thread mines an L1 block every ``l1_block_ms`` (``confirmations = 1``:
a release is final once one more block is mined). Reported: on DA → the release
mined (``released``: one round to prove and sign, the transaction and its receipt),
and on DA → confirmed in the ledger (one more L1 block, and the next poll).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from eth_account import Account
from nacl.signing import SigningKey
from web3 import Web3

from fontana.bridge.checkpoint import validator_address
from fontana.bridge.signer import PythonValidator
from fontana.bridge.vault import VaultConfig, deploy_vault, deposit_native, vault_at
from fontana.clock import now_ms
from fontana.config import load_settings
from fontana.da import open_da
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import Allocation, Genesis
from fontana.poster import Poster
from fontana.sdk.transactions import build_withdrawal
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.evm import HardhatNode
from fontana.withdrawals import JobEvent, Processor

HOLDER = SigningKey(b"\x43" * 32)
SEQUENCER = SigningKey(b"\x41" * 32)
VALIDATORS = [bytes([0x30 + i]) * 32 for i in range(3)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--withdrawals", type=int, default=10)
    parser.add_argument("--poll-ms", type=int, default=100)
    parser.add_argument("--l1-block-ms", type=int, default=250)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fontana-bench-withdrawals-"))
    settings = load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home)
    storage = open_storage(settings)
    genesis = Genesis(
        chain_id="fontana-bench-withdrawals",
        genesis_time_ms=now_ms(),
        sequencer=bytes(SEQUENCER.verify_key),
        da_namespace=b"fontanabwd",
        block_time_ms=1_000,
        min_fee=1,
        l1_confirmations=1,
        allocations=tuple(
            Allocation(bytes(HOLDER.verify_key), 1_001) for _ in range(args.withdrawals)
        ),
    )
    initialize(storage, PythonSMTProvider(), genesis)
    ledger = Ledger(storage, PythonSMTProvider(), genesis)
    da = open_da(settings, genesis.da_namespace)
    poster = Poster(storage, da, block_time_ms=1_000)
    with HardhatNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        config = VaultConfig(
            tuple(validator_address(k) for k in VALIDATORS), 2, ledger.genesis_hash
        )
        vault = deploy_vault(w3, config, w3.eth.accounts[0])
        deposit_native(w3, vault, bytes(32 * [1]), 10**7, w3.eth.accounts[1])
        sender = Account.from_key(bytes([0x66]) * 32)
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": sender.address, "value": 10**19})
        seen: dict[tuple[bytes, str], float] = {}

        def on_event(event: JobEvent) -> None:
            seen[(event.burn_txid, event.state)] = time.perf_counter()

        processor = Processor(
            ledger,
            w3,
            vault_at(w3, vault.address),
            PythonValidator(VALIDATORS[:2]),
            sender,
            confirmations=1,
            on_event=on_event,
        )
        processor.check()
        stop = threading.Event()

        def mine() -> None:
            while not stop.wait(args.l1_block_ms / 1000):
                node.mine(1)

        threads = [
            threading.Thread(target=mine, daemon=True),
            threading.Thread(target=processor.run, args=(stop, args.poll_ms), daemon=True),
        ]
        for thread in threads:
            thread.start()
        sealed: list[float] = []
        released: list[float] = []
        confirmed: list[float] = []
        recipient = bytes([0xAB]) * 20
        try:
            for _ in range(args.withdrawals):
                tx = build_withdrawal(
                    recipient,
                    1_000,
                    ledger.utxos(bytes(HOLDER.verify_key))[:1],
                    1,
                    now_ms() + 60_000,
                    genesis.chain_id,
                    HOLDER,
                    ledger.genesis_hash,
                )
                burnt = time.perf_counter()
                ledger.apply_transaction(tx)
                ledger.seal_block(SEQUENCER)
                poster.post_pending(stop)
                on_da = time.perf_counter()
                sealed.append(on_da - burnt)
                while (tx.txid, "confirmed") not in seen:
                    time.sleep(0.002)
                # "submitted" is stored before the broadcast; the node mines it at once.
                released.append(seen[(tx.txid, "submitted")] - on_da)
                confirmed.append(seen[(tx.txid, "confirmed")] - on_da)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    da.close()
    storage.close()
    for name, values in (
        ("burn -> sealed and on the local DA", sealed),
        ("on DA -> release sent", released),
        ("on DA -> confirmed", confirmed),
    ):
        ms = sorted(v * 1000 for v in values)
        p90 = ms[max(0, int(len(ms) * 0.9) - 1)]
        print(f"{name}: median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms (n={len(ms)})")


if __name__ == "__main__":
    main()
