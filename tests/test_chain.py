"""Sequencer, poster (local DA) and recovery from DA, on real databases."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from ledger_helpers import (
    ALICE,
    BOB,
    SEQUENCER,
    make_deposit,
    make_transfer,
    pub,
    settings_for,
)

from fontana.cli import cli
from fontana.clock import now_ms
from fontana.da.blob import decode_blob, encode_blob
from fontana.da.limits import min_blob_size
from fontana.da.local import LocalDA
from fontana.errors import BlobTooLargeError, ConfigError, RecoveryError
from fontana.ledger import Ledger
from fontana.models import (
    Block,
    BlockHeader,
    SignedHeader,
    Transaction,
    WithdrawalRequest,
    encode_entry,
)
from fontana.poster import STATUS_KEY, Poster, load_block
from fontana.recovery import compare_ledgers, recover
from fontana.sequencer import Sequencer, SequencerBusyError
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

NAMESPACE = b"\x00" * 9 + b"\x01"
BLOCK_MS = 100


def sequencer(ledger: Ledger, max_blob_size: int = 1_900_000) -> Sequencer:
    seq = Sequencer(ledger, SEQUENCER, block_time_ms=BLOCK_MS, max_blob_size=max_blob_size)
    seq.acquire()
    return seq


def pay(ledger: Ledger, sender, recipient: bytes, amount: int):  # type: ignore[no-untyped-def]
    """``sender`` pays from all its UTXOs, change back, valid for a minute of real time."""
    utxos = ledger.utxos(pub(sender))
    change = sum(u.amount for u in utxos) - amount - 1
    outputs = [(recipient, amount)] + ([(pub(sender), change)] if change else [])
    return make_transfer(
        utxos, outputs, [sender], expiry_ms=now_ms() + 60_000, genesis_hash=ledger.genesis_hash
    )


def run_history(ledger: Ledger, blocks: int) -> None:
    """Deposits, transfers, and empty blocks in between, as a real run makes them."""
    seq = sequencer(ledger)
    ledger.process_deposit_event(make_deposit(pub(ALICE), 5_000))
    ledger.apply_transaction(pay(ledger, ALICE, pub(BOB), 700))
    seq.seal()
    seq.seal()  # empty
    ledger.apply_transaction(pay(ledger, BOB, pub(ALICE), 100))
    for _ in range(blocks - 2):
        seq.seal()
    seq.release()


# -- sequencer ---------------------------------------------------------------------


def test_empty_blocks_at_the_block_interval_chain_and_match_the_ledger(live: Ledger) -> None:
    blocks: list[Block] = []
    seq = Sequencer(
        live, SEQUENCER, block_time_ms=BLOCK_MS, max_blob_size=1_900_000, on_block=blocks.append
    )
    seq.acquire()
    started = time.monotonic()
    assert seq.run(threading.Event(), max_blocks=5) == 5
    elapsed = time.monotonic() - started
    assert elapsed >= 5 * BLOCK_MS / 1000 * 0.9  # paced by the block time, not a busy loop
    headers = [b.header.header for b in blocks]
    assert [h.height for h in headers] == [1, 2, 3, 4, 5]
    assert all(h.tx_count == 0 for h in headers)
    with live.storage.read() as s:
        assert headers[0].prev_hash == s.get_block(0).hash  # type: ignore[union-attr]
    for prev, cur in itertools.pairwise(headers):
        assert cur.prev_hash == prev.hash
        assert cur.timestamp_ms >= prev.timestamp_ms
        assert cur.state_root == prev.state_root  # nothing changed
    assert all(b.header.verify(live.genesis_hash) for b in blocks)
    assert live.current_state_root() == headers[-1].state_root


def test_a_second_sequencer_refuses_to_start(live: Ledger, tmp_path: Path) -> None:
    first = sequencer(live)
    other_ledger = Ledger.load(
        open_storage(settings_for(tmp_path / "h2"), live.storage.url), PythonSMTProvider()
    )
    second = Sequencer(other_ledger, SEQUENCER, block_time_ms=BLOCK_MS, max_blob_size=1_900_000)
    with pytest.raises(SequencerBusyError, match="another sequencer"):
        second.acquire()
    first.release()
    second.acquire()  # free once released
    with pytest.raises(SequencerBusyError, match="lost the sequencer lease"):
        first.seal()  # the first one must not seal any more
    other_ledger.storage.close()


def test_only_the_genesis_sequencer_may_seal(live: Ledger) -> None:
    with pytest.raises(ConfigError, match="genesis sequencer"):
        Sequencer(live, ALICE, block_time_ms=BLOCK_MS, max_blob_size=10_000)


def test_blocks_never_exceed_the_blob_limit(live: Ledger) -> None:
    limit = min_blob_size()
    deposits = 3 * limit // len(encode_entry(make_deposit(pub(ALICE), 1)))
    for n in range(deposits):
        live.process_deposit_event(make_deposit(pub(ALICE), 10 + n, l1_tx=1000 + n))
    seq = sequencer(live, max_blob_size=limit)
    sizes, counts = [], []
    while True:
        block = seq.seal()
        sizes.append(len(encode_blob(block)))
        counts.append(block.header.header.tx_count)
        if block.header.header.tx_count == 0:
            break
    assert sum(counts) == deposits
    assert len(counts) > 2  # had to split
    assert max(sizes) <= limit


# -- poster ------------------------------------------------------------------------


def test_poster_posts_every_block_in_order_including_empty_ones(live: Ledger, da: LocalDA) -> None:
    run_history(live, blocks=4)
    posted: list[int] = []
    poster = Poster(
        live.storage, da, block_time_ms=BLOCK_MS, on_posted=lambda r, _: posted.append(r.height)
    )
    assert poster.post_pending(threading.Event()) == 4
    assert posted == [1, 2, 3, 4]
    with live.storage.read() as s:
        assert s.uncommitted_blocks(10) == []
        for height in posted:
            record = s.get_block(height)
            assert record is not None and record.committed
            data = da.get(_ref(da, record.da_height, record.da_commitment))
            assert data is not None
            assert decode_blob(data, live.chain_id) == load_block(live.storage, height)
        assert json.loads(s.get_meta(STATUS_KEY) or "{}")["last_posted_height"] == 4
    assert poster.post_pending(threading.Event()) == 0  # nothing twice


def _ref(da: LocalDA, height: int | None, commitment: bytes | None):  # type: ignore[no-untyped-def]
    from fontana.interfaces import DAReference

    assert height is not None and commitment is not None
    return DAReference(height, commitment, da.namespace)


class _FlakyDA(LocalDA):
    """The real local layer whose first ``failures`` submits fail as a node would."""

    def __init__(self, *args, failures: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.failures = failures

    def submit(self, blob: bytes):  # type: ignore[no-untyped-def]
        from fontana.errors import DARetryableError

        if self.failures:
            self.failures -= 1
            raise DARetryableError("timed out waiting for tx to be included in a block")
        return super().submit(blob)


def test_poster_retries_alerts_and_recovers(
    live: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_history(live, blocks=2)
    flaky = _FlakyDA(tmp_path / "flaky", NAMESPACE, 1_900_000, failures=4)
    poster = Poster(live.storage, flaky, block_time_ms=40, alert_after=3, initial_backoff_ms=5)
    with caplog.at_level("WARNING"):
        assert poster.post_pending(threading.Event()) == 2
    critical = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(critical) == 2  # the 3rd and 4th consecutive failures
    assert "failed 3 times in a row" in critical[0].getMessage()
    assert poster.status.consecutive_failures == 0 and not poster.status.alerting
    with live.storage.read() as s:
        attempts = s.da_submissions(1)
    assert [a.ok for a in attempts if a.error != "in flight"] == [False] * 4 + [True]
    heights = [h for h in range(1, flaky.head_height() + 1) if flaky.list_at(h)]
    assert len(heights) == 2  # one blob per block, no duplicates


def test_poster_refuses_oversize_blob_with_an_alert_and_keeps_state(
    live: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_history(live, blocks=2)
    tiny = LocalDA(tmp_path / "tiny", NAMESPACE, max_blob_size=100)
    stop = threading.Event()
    poster = Poster(live.storage, tiny, block_time_ms=20, initial_backoff_ms=5)
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    with caplog.at_level("WARNING"):
        assert poster.post_pending(stop) == 0
    assert poster.status.alerting and "blob_too_large" in (poster.status.last_error or "")
    with live.storage.read() as s:
        assert [b.height for b in s.uncommitted_blocks(10)] == [1, 2]  # never rolled back
    assert BlobTooLargeError.code in caplog.text


CRASHING_POSTER = """
import sys, time
from pathlib import Path
from fontana.da.local import LocalDA
from fontana.poster import Poster
from fontana.storage import open_storage
from fontana.config import load_settings

