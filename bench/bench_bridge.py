"""Benchmark of the bridge validators (run by hand: ``python bench/bench_bridge.py [--quick]``).

A SQLite ledger with one block of ``--burns`` withdrawals; each validator (three keys)
signs a checkpoint of that block for one burn at a time (what the withdrawal processor
asks per job) and for all of the block's burns at once. Both fetch the same proofs from
the same ledger, so the ratio shows what moving the checks and the signing to Rust buys
on top of the ledger's own reads; ``python-validator`` is the baseline of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

from common import OWNERS, SEQUENCER, bench_ledger

from fontana.bridge.keys import write_key_file
from fontana.bridge.signer import PythonValidator
from fontana.interfaces import BridgeValidator
from fontana.ledger import Ledger
from fontana.models import OutPoint, Transaction, TxKind, TxOutput, WithdrawalRequest

KEYS = tuple(bytes([0x30 + i]) * 32 for i in range(3))
CHAIN_ID = 31337
VAULT = bytes(range(20))


def burns(ledger: Ledger, count: int) -> list[bytes]:
    """``count`` withdrawals of 1,000 utia, one per genesis UTXO, sealed in one block."""
    gid = ledger.genesis_hash
    expiry = time.time_ns() // 1_000_000 + 3_600_000
    txids = []
    for i in range(count):
        owner = OWNERS[i % len(OWNERS)]
        tx = Transaction(
            kind=TxKind.WITHDRAWAL,
            chain_id=ledger.genesis.chain_id,
            inputs=(OutPoint(gid, i),),
            outputs=(TxOutput(bytes(owner.verify_key), 998_999),),
            fee=1,
            expiry_ms=expiry,
            withdrawal=WithdrawalRequest(l1_recipient=bytes([0xAB]) * 20, amount=1_000),
        ).sign(owner, gid)
        ledger.apply_transaction(tx)
        txids.append(tx.txid)
    ledger.seal_block(SEQUENCER)
    return txids


def rate(calls: int, fn: Callable[[], object], repeat: int) -> float:
    """Median calls per second over ``repeat`` runs of ``calls`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append(calls / (time.perf_counter() - start))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 burns, one run each")
    parser.add_argument("--burns", type=int, default=200)
    args = parser.parse_args()
    count, repeat = (20, 1) if args.quick else (args.burns, 5)

    from fontana_native._native import Validator
    from fontana_native.bridge import NativeValidator

    with bench_ledger(count) as (ledger, _, home):
        txids = burns(ledger, count)
        height = ledger.latest_block().height
        paths = []
        for i, key in enumerate(KEYS):
            write_key_file(home / f"validator{i}", key)
            paths.append(str(home / f"validator{i}"))
        validators: dict[str, BridgeValidator] = {
            "python-validator": PythonValidator(KEYS),
            "native-validator": NativeValidator(Validator(paths)),
        }
        results: dict[str, tuple[float, float]] = {}
        for name, v in validators.items():
            it = iter(txids * (repeat + 1))

            def one_burn(v: BridgeValidator = v, it: Iterator[bytes] = it) -> object:
                return v.sign(ledger, height, [next(it)], CHAIN_ID, VAULT)

            def whole_block(v: BridgeValidator = v) -> object:
                return v.sign(ledger, height, txids, CHAIN_ID, VAULT)

            results[name] = (rate(count, one_burn, repeat), rate(3, whole_block, repeat))
    base_one, base_block = results["python-validator"]
    print(f"{count} burns in one block, 3 validator keys, SQLite")
    print(
        f"{'validator':<18} {'1-burn signs/s':>15} {'ratio':>6} {'block signs/s':>14} {'ratio':>6}"
    )
    for name, (one, block) in results.items():
        print(
            f"{name:<18} {one:>15.1f} {one / base_one:>6.2f}"
            f" {block:>14.2f} {block / base_block:>6.2f}"
        )


if __name__ == "__main__":
    main()
