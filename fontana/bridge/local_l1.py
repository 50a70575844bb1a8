"""The built-in L1 stand-in: a durable local log of vault events, for devnets and tests.

``fontana trigger-deposit`` appends a deposit to it (and the withdrawal
processor a release), each in a new local L1 block, and ``fontana watcher``
reads it like an L1: the same cursor, the same handlers. Nothing on it is ever
reverted, so every block is final as soon as it is written and
``l1.confirmations`` does not apply. Its chain id is 0 and its vault the zero
address; a random id written when the log is created names it
(``source``), so a ledger's watcher cursor never moves to another log.

The log is a SQLite file (``events.sqlite``) in a directory: ``local://``
means ``<home>/l1``, ``local:///relative/dir`` and ``local:////absolute/dir``
name one (the same form as ``da.url``). Several processes may share it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fontana.errors import (
    AddressError,
    AmountOverflowError,
    ConfigError,
    DepositConflictError,
    EncodingError,
    L1Error,
    L1UnavailableError,
)
from fontana.interfaces import L1Events, SkippedLog
from fontana.models import Deposit, WithdrawalConfirmation
from fontana.sqlite_errors import sqlite_errors_as

#: The local L1's chain id and vault address, in every event it reports.
LOCAL_CHAIN_ID = 0
LOCAL_VAULT = bytes(20)
DEPOSIT, RELEASE = "deposit", "release"
#: The vault's largest deposit: events carry a uint64 that the ledger stores signed.
MAX_DEPOSIT = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash BLOB NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (block, log_index),
    UNIQUE (tx_hash, log_index)
);
"""


def local_l1_dir(url: str, home: Path) -> Path:
    """The log's directory: ``local://`` is ``<home>/l1``, else as ``da.url``'s ``local:///dir``."""
    scheme, sep, rest = url.partition("://")
    if url in ("local", "local://"):
        return home / "l1"
    if scheme != "local" or not sep or not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"l1.url = {url!r}: expected local://, local:///relative/dir or local:////absolute/dir"
        )
    return Path(rest[1:]).expanduser()


#: SQLite failures as L1 errors (retried when the file is busy).
_l1_errors = sqlite_errors_as("local L1", L1UnavailableError, L1Error)