class SlowAckDA(LocalDA):
    # The blob is on DA, but the answer is late: the poster dies before it hears it.
    def submit(self, blob):
        ref = super().submit(blob)
        print("SUBMITTED", flush=True)
        time.sleep(60)
        return ref

home, url, da_dir = sys.argv[1:4]
settings = load_settings(environ={"FONTANA_HOME": home}, plugin_sections={})
storage = open_storage(settings, url)
da = SlowAckDA(Path(da_dir), bytes(9) + b"\\x01", 1_900_000)
import threading
Poster(storage, da, block_time_ms=100).post_pending(threading.Event())
"""


def test_poster_killed_after_da_accepted_does_not_post_twice(
    live: Ledger, da: LocalDA, tmp_path: Path
) -> None:
    run_history(live, blocks=3)
    script = tmp_path / "crashing_poster.py"
    script.write_text(CRASHING_POSTER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "h3"), live.storage.url, str(da.path.parent)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "SUBMITTED"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert da.head_height() == 1  # block 1 is on DA, the database does not know it
    with live.storage.read() as s:
        assert not s.get_block(1).committed  # type: ignore[union-attr]
    poster = Poster(live.storage, da, block_time_ms=BLOCK_MS)
    assert poster.post_pending(threading.Event()) == 3
    assert da.head_height() == 3  # block 1 found, not posted again
    with live.storage.read() as s:
        assert s.get_block(1).da_height == 1  # type: ignore[union-attr]
        assert "found on DA" in (s.da_submissions(1)[-1].error or "")


# -- recovery ----------------------------------------------------------------------


def posted_history(live: Ledger, da: LocalDA, blocks: int = 4) -> None:
    run_history(live, blocks=blocks)
    Poster(live.storage, da, block_time_ms=BLOCK_MS).post_pending(threading.Event())


def test_recovery_reproduces_roots_and_balances(live: Ledger, da: LocalDA, tmp_path: Path) -> None:
    posted_history(live, da)
    rebuilt = open_storage(settings_for(tmp_path / "h4"), f"sqlite:///{tmp_path}/rebuilt.db")
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert (report.blocks, report.last_height) == (4, 4)
    assert report.state_root == live.current_state_root()
    assert compare_ledgers(live.storage, rebuilt) == []
    again = Ledger.load(rebuilt, PythonSMTProvider())
    for who in (ALICE, BOB, SEQUENCER):
        assert again.balance(pub(who)) == live.balance(pub(who))
    rebuilt.close()


def test_recovery_rebuilds_withdrawal_leaves(live: Ledger, da: LocalDA, tmp_path: Path) -> None:
    """A burn's leaf is part of its block's root, so replay must insert it the same way."""
    run_history(live, blocks=2)
    utxos = live.utxos(pub(ALICE))
    burn = WithdrawalRequest(b"\x44" * 20, 40, b"\x7e" * 20)
    change = sum(u.amount for u in utxos) - 40 - 1
    tx = make_transfer(
        utxos, [(pub(ALICE), change)], [ALICE], burn=burn, expiry_ms=now_ms() + 60_000,
        genesis_hash=live.genesis_hash,
    )  # fmt: skip
    live.apply_transaction(tx)
    seq = sequencer(live)
    seq.seal()
    seq.release()
    height = live.latest_block().height
    Poster(live.storage, da, block_time_ms=BLOCK_MS).post_pending(threading.Event())
    rebuilt = open_storage(settings_for(tmp_path / "h5"), f"sqlite:///{tmp_path}/rebuilt.db")
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert report.state_root == live.current_state_root()
    assert compare_ledgers(live.storage, rebuilt) == []
    again = Ledger.load(rebuilt, PythonSMTProvider())
    assert again.prove_withdrawal(tx.txid, height) == live.prove_withdrawal(tx.txid, height)
    rebuilt.close()


def tamper(da: LocalDA, live: Ledger, height: int, mutate) -> None:  # type: ignore[no-untyped-def]
    """Replace block ``height``'s blob on DA by a re-signed, altered block."""
    block = load_block(live.storage, height)
    header = mutate(block.header.header)
    forged = Block(SignedHeader.sign(header, SEQUENCER, live.genesis_hash), block.entries)
    conn = da._conn()
    conn.execute("UPDATE blobs SET data = ? WHERE height = ?", (encode_blob(forged), height))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: _evolve(h, state_root=b"\x09" * 32), "block 3: state root after replay"),
        (lambda h: _evolve(h, tx_root=b"\x09" * 32), "block 3: tx root"),
    ],
)
def test_a_tampered_blob_is_detected_and_named(
    live: Ledger,
    da: LocalDA,
    tmp_path: Path,
    mutate,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    posted_history(live, da)
    tamper(da, live, 3, mutate)
    rebuilt = open_storage(settings_for(tmp_path / "h5"), f"sqlite:///{tmp_path}/rebuilt.db")
    with pytest.raises(RecoveryError, match=message):
        recover(live.genesis, da, rebuilt, PythonSMTProvider())
    with rebuilt.read() as s:
        assert s.latest_block().height == 2  # type: ignore[union-attr]
    rebuilt.close()


def _evolve(header: BlockHeader, **changes: object) -> BlockHeader:
    import attrs

    return attrs.evolve(header, **changes)


@pytest.mark.parametrize(("height", "reason"), [(2, "bad_signature"), (3, "does_not_chain")])
def test_a_block_that_does_not_extend_the_chain_is_skipped_and_named(
    live: Ledger, da: LocalDA, tmp_path: Path, height: int, reason: str
) -> None:
    posted_history(live, da)
    block = load_block(live.storage, height)
    if reason == "bad_signature":
        forged = Block(SignedHeader(block.header.header, bytes(64)), block.entries)
    else:
        header = _evolve(block.header.header, prev_hash=b"\x09" * 32)
        forged = Block(SignedHeader.sign(header, SEQUENCER, live.genesis.hash), block.entries)
    da._conn().execute("UPDATE blobs SET data = ? WHERE height = ?", (encode_blob(forged), height))
    rebuilt = open_storage(settings_for(tmp_path / "h6"), f"sqlite:///{tmp_path}/rebuilt.db")
    report = recover(live.genesis, da, rebuilt, PythonSMTProvider())
    assert report.last_height == height - 1  # the chain ends where the real block is missing
    assert report.skipped[0].reason == reason and report.skipped[0].block_height == height
    assert {s.reason for s in report.skipped[1:]} == {"out_of_order"}  # the blocks after it
    assert compare_ledgers(live.storage, rebuilt) == [
        f"block {h} is marked posted but was not found on DA" for h in range(height, 5)
    ]
    rebuilt.close()


# -- CLI ---------------------------------------------------------------------------


def test_devnet_runs_and_recovers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["devnet", "--dir", str(tmp_path / "net"), "--blocks", "4", "--block-time-ms", "150"],
    )
    assert result.exit_code == 0, result.output
    assert "block 4 sealed" in result.output
    assert "posted block 4 to DA" in result.output
    assert "deposit: 5000000 utia to alice" in result.output
    assert "every block and state root matches" in result.output


