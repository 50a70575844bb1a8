"""Recovery from the Celestia dev node, through the real client, in a namespace strangers share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fontana_celestia.testing import DevNode
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.config import Settings, load_settings
from fontana.da import open_da
from fontana.genesis import initialize
from fontana.interfaces import DALayer
from fontana.ledger import Ledger
from fontana.models import Allocation, Genesis, OutPoint, Transaction, TxKind, TxOutput
from fontana.recovery import compare_ledgers, recover
from fontana.sequencer import Sequencer
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.hostile_blobs import Forger, post_among_hostile_blobs

SEQUENCER = SigningKey(b"\x41" * 32)
PAYER = SigningKey(b"\x42" * 32)
NAMESPACE = b"fontanarec"


def genesis_at(time_ms: int) -> Genesis:
    return Genesis(
        chain_id="fontana-celestia-recovery",
        genesis_time_ms=time_ms,
        sequencer=bytes(SEQUENCER.verify_key),
        da_namespace=NAMESPACE,
        block_time_ms=100,
        min_fee=1,
        l1_confirmations=1,
        allocations=(Allocation(bytes(PAYER.verify_key), 1_000_000),),
    )


@pytest.fixture
def node(tmp_path: Path) -> Iterator[DevNode]:
    with DevNode(tmp_path / "node", block_time_ms=100) as devnode:
        yield devnode


@pytest.fixture
def settings(tmp_path: Path, node: DevNode) -> Settings:
    env = {"FONTANA_HOME": str(tmp_path / "home"), "FONTANA_DA_URL": node.url}
    return load_settings(environ=env, cwd=tmp_path)


@pytest.fixture
def da(settings: Settings) -> Iterator[DALayer]:
    layer = open_da(settings, NAMESPACE)  # through the plugin registry, by URL scheme
    yield layer
    layer.close()


def sealed_chain(settings: Settings, genesis: Genesis) -> Ledger:
    """Three blocks: a signed payment, then two empty ones."""
    storage = open_storage(settings)
    initialize(storage, PythonSMTProvider(), genesis)
    chain = Ledger(storage, PythonSMTProvider(), genesis)
    payment = Transaction(
        kind=TxKind.TRANSFER,
        chain_id=genesis.chain_id,
        inputs=(OutPoint(genesis.hash, 0),),
        outputs=(TxOutput(b"\x08" * 32, 1_000), TxOutput(bytes(PAYER.verify_key), 998_999)),
        fee=1,
        expiry_ms=now_ms() + 60_000,
    ).sign(PAYER, genesis.hash)
    chain.apply_transaction(payment)
    sequencer = Sequencer(chain, SEQUENCER, block_time_ms=100, max_blob_size=1_000_000)
    sequencer.acquire()
    for _ in range(3):
        sequencer.seal()
    sequencer.release()
    return chain


def test_recovery_from_the_dev_node_skips_every_hostile_blob(
    settings: Settings, da: DALayer, tmp_path: Path
) -> None:
    genesis = genesis_at(now_ms())
    live = sealed_chain(settings, genesis)
    other = genesis_at(genesis.genesis_time_ms + 1)  # another deployment, same id, key, namespace
    forger = Forger(genesis, seed=5, sequencer=SEQUENCER)
    expected = post_among_hostile_blobs(live.storage, da, forger, other)
    rebuilt = open_storage(settings, f"sqlite:///{tmp_path}/rebuilt.db")
    report = recover(genesis, da, rebuilt, PythonSMTProvider())
    assert (report.blocks, report.last_height) == (3, 3)
    assert report.state_root == live.current_state_root()
    assert compare_ledgers(live.storage, rebuilt) == []
    assert report.skipped_counts == dict(expected)
    rebuilt.close()
    live.storage.close()