class LocalL1:
    """:class:`fontana.interfaces.L1Watcher` over the local event log, plus the appends."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"local L1 directory {directory}: {exc.strerror}") from None
        self.path = directory / "events.sqlite"
        self._local = threading.local()
        self.source = f"local:{self._create()}"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    @_l1_errors
    def _create(self) -> str:
        conn = self._conn()
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM log_meta WHERE key = 'id'").fetchone()
        if row is None:  # a new log: name it, once, whoever opens it first
            conn.execute("INSERT OR IGNORE INTO log_meta VALUES ('id', ?)", (os.urandom(8).hex(),))
            row = conn.execute("SELECT value FROM log_meta WHERE key = 'id'").fetchone()
        return str(row[0])

    # -- the L1 side: appending events -------------------------------------------

    def _append(
        self,
        kind: str,
        tx_hash: bytes,
        log_index: int,
        build: Callable[[int], bytes],
        same: Callable[[bytes], bool],
    ) -> tuple[int, bytes]:
        """Write one event in a new block; a retry of the same log returns the stored one."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT block, kind, body FROM events WHERE tx_hash = ? AND log_index = ?",
                (tx_hash, log_index),
            ).fetchone()
            if row is not None:
                block, stored_kind, body = row
                if not (type(block) is int and isinstance(body, bytes)) or (
                    stored_kind != kind or not same(body)
                ):
                    raise DepositConflictError(
                        f"local L1 log {tx_hash.hex()}:{log_index} holds another event "
                        f"(a {str(stored_kind)!r:.40} in block {block!r:.40}); nothing was written"
                    )
            else:
                block = _head(conn) + 1
                body = build(block)
                conn.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                    (block, log_index, tx_hash, kind, body),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return block, body

    @_l1_errors
    def append_deposit(
        self,
        recipient: bytes,
        amount: int,
        *,
        l1_tx_hash: bytes | None = None,
        log_index: int = 0,
        depositor: bytes = bytes(20),
    ) -> Deposit:
        """Log a vault deposit in a new block and return it as the watcher will report it.

        The vault's own rules hold: an amount of 1..2^63 - 1 utia
        (``amount_overflow`` above), a recipient that is not 32 zero bytes. The
        same ``(l1_tx_hash, log_index)`` again returns the logged deposit if
        recipient and amount match, else ``deposit_conflict``.
        """
        if amount > MAX_DEPOSIT:
            raise AmountOverflowError(
                f"deposit of {amount} utia: the vault takes at most {MAX_DEPOSIT} utia at once"
            )
        if not any(recipient):
            raise AddressError("the zero rollup address: the vault refuses deposits to it")
        tx_hash = os.urandom(32) if l1_tx_hash is None else l1_tx_hash

        def build(block: int) -> bytes:
            return Deposit(
                LOCAL_CHAIN_ID, LOCAL_VAULT, tx_hash, log_index, block, depositor, recipient, amount
            ).to_bytes()

        def same(body: bytes) -> bool:
            logged = Deposit.from_bytes(body)
            return (logged.recipient, logged.amount) == (recipient, amount)

        build(0)  # a bad field fails here, before anything is written
        _, body = self._append(DEPOSIT, tx_hash, log_index, build, same)
        return Deposit.from_bytes(body)

    @_l1_errors
    def append_release(
        self, burn_txid: bytes, *, l1_tx_hash: bytes | None = None, log_index: int = 0
    ) -> WithdrawalConfirmation:
        """Log the vault's release of burn ``burn_txid`` in a new block (a repeat returns it)."""
        tx_hash = os.urandom(32) if l1_tx_hash is None else l1_tx_hash

        def build(block: int) -> bytes:
            return WithdrawalConfirmation(burn_txid, tx_hash, log_index, block).to_bytes()

        def same(body: bytes) -> bool:
            return WithdrawalConfirmation.from_bytes(body).burn_txid == burn_txid

        build(0)
        _, body = self._append(RELEASE, tx_hash, log_index, build, same)
        return WithdrawalConfirmation.from_bytes(body)

    # -- the watcher side ------------------------------------------------------------

    @_l1_errors
    def finalized_height(self) -> int:
        return _head(self._conn())

    @_l1_errors
    def scan(self, from_block: int, to_block: int) -> L1Events:
        rows = self._conn().execute(
            "SELECT block, log_index, tx_hash, kind, body FROM events "
            "WHERE block BETWEEN ? AND ? ORDER BY block, log_index",
            (from_block, to_block),
        )
        deposits: list[Deposit] = []
        releases: list[WithdrawalConfirmation] = []
        skipped: list[SkippedLog] = []
        for block, log_index, tx_hash, kind, body in rows:
            try:
                _typed(block, log_index, tx_hash, body)
                if kind == DEPOSIT:
                    deposit = Deposit.from_bytes(body)
                    deposits.append(_checked(deposit, block, tx_hash, log_index))
                elif kind == RELEASE:
                    release = WithdrawalConfirmation.from_bytes(body)
                    releases.append(_checked(release, block, tx_hash, log_index))
                else:
                    raise EncodingError(f"unknown event kind {str(kind)!r:.40}")
            except EncodingError as exc:
                where = (
                    tx_hash if isinstance(tx_hash, bytes) else bytes(32),
                    log_index if type(log_index) is int else -1,
                    block if type(block) is int else -1,
                )
                skipped.append(SkippedLog(*where, exc.message))
        return L1Events(deposits, releases, to_block, skipped)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _head(conn: sqlite3.Connection) -> int:
    """The last block written; a row whose block is no integer (a stranger's) moves nothing."""
    (head,) = conn.execute(
        "SELECT COALESCE(MAX(block), 0) FROM events WHERE typeof(block) = 'integer'"
    ).fetchone()
    return int(head)


def _typed(block: object, log_index: object, tx_hash: object, body: object) -> None:
    """SQLite keeps any type in any column: a row the appends did not write may hold any."""
    if not (
        type(block) is int
        and type(log_index) is int
        and isinstance(tx_hash, bytes)
        and isinstance(body, bytes)
    ):
        raise EncodingError(
            "a row of the wrong type (block and log_index integers, tx_hash and body blobs)"
        )


E = TypeVar("E", Deposit, WithdrawalConfirmation)


def _checked(event: E, block: int, tx_hash: bytes, log_index: int) -> E:
    """The logged body must describe the row it sits in."""
    if (event.l1_block, event.l1_tx_hash, event.log_index) != (block, tx_hash, log_index):
        raise EncodingError(
            f"the event names {event.l1_tx_hash.hex()}:{event.log_index} in block "
            f"{event.l1_block}; it is logged as {tx_hash.hex()}:{log_index} in block {block}"
        )
    return event