def test_recover_command_rebuilds_and_verifies(tmp_path: Path) -> None:
    net = tmp_path / "net"
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["devnet", "--dir", str(net), "--blocks", "3", "--block-time-ms", "100"]
        ).exit_code
        == 0
    )
    env = {"FONTANA_HOME": str(net)}
    genesis = str(net / "genesis.json")
    verify = runner.invoke(cli, ["recover", genesis, "--verify", "--json"], env=env)
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.output)["problems"] == []
    refused = runner.invoke(cli, ["recover", genesis], env=env)
    assert refused.exit_code != 0 and "already_initialized" in refused.output
    wiped = runner.invoke(cli, ["recover", genesis, "--wipe", "--json"], env=env)
    assert wiped.exit_code == 0, wiped.output
    assert json.loads(wiped.output)["blocks"] == 3


def test_an_invalid_entry_is_named_with_its_block_and_code(
    live: Ledger, da: LocalDA, tmp_path: Path
) -> None:
    posted_history(live, da)
    replayed = load_block(live.storage, 1).entries[1]  # block 1's payment, spent again
    assert isinstance(replayed, Transaction)
    from fontana.hashing import merkle_root
    from fontana.models import encode_entries, entries_hash, entry_id

    header = _evolve(
        load_block(live.storage, 3).header.header,
        tx_root=merkle_root([entry_id(replayed)]),
        entries_hash=entries_hash(encode_entries((replayed,))),
        tx_count=1,
    )
    forged = Block(SignedHeader.sign(header, SEQUENCER, live.genesis_hash), (replayed,))
    da._conn().execute("UPDATE blobs SET data = ? WHERE height = 3", (encode_blob(forged),))
    rebuilt = open_storage(settings_for(tmp_path / "h7"), f"sqlite:///{tmp_path}/rebuilt.db")
    with pytest.raises(RecoveryError, match=r"block 3, entry 0 \([0-9a-f]{64}\): .*twice"):
        recover(live.genesis, da, rebuilt, PythonSMTProvider())
    rebuilt.close()
