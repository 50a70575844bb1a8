"""The tree-version pruning policy (``proofs.keep_versions``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from ledger_helpers import (
    ALICE,
    BOB,
    SEQUENCER,
    create_ledger,
    genesis_outpoint,
    make_transfer,
    pub,
)

from fontana.clock import now_ms
from fontana.ledger import Ledger
from fontana.smt import VersionError
from fontana.state import PythonSMTProvider
from fontana.storage import schema as t


def node_count(ledger: Ledger) -> int:
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(t.tree_nodes)) or 0)


#: One expiry for both runs, so their payments (and roots) are identical.
EXPIRY_MS = now_ms() + 3_600_000


def history(ledger: Ledger) -> list[bytes]:
    """Five blocks, each spending alice's coin into a new one; returns the roots."""
    outpoint, roots = genesis_outpoint(0), []
    for n in range(5):
        amount = 1_000_000 - (n + 1)  # the fee of 1 utia per block
        tx = make_transfer([outpoint], [(pub(ALICE), amount)], [ALICE], expiry_ms=EXPIRY_MS)
        ledger.apply_transaction(tx)
        roots.append(ledger.seal_block(SEQUENCER).header.header.state_root)
        outpoint = type(outpoint)(tx.txid, 0)
    return roots


def test_only_the_newest_versions_stay_provable(ledger_url: str, tmp_path: Path) -> None:
    pruned = create_ledger(ledger_url, tmp_path / "home", clock=now_ms)
    pruned.keep_versions = 2
    full = create_ledger(f"sqlite:///{tmp_path}/full.db", tmp_path / "home2", clock=now_ms)
    assert history(pruned) == history(full)  # pruning never changes a root
    assert node_count(pruned) < node_count(full)
    provider = PythonSMTProvider()
    for height in (4, 5):
        root, value, proof = pruned.prove_utxo(genesis_outpoint(1), height)  # bob's coin
        assert value is not None and provider.verify(root, _key(1), value, proof)
    with pytest.raises(VersionError, match="not retained"):
        pruned.prove_utxo(genesis_outpoint(1), 3)
    full.prove_utxo(genesis_outpoint(1), 3)  # kept where nothing is pruned
    assert pruned.balance(pub(BOB)) == 1_000_000
    pruned.storage.close()
    full.storage.close()


def _key(index: int) -> bytes:
    from fontana.models import utxo_key

    return utxo_key(genesis_outpoint(index))
