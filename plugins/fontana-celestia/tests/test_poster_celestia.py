"""The core's poster against the Celestia dev node, through the real client, with faults."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fontana_celestia.testing import DevNode
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.config import Settings, load_settings
from fontana.da import open_da
from fontana.da.blob import decode_blob
from fontana.genesis import initialize
from fontana.interfaces import DALayer
from fontana.ledger import Ledger
from fontana.models import Deposit, Genesis
from fontana.poster import Poster
from fontana.sequencer import Sequencer
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

SEQUENCER = SigningKey(b"\x31" * 32)
NAMESPACE = b"fontanacel"
CHAIN = "fontana-celestia-test"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[DevNode]:
    with DevNode(tmp_path / "node", block_time_ms=100) as devnode:
        yield devnode


@pytest.fixture
def settings(tmp_path: Path, node: DevNode) -> Settings:
    env = {"FONTANA_HOME": str(tmp_path / "home"), "FONTANA_DA_URL": node.url}
    return load_settings(environ=env, cwd=tmp_path)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    """Three sealed blocks: a deposit, then two empty ones."""
    genesis = Genesis(
        chain_id=CHAIN,
        genesis_time_ms=now_ms(),
        sequencer=bytes(SEQUENCER.verify_key),
        da_namespace=NAMESPACE,
        block_time_ms=100,
        min_fee=1,
        l1_confirmations=1,
        allocations=(),
    )
    storage = open_storage(settings)
    initialize(storage, PythonSMTProvider(), genesis)
    chain = Ledger(storage, PythonSMTProvider(), genesis)
    chain.process_deposit_event(
        Deposit(1, bytes(20), b"\x07" * 32, 0, 1, bytes(20), b"\x08" * 32, 1_000)
    )
    sequencer = Sequencer(chain, SEQUENCER, block_time_ms=100, max_blob_size=1_000_000)
    sequencer.acquire()
    for _ in range(3):
        sequencer.seal()
    sequencer.release()
    yield chain
    storage.close()


@pytest.fixture
def da(settings: Settings) -> Iterator[DALayer]:
    layer = open_da(settings, NAMESPACE)  # through the plugin registry, by URL scheme
    yield layer
    layer.close()


def chain_blobs(da: DALayer) -> list[int]:
    """Block heights of every blob of the chain on DA, in DA order."""
    heights = []
    for da_height in range(1, da.head_height() + 1):
        for _, data in da.list_at(da_height):
            heights.append(decode_blob(data, CHAIN).header.header.height)
    return heights


def test_retries_alert_then_posts_everything_in_order(
    ledger: Ledger, da: DALayer, node: DevNode, caplog: pytest.LogCaptureFixture
) -> None:
    node.inject_fault("blob.Submit", count=4, error="tx already in mempool")
    poster = Poster(ledger.storage, da, block_time_ms=50, alert_after=3, initial_backoff_ms=5)
    with caplog.at_level(logging.WARNING):
        assert poster.post_pending(threading.Event()) == 3
    alerts = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(alerts) == 2 and "failed 3 times in a row" in alerts[0].getMessage()
    assert "da_retryable" in alerts[0].getMessage()
    assert chain_blobs(da) == [1, 2, 3]
    with ledger.storage.read() as s:
        assert all(s.get_block(h).committed for h in (1, 2, 3))  # type: ignore[union-attr]


def test_fatal_error_alerts_at_once_and_keeps_trying(
    ledger: Ledger, da: DALayer, node: DevNode, caplog: pytest.LogCaptureFixture
) -> None:
    node.inject_fault("blob.Submit", count=1, error="insufficient funds for fee")
    poster = Poster(ledger.storage, da, block_time_ms=50, alert_after=10, initial_backoff_ms=5)
    with caplog.at_level(logging.WARNING):
        assert poster.post_pending(threading.Event()) == 3
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert chain_blobs(da) == [1, 2, 3]


def test_included_but_reported_failed_is_not_posted_twice(
    ledger: Ledger, da: DALayer, node: DevNode
) -> None:
    node.inject_fault("blob.Submit", count=1, include_then_fail=True)
    poster = Poster(ledger.storage, da, block_time_ms=50, initial_backoff_ms=5)
    assert poster.post_pending(threading.Event()) == 3
    assert chain_blobs(da) == [1, 2, 3]
    with ledger.storage.read() as s:
        assert "found on DA" in (s.da_submissions(1)[-1].error or "")


def test_poster_killed_after_inclusion_finds_its_blob_on_restart(
    ledger: Ledger, da: DALayer, node: DevNode, settings: Settings
) -> None:
    # The node includes block 1's blob, then holds the answer back; the poster
    # process is killed while it waits, as a crash would.
    node.inject_fault("blob.Submit", count=1, include_then_fail=True, delay_ms=60_000)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")},
        "FONTANA_HOME": str(settings.home),
        "FONTANA_DA_URL": node.url,
    }
    cmd = [sys.executable, "-m", "fontana", "poster", "--once"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while chain_blobs(da) != [1]:
        assert time.monotonic() < deadline, "the blob never reached the dev node"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with ledger.storage.read() as s:
        assert not s.get_block(1).committed  # type: ignore[union-attr]
    node.call("devnode.ClearFaults")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert chain_blobs(da) == [1, 2, 3]  # block 1 was found, not posted again
    with ledger.storage.read() as s:
        assert all(s.get_block(h).committed for h in (1, 2, 3))  # type: ignore[union-attr]
        assert "found on DA" in (s.da_submissions(1)[-1].error or "")
