"""Recovery over a DA namespace that strangers (and a misbehaving sequencer) also post to."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from ledger_helpers import (
    ALICE,
    BOB,
    SEQUENCER,
    make_deposit,
    make_genesis,
    make_transfer,
    pub,
    settings_for,
)

from fontana.cli import cli
from fontana.clock import now_ms
from fontana.da.blob import encode_blob
from fontana.da.local import LocalDA
from fontana.errors import RecoveryError
from fontana.genesis import load_genesis_file
from fontana.interfaces import DAReference
from fontana.ledger import Ledger
from fontana.poster import IN_FLIGHT, Poster, load_blob, load_block
from fontana.recovery import MAX_LISTED, compare_ledgers, recover
from fontana.sequencer import Sequencer
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage.base import DASubmissionRecord, Storage
from fontana.testing.hostile_blobs import Forger, post_among_hostile_blobs

NAMESPACE = b"\x00" * 9 + b"\x01"


def seal_history(ledger: Ledger) -> None:
    """Four blocks: a deposit and a two-signer payment, an empty block, a payment, empty."""
    seq = Sequencer(ledger, SEQUENCER, block_time_ms=100, max_blob_size=1_900_000)
    seq.acquire()
    ledger.process_deposit_event(make_deposit(pub(ALICE), 5_000))
    utxos = ledger.utxos(pub(ALICE)) + ledger.utxos(pub(BOB))
    total = sum(u.amount for u in utxos)
    both = make_transfer(
        utxos,
        [(pub(BOB), 700), (pub(ALICE), total - 701)],
        [ALICE, BOB],
        expiry_ms=now_ms() + 60_000,
        genesis_hash=ledger.genesis.hash,
    )
    ledger.apply_transaction(both)
    seq.seal()
    seq.seal()
    bob = ledger.utxos(pub(BOB))
    ledger.apply_transaction(
        make_transfer(
            bob,
            [(pub(ALICE), 100), (pub(BOB), bob[0].amount - 101)],
            [BOB],
            expiry_ms=now_ms() + 60_000,
            genesis_hash=ledger.genesis.hash,
        )
    )
    seq.seal()
    seq.seal()
    seq.release()


def rebuilt_storage(tmp_path: Path, name: str = "rebuilt") -> Storage:
    return open_storage(settings_for(tmp_path / name), f"sqlite:///{tmp_path}/{name}.db")


def test_recovery_passes_over_every_hostile_blob_and_reaches_every_root(
    live: Ledger, da: LocalDA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seal_history(live)
    other = make_genesis(genesis_time_ms=live.genesis.genesis_time_ms + 1)  # same id, key, ns
    forger = Forger(live.genesis, seed=1, sequencer=SEQUENCER)
    expected = post_among_hostile_blobs(live.storage, da, forger, other)
    rebuilt = rebuilt_storage(tmp_path)
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert (report.blocks, report.last_height) == (4, 4)
    assert report.state_root == live.current_state_root()
    assert compare_ledgers(live.storage, rebuilt) == []
    assert report.skipped_counts == dict(expected)
    assert {s.reason for s in report.skipped} == set(expected) - {"other_chain"}
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    for reason in set(expected) - {"other_chain", "duplicate"}:
        assert f"({reason})" in warned
    rebuilt.close()


def test_a_forged_copy_posted_first_does_not_hide_the_real_block(
    live: Ledger, da: LocalDA, tmp_path: Path
) -> None:
    seal_history(live)
    forger = Forger(live.genesis, seed=2)
    block = load_block(live.storage, 1)
    forged = forger.other_witnesses(block)
    assert forged is not None
    da.submit(forged.blob)  # the stranger is faster than the poster
    Poster(live.storage, da, block_time_ms=100).post_pending(threading.Event())
    rebuilt = rebuilt_storage(tmp_path)
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert report.last_height == 4 and compare_ledgers(live.storage, rebuilt) == []
    assert report.skipped_counts == {"body_mismatch": 1}
    with rebuilt.read() as s:  # the real bytes were replayed, not the stranger's
        assert [e.body for e in s.entries_in_block(1)] == [e.body for e in _entries(live, 1)]
    rebuilt.close()


def _entries(ledger: Ledger, height: int) -> list:  # type: ignore[type-arg]
    with ledger.storage.read() as s:
        return s.entries_in_block(height)


def test_a_signed_block_that_chains_on_and_fails_replay_stops_recovery(
    live: Ledger, da: LocalDA, tmp_path: Path
) -> None:
    seal_history(live)
    Poster(live.storage, da, block_time_ms=100).post_pending(threading.Event())
    block = load_block(live.storage, 3)
    forged = Forger(live.genesis, sequencer=SEQUENCER)._evolve(
        block, SEQUENCER, state_root=b"\x09" * 32
    )
    da._conn().execute("UPDATE blobs SET data = ? WHERE height = 3", (encode_blob(forged),))
    rebuilt = rebuilt_storage(tmp_path)
    with pytest.raises(RecoveryError, match="block 3: state root after replay"):
        recover(live.genesis, da, rebuilt, PythonSMTProvider())
    with rebuilt.read() as s:
        assert s.latest_block().height == 2  # type: ignore[union-attr]
    rebuilt.close()


def test_the_list_of_skipped_blobs_is_bounded_but_every_one_is_counted(
    live: Ledger, da: LocalDA, tmp_path: Path
) -> None:
    seal_history(live)
    forger = Forger(live.genesis, seed=3)
    for _ in range(MAX_LISTED + 20):
        da.submit(forger.garbage(40).blob)
    Poster(live.storage, da, block_time_ms=100).post_pending(threading.Event())
    rebuilt = rebuilt_storage(tmp_path)
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert report.last_height == 4
    assert report.skipped_counts == {"malformed": MAX_LISTED + 20}
    assert len(report.skipped) == MAX_LISTED
    rebuilt.close()


class _LyingDA:
    """A layer whose listing reports one commitment over other bytes (unit test of the poster)."""

    def __init__(self, inner: LocalDA, lie: bytes) -> None:
        self.inner = inner
        self.lie = lie
        self.max_blob_size = inner.max_blob_size

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def list_at(self, height: int) -> list[tuple[DAReference, bytes]]:
        return [
            (attrs.evolve(ref, commitment=self.lie), b"not the block")
            for ref, _ in self.inner.list_at(height)
        ]


def test_the_poster_is_not_fooled_by_a_blob_that_only_claims_its_commitment(
    live: Ledger, da: LocalDA
) -> None:
    seal_history(live)
    blob = load_blob(live.storage, 1)
    lying = _LyingDA(da, da.commitment(blob))
    da.submit(b"a stranger's blob")
    with live.storage.write() as s:  # an interrupted attempt, as after a crash
        s.record_da_submission(DASubmissionRecord(1, now_ms(), False, 1, lying.lie, IN_FLIGHT))
        record = s.get_block(1)
    assert record is not None
    poster = Poster(live.storage, lying, block_time_ms=100)  # type: ignore[arg-type]
    assert poster.post_block(record, threading.Event())
    with live.storage.read() as s:
        posted = s.get_block(1)
    assert posted is not None and posted.da_height == 2  # really posted, not "found"
    assert posted.da_commitment is not None
    assert da.get(DAReference(2, posted.da_commitment, NAMESPACE)) == blob


def test_recover_command_names_skipped_blobs_in_json(tmp_path: Path) -> None:
    net = tmp_path / "net"
    runner = CliRunner()
    made = runner.invoke(
        cli, ["devnet", "--dir", str(net), "--blocks", "2", "--block-time-ms", "100"]
    )
    assert made.exit_code == 0, made.output
    genesis = load_genesis_file(net / "genesis.json")
    layer = LocalDA(net / "da", genesis.da_namespace, 1_900_000)
    layer.submit(Forger(genesis).garbage().blob)
    layer.close()
    result = runner.invoke(
        cli,
        ["recover", str(net / "genesis.json"), "--verify", "--json"],
        env={"FONTANA_HOME": str(net)},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["skipped_counts"] == {"malformed": 1}
    assert data["skipped"][0]["reason"] == "malformed"
    assert data["problems"] == []
