"""The built-in local L1 stand-in: a durable, deterministic log of vault events."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from fontana.bridge.local_l1 import LOCAL_CHAIN_ID, LOCAL_VAULT, LocalL1, local_l1_dir
from fontana.errors import (
    AddressError,
    AmountOverflowError,
    ConfigError,
    DepositConflictError,
    EncodingError,
    L1Error,
)
from fontana.models import Deposit

RECIPIENT = bytes(range(1, 33))
OTHER = bytes(range(2, 34))
TX = b"\xab" * 32


def rows(log: LocalL1) -> list[tuple[object, ...]]:
    with sqlite3.connect(log.path) as conn:
        return list(conn.execute("SELECT * FROM events ORDER BY block, log_index"))


def test_each_deposit_is_a_new_final_block_and_reads_back_as_logged(tmp_path: Path) -> None:
    log = LocalL1(tmp_path / "l1")
    assert log.finalized_height() == 0
    first = log.append_deposit(RECIPIENT, 5, l1_tx_hash=TX, log_index=2, depositor=b"\x01" * 20)
    second = log.append_deposit(OTHER, 7)
    assert first == Deposit(LOCAL_CHAIN_ID, LOCAL_VAULT, TX, 2, 1, b"\x01" * 20, RECIPIENT, 5)
    assert (second.l1_block, second.amount, len(second.l1_tx_hash)) == (2, 7, 32)
    assert log.finalized_height() == 2
    events = log.scan(0, 2)
    assert (list(events.deposits), list(events.withdrawals), events.scanned_to) == (
        [first, second],
        [],
        2,
    )
    assert list(log.scan(2, 5).deposits) == [second]
    assert list(log.scan(3, 9).deposits) == []
    again = LocalL1(tmp_path / "l1")  # another instance, as another process sees it
    assert (again.scan(0, 2), again.source) == (events, log.source)
    assert LocalL1(tmp_path / "other").source != log.source


def test_a_repeat_returns_the_logged_deposit_and_other_contents_conflict(tmp_path: Path) -> None:
    log = LocalL1(tmp_path / "l1")
    first = log.append_deposit(RECIPIENT, 5, l1_tx_hash=TX)
    assert log.append_deposit(RECIPIENT, 5, l1_tx_hash=TX) == first
    before = rows(log)
    for recipient, amount in ((RECIPIENT, 6), (OTHER, 5)):
        with pytest.raises(DepositConflictError, match="holds another event"):
            log.append_deposit(recipient, amount, l1_tx_hash=TX)
    with pytest.raises(DepositConflictError):
        log.append_release(b"\x07" * 32, l1_tx_hash=TX)
    assert rows(log) == before


def test_the_vaults_rules_hold_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    log = LocalL1(tmp_path / "l1")
    with pytest.raises(AmountOverflowError):
        log.append_deposit(RECIPIENT, 2**63)
    with pytest.raises(AddressError, match="zero rollup address"):
        log.append_deposit(bytes(32), 5)
    for bad in ((RECIPIENT, 0), (RECIPIENT[:31], 5)):
        with pytest.raises(EncodingError):
            log.append_deposit(*bad)
    with pytest.raises(EncodingError):
        log.append_deposit(RECIPIENT, 5, log_index=2**32)
    assert rows(log) == [] and log.finalized_height() == 0


def test_a_release_is_logged_and_scanned_in_log_order(tmp_path: Path) -> None:
    log = LocalL1(tmp_path / "l1")
    deposit = log.append_deposit(RECIPIENT, 5)
    release = log.append_release(b"\x07" * 32, l1_tx_hash=TX, log_index=1)
    assert log.append_release(b"\x07" * 32, l1_tx_hash=TX, log_index=1) == release
    assert (release.burn_txid, release.l1_block, release.log_index) == (b"\x07" * 32, 2, 1)
    events = log.scan(1, 2)
    assert (list(events.deposits), list(events.withdrawals)) == ([deposit], [release])


def test_a_tampered_row_is_skipped_with_its_reason_never_reported(tmp_path: Path) -> None:
    log = LocalL1(tmp_path / "l1")
    good = log.append_deposit(RECIPIENT, 5)
    moved = log.append_deposit(OTHER, 6)
    junk = log.append_deposit(OTHER, 7)
    with sqlite3.connect(log.path) as conn:
        conn.execute("UPDATE events SET block = 9 WHERE block = ?", (moved.l1_block,))
        conn.execute("UPDATE events SET body = x'00' WHERE block = ?", (junk.l1_block,))
        conn.execute("INSERT INTO events VALUES (10, 0, ?, 'mint', x'00')", (TX,))
    events = log.scan(0, 10)
    assert list(events.deposits) == [good]
    reasons = {s.l1_block: s.reason for s in events.skipped}
    assert set(reasons) == {junk.l1_block, 9, 10}
    assert "logged as" in reasons[9] and "unknown event kind" in reasons[10]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("local://", "HOME/l1"),
        ("local", "HOME/l1"),
        ("local:///rel/dir", "rel/dir"),
        ("local:////abs/dir", "/abs/dir"),
    ],
)
def test_the_url_names_the_log_directory(url: str, expected: str) -> None:
    assert local_l1_dir(url, Path("HOME")) == Path(expected)


@pytest.mark.parametrize("url", ["local:/x", "local:///", "file:///x", "local://host/x"])
def test_a_bad_url_is_config_invalid(url: str) -> None:
    with pytest.raises(ConfigError, match="l1.url"):
        local_l1_dir(url, Path("HOME"))


def test_a_special_file_where_the_log_should_be_is_an_l1_error(tmp_path: Path) -> None:
    (tmp_path / "l1").mkdir()
    (tmp_path / "l1" / "events.sqlite").mkdir()
    with pytest.raises(L1Error, match="local L1"):
        LocalL1(tmp_path / "l1")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="local L1 directory"):
        LocalL1(tmp_path / "file" / "l1")


def _append_many(directory: str, writer: int) -> None:
    log = LocalL1(Path(directory))
    for i in range(10):
        log.append_deposit(RECIPIENT, 1 + i, l1_tx_hash=bytes([writer, i]) * 16)


def test_processes_appending_at_once_each_get_their_own_blocks(tmp_path: Path) -> None:
    # Closed before the fork: an open SQLite connection must not cross into a child
    # (sqlite.org/howtocorrupt.html, 2.6); the children lost rows when it did.
    LocalL1(tmp_path / "l1").close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path / "l1"), w)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(600)  # a bound against a hang, not a speed check
    assert [proc.exitcode for proc in procs] == [0] * 4
    deposits = LocalL1(tmp_path / "l1").scan(0, 100).deposits
    assert [d.l1_block for d in deposits] == list(range(1, 41))
    assert len({d.l1_tx_hash for d in deposits}) == 40


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("body", "text, not a blob"),
        ("body", 2**62),  # bytes(int) would allocate that many zero bytes
        ("tx_hash", "text"),
        ("tx_hash", 2**62),
        ("log_index", "zero"),
        ("log_index", 0.5),
        ("block", 2.5),
    ],
)
def test_a_row_of_the_wrong_sqlite_type_is_skipped_not_a_crash(
    tmp_path: Path, column: str, value: object
) -> None:
    """SQLite stores any type in any column: whoever can write the file can write these."""
    log = LocalL1(tmp_path / "l1")
    good = log.append_deposit(RECIPIENT, 5)
    bad = log.append_deposit(OTHER, 6)
    with sqlite3.connect(log.path) as conn:
        conn.execute(f"UPDATE events SET {column} = ? WHERE block = ?", (value, bad.l1_block))
    assert log.finalized_height() == bad.l1_block or column == "block"
    events = log.scan(0, 3)
    assert list(events.deposits) == [good] and list(events.withdrawals) == []
    assert len(events.skipped) == 1 and "type" in events.skipped[0].reason


def test_a_head_row_of_the_wrong_sqlite_type_does_not_move_the_final_height(
    tmp_path: Path,
) -> None:
    log = LocalL1(tmp_path / "l1")
    good = log.append_deposit(RECIPIENT, 5)
    with sqlite3.connect(log.path) as conn:
        conn.execute("INSERT INTO events VALUES ('far', 0, ?, 'deposit', x'00')", (TX,))
        conn.execute("INSERT INTO events VALUES (1e300, 1, ?, 'deposit', x'00')", (TX,))
    assert log.finalized_height() == good.l1_block


@pytest.mark.parametrize("body", [2**62, "text"])
def test_a_repeat_of_a_log_whose_row_was_retyped_is_a_conflict(
    tmp_path: Path, body: object
) -> None:
    log = LocalL1(tmp_path / "l1")
    log.append_deposit(RECIPIENT, 5, l1_tx_hash=TX)
    with sqlite3.connect(log.path) as conn:
        conn.execute("UPDATE events SET body = ?", (body,))
    with pytest.raises(DepositConflictError):
        log.append_deposit(RECIPIENT, 5, l1_tx_hash=TX)
