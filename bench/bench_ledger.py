"""Ledger verify+apply throughput per transaction engine, against signature checks alone.

Run by hand: ``python bench/bench_ledger.py [--txs N] [--postgres] [--engines ...]``.
Payments arrive as bytes, as a node receives them: each run decodes them with the
engine (``python-tx``, and ``native-tx`` when the native plugin is installed) and
applies them, one per database transaction (``apply_transaction``, the paid-call path)
or in batches (``apply_transactions``: group commit). The baselines, measured in the
same run on the same payments, are the ed25519 checks every payment pays: Python's
(``Transaction.verify_witnesses``, PyNaCl: what the targets are stated against) and the
engine's own (``verify_witnesses`` of its decoded payments). Figures are given as
ratios, which move far less between machines than tx/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEQUENCER, bench_ledger, transfers

from fontana.txengine import PYTHON_ENGINE, PythonTxEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=5_000)
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a throwaway local PostgreSQL cluster"
    )
    parser.add_argument("--batches", default="1,100,1000", help="batch sizes, comma-separated")
    parser.add_argument("--engines", default="", help="engine names (default: every one installed)")
    args = parser.parse_args()
    engines = load_engines(args.engines)
    batches = [int(b) for b in args.batches.split(",")]
    if args.postgres:
        from fontana.testing.pgcluster import PgCluster

        with PgCluster() as cluster:
            urls = [
                cluster.create_database(f"bench{n}") for n in range(len(batches) * len(engines))
            ]
            run(args.txs, engines, batches, urls)
    else:
        run(args.txs, engines, batches, [])


def load_engines(names: str) -> dict[str, Any]:
    """The engines to compare; the Python one is always there (it is the baseline)."""
    engines: dict[str, Any] = {PYTHON_ENGINE: PythonTxEngine()}
    try:
        from fontana_native.tx import NativeTxEngine

        engines[NativeTxEngine.name] = NativeTxEngine()
    except ImportError:
        print("native-tx: the fontana-native extension is not installed; Python only")
    wanted = [n for n in names.split(",") if n]
    return {n: e for n, e in engines.items() if not wanted or n in wanted}


def signature_rates(engine: Any, raw: list[bytes], genesis_hash: bytes) -> tuple[float, float]:
    """Payments/s of the signature checks alone: Python's (PyNaCl) and ``engine``'s."""
    python = [PythonTxEngine().decode_transaction(r) for r in raw]
    start = time.perf_counter()
    for tx in python:
        tx.verify_witnesses(genesis_hash)
    reference = len(raw) / (time.perf_counter() - start)
    own = [engine.decode_transaction(r) for r in raw]
    start = time.perf_counter()
    assert all(engine.verify_witnesses(own, genesis_hash))
    return reference, len(raw) / (time.perf_counter() - start)


def run(count: int, engines: dict[str, Any], batches: list[int], pg_urls: list[str]) -> None:
    backends: list[tuple[str, str | None, str]] = [
        ("sqlite synchronous=full", None, "full"),
        ("sqlite synchronous=normal", None, "normal"),
    ]
    if pg_urls:
        backends.append(("postgresql", "postgresql", "full"))
    fresh = iter(pg_urls)
    for label, url, sync in backends:
        for name, engine in engines.items():
            for batch in batches:
                db = next(fresh) if url is not None else None  # a fresh database per run
                with bench_ledger(count, db, sync) as (ledger, genesis, _):
                    ledger.tx_engine = engine
                    raw = [tx.to_bytes() for tx in transfers(genesis, count)]
                    reference, own = signature_rates(engine, raw, ledger.genesis_hash)
                    start = time.perf_counter()
                    if batch == 1:
                        for data in raw:
                            ledger.apply_transaction(engine.decode_transaction(data))
                    else:
                        for i in range(0, len(raw), batch):
                            part = [engine.decode_transaction(d) for d in raw[i : i + batch]]
                            ledger.apply_transactions(part)
                    apply = len(raw) / (time.perf_counter() - start)
                    start = time.perf_counter()
                    block = ledger.seal_block(SEQUENCER)
                    seal = time.perf_counter() - start
                print(
                    f"{label:26} {name:9} batch {batch:5}: decode+verify+apply {apply:8,.0f} tx/s"
                    f" = {apply / reference:6.1%} of Python's signature checks "
                    f"({reference:,.0f}/s), {apply / own:6.1%} of its own ({own:,.0f}/s); "
                    f"seal of {block.header.header.tx_count} entries {seal:.2f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
