"""Resident memory of a node holding a ledger of many UTXOs, with each tree (run by hand).

``python bench/bench_memory.py [--utxos 1000000]`` builds one SQLite ledger whose block 0
holds ``--utxos`` UTXOs (both trees read and write the same rows, so one database
serves both), then for each proof provider starts a fresh process that loads the ledger,
walks the whole tree once (so the tree's node cache fills to its bound, the worst case of
a long-running node), and reports its resident set size (``VmRSS``) and peak (``VmHWM``).
The baseline is the same process before it opens the ledger.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import genesis

from fontana.config import load_settings
from fontana.genesis import genesis_header, genesis_utxos
from fontana.interfaces import ProofProvider
from fontana.ledger import Ledger, open_proofs
from fontana.ledger.meta import COUNTER_SUPPLY, META_GENESIS, META_OPEN_TS
from fontana.ledger.records import block_record
from fontana.models import UTXO, utxo_key
from fontana.plugins import get_host
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage.base import Storage, UtxoRecord

CHUNK = 50_000


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` size field (kB) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def settings_for(home: Path, provider: str) -> object:
    env = {"FONTANA_HOME": str(home), "FONTANA_PROOFS_PROVIDER": provider}
    return load_settings(environ=env, cwd=home)


def fabricate(storage: Storage, proofs: ProofProvider, count: int) -> None:
    """``initialize`` with ``count`` UTXOs, more than a genesis may list (a bench-only state).

    The extra UTXOs are in the tree and block 0's state root like genesis ones, so the
    ledger loads and proves them as any other.
    """
    g = genesis(16)
    owner = g.allocations[0].owner
    utxos = genesis_utxos(g)
    utxos += [UTXO(owner, 1_000, sha256(i.to_bytes(8, "big")).digest(), 0) for i in range(count)]
    with storage.create() as s:
        s.insert_meta(META_GENESIS, g.to_bytes().hex())
        s.insert_meta(META_OPEN_TS, str(g.genesis_time_ms))
        s.set_counter(COUNTER_SUPPLY, sum(u.amount for u in utxos))
        s.insert_utxos(
            [UtxoRecord(u.txid, u.index, u.owner, u.amount, created_seq=None) for u in utxos]
        )
        root = proofs.apply_batch(s, 0, {utxo_key(u.outpoint): u.leaf_value_hash() for u in utxos})
        s.insert_block(block_record(genesis_header(g, root), committed=True))


def build(home: Path, utxos: int, provider: str) -> dict[str, float]:
    """The ledger database with ``utxos`` UTXOs (tree built by ``provider``)."""
    settings = settings_for(home, provider)
    storage = open_storage(settings, f"sqlite:///{home}/ledger.db")
    start = time.perf_counter()
    fabricate(storage, open_proofs(settings), utxos)  # type: ignore[arg-type]
    storage.close()
    return {"seconds": time.perf_counter() - start, "peak_mb": status_mb("VmHWM")}


def warm(proofs: Any, session: Any, version: int, keys: int) -> None:
    """Walk the paths of ``keys`` random absent keys, as proofs would, in no-op batches.

    Deleting an absent key reads every node on its path and changes nothing; with twice as
    many keys as leaves, nearly every node is read once and the cache reaches its bound.
    """
    rng = random.Random(7)
    for start in range(0, keys, CHUNK):
        chunk = {rng.randbytes(32): None for _ in range(min(CHUNK, keys - start))}
        if isinstance(proofs, PythonSMTProvider):
            proofs._tree(session).compute_batch(version, chunk)
        else:
            proofs.compute_batch(session, version, chunk)


def hold(home: Path, utxos: int, provider: str) -> dict[str, float]:
    """Load the ledger with ``provider``, walk the whole tree once, and report memory."""
    base = status_mb("VmRSS")
    settings = settings_for(home, provider)
    storage = open_storage(settings, f"sqlite:///{home}/ledger.db")
    proofs = open_proofs(settings)  # type: ignore[arg-type]
    Ledger.load(storage, proofs)
    loaded = status_mb("VmRSS")
    start = time.perf_counter()
    with storage.read() as s:
        warm(proofs, s, (s.latest_tree_version() or 0) + 1, 2 * utxos)
    warm_s = time.perf_counter() - start
    gc.collect()
    storage.close()
    return {
        "base_mb": base,
        "loaded_mb": loaded,
        "rss_mb": status_mb("VmRSS"),
        "peak_mb": status_mb("VmHWM"),
        "warm_s": warm_s,
    }


def child(args: argparse.Namespace) -> None:
    home = Path(args.home)
    if args.build:
        result = build(home, args.utxos, args.provider)
    else:
        result = hold(home, args.utxos, args.provider)
    print(json.dumps(result))


def run(mode: str, home: Path, utxos: int, provider: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", mode, "--home", str(home)]
    cmd += ["--utxos", str(utxos), "--provider", provider]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utxos", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["build", "hold"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--provider", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.build = args.child == "build"
        child(args)
        return
    providers = ["python-smt"]
    if "native-smt" in get_host().backends("proofs").names():
        providers.insert(0, "native-smt")
    with tempfile.TemporaryDirectory(prefix="fontana-bench-memory-") as tmp:
        home = Path(tmp)
        made = run("build", home, args.utxos, providers[0])
        print(
            f"ledger of {args.utxos:,} UTXOs built with {providers[0]} in "
            f"{made['seconds']:.0f} s (peak {made['peak_mb']:.0f} MB)\n"
        )
        print(
            f"{'provider':<12} {'baseline':>9} {'loaded':>8} {'holding':>8} {'of which tree':>13} "
            f"{'peak':>7} {'walk all':>9}"
        )
        for provider in providers:
            r = run("hold", home, args.utxos, provider)
            print(
                f"{provider:<12} {r['base_mb']:>7.0f}MB {r['loaded_mb']:>6.0f}MB "
                f"{r['rss_mb']:>6.0f}MB {r['rss_mb'] - r['loaded_mb']:>11.0f}MB "
                f"{r['peak_mb']:>5.0f}MB {r['warm_s']:>8.0f}s"
            )
    print(
        "\nbaseline: the process before it opens the ledger; loaded: after Ledger.load;"
        "\nholding: after walking the paths of 2 random keys per UTXO (the node cache at its bound)"
    )


if __name__ == "__main__":
    main()
