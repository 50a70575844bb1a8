"""Storages that break one rule of :class:`~fontana.storage.base.Storage` each.

Every class is ``SQLiteStorage`` with one behaviour changed, constructed the same
way: ``Broken(url, settings)``. Most change one session method; the session
class is swapped in by :class:`_BrokenStorage`. :data:`BROKEN_STORAGES` lists them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fontana.config import Settings
from fontana.errors import (
    InputHeldError,
    InputSpentError,
    PaymentInFlightError,
    StorageError,
    UnknownInputError,
)
from fontana.storage.base import (
    MAX_STORED_INT,
    EntryRecord,
    OutPointKey,
    SettlementRecord,
    Spend,
    UtxoRecord,
)
from fontana.storage.sql import SQLSession
from fontana.storage.sqlite import SQLiteStorage

__all__ = ["BROKEN_STORAGES"]

#: Long enough that concurrent writers reliably overlap in the racy windows below.
_RACE_S = 0.05


def _utxo(row: Sequence[object]) -> UtxoRecord:
    txid, index, owner, amount, created, spent_by, spent_seq = row
    return UtxoRecord(
        bytes(txid),  # type: ignore[arg-type]
        int(index),  # type: ignore[call-overload]
        bytes(owner),  # type: ignore[arg-type]
        int(amount),  # type: ignore[call-overload]
        created,  # type: ignore[arg-type]
        None if spent_by is None else bytes(spent_by),  # type: ignore[arg-type]
        spent_seq,  # type: ignore[arg-type]
    )


_UTXO_COLS = "txid, output_index, owner, amount, created_seq, spent_by, spent_seq"


class _BrokenStorage(SQLiteStorage):
    """``SQLiteStorage`` whose sessions are of class ``Session``."""

    Session: ClassVar[type[SQLSession]] = SQLSession

    @contextmanager
    def read(self) -> Iterator[SQLSession]:
        with super().read() as session:
            yield self.Session(session.conn, self)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[SQLSession]:
        with super().write(durable=durable) as session:
            yield self.Session(session.conn, self)


# -- spends -------------------------------------------------------------------------


class _CheckThenUpdateSession(SQLSession):
    """Checks the inputs on committed state, then marks them spent unconditionally."""

    def spend_utxos(self, spends: Sequence[Spend], holds_at_ms: int | None = None) -> None:
        keys = [key for key, _, _ in spends]
        if len(set(keys)) != len(keys):
            raise StorageError("spend_utxos: an outpoint is spent twice in one call")
        with self._storage.read() as committed:  # another connection: no lock taken
            existing = committed.get_utxos(keys)
        missing = [key for key in keys if key not in existing]
        if missing:  # outputs this session created itself
            existing.update(super().get_utxos(missing))
        for txid, index in keys:
            if (txid, index) not in existing:
                raise UnknownInputError(f"input {txid.hex()}:{index} does not exist")
            if existing[(txid, index)].spent_seq is not None:
                raise InputSpentError(f"input {txid.hex()}:{index} is spent already")
        time.sleep(_RACE_S)  # a concurrent spender checks meanwhile
        for (txid, index), by, seq in spends:
            self.conn.execute(
                sa.text(
                    "UPDATE utxos SET spent_by = :by, spent_seq = :seq "
                    "WHERE txid = :txid AND output_index = :index"
                ),
                {"by": by, "seq": seq, "txid": txid, "index": index},
            )


class DoubleSpendUnderConcurrency(_BrokenStorage):
    """Writers do not take the write lock up front, and spends check before they update."""

    Session = _CheckThenUpdateSession

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        """No ``BEGIN IMMEDIATE``: concurrent writers all pass the check."""


class ThreadLockOnly(DoubleSpendUnderConcurrency):
    """Serializes writers with a lock that threads share but processes do not."""

    _lock: ClassVar[threading.Lock] = threading.Lock()

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[SQLSession]:
        with self._lock, super().write(durable=durable) as session:
            yield session


class _PartialSpendSession(SQLSession):
    def spend_utxos(self, spends: Sequence[Spend], holds_at_ms: int | None = None) -> None:
        marked = 0
        for (txid, index), by, seq in spends:
            marked += self.conn.execute(
                sa.text(
                    "UPDATE utxos SET spent_by = :by, spent_seq = :seq "
                    "WHERE txid = :txid AND output_index = :index AND spent_seq IS NULL"
                ),
                {"by": by, "seq": seq, "txid": txid, "index": index},
            ).rowcount
        if marked == 0:
            raise InputSpentError("no input could be spent")


class PartialSpend(_BrokenStorage):
    """Spends the inputs it can and refuses only when none is left: not all-or-nothing."""

    Session = _PartialSpendSession


class CommitsOnError(SQLiteStorage):
    """A write session commits what it did even when it ends with an error."""

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[SQLSession]:
        self._check()
        with self.engine.connect() as conn:
            self._begin_write(conn, durable)
            conn.begin()
            try:
                yield SQLSession(conn, self)
            finally:
                conn.commit()


class MetaLockNoOp(SQLiteStorage):
    """Writers do not take the write lock up front, so ``lock_meta`` holds nothing.

    SQLite may treat ``lock_meta`` as a plain read only because it serializes
    writers; without that, a block could be sealed in the middle of a payment.
    """

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        """No ``BEGIN IMMEDIATE``."""


class NoBusyWait(SQLiteStorage):
    """A writer that finds the database locked fails at once instead of queueing."""

    def __init__(self, url: str, settings: Settings) -> None:
        super().__init__(url, settings)

        @sa.event.listens_for(self.engine, "connect")
        def _no_wait(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=0")


# -- UTXO reads ---------------------------------------------------------------------


class _TxidOnlySession(SQLSession):
    def get_utxos(self, keys: Sequence[OutPointKey]) -> dict[OutPointKey, UtxoRecord]:
        found = {}
        for txid, index in keys:
            row = self.conn.execute(
                sa.text(f"SELECT {_UTXO_COLS} FROM utxos WHERE txid = :txid LIMIT 1"),
                {"txid": txid},
            ).first()
            if row is not None:
                found[(txid, index)] = _utxo(tuple(row))
        return found


class GetUtxosIgnoresIndex(_BrokenStorage):
    """``get_utxos`` matches the txid only: any output index finds the first output."""

    Session = _TxidOnlySession


class _CountsSpentSession(SQLSession):
    def balance(self, owner: bytes) -> int:
        total = self.conn.execute(
            sa.text("SELECT COALESCE(SUM(amount), 0) FROM utxos WHERE owner = :owner"),
            {"owner": owner},
        ).scalar()
        return int(total or 0)


class BalanceCountsSpent(_BrokenStorage):
    """``balance`` adds spent outputs too."""

    Session = _CountsSpentSession


class _IgnoresDuplicateOutputsSession(SQLSession):
    def insert_utxos(self, utxos: Sequence[UtxoRecord]) -> None:
        for u in utxos:
            self.conn.execute(
                sa.text(
                    "INSERT INTO utxos (txid, output_index, owner, amount, created_seq) "
                    "VALUES (:t, :i, :o, :a, :c) ON CONFLICT DO NOTHING"
                ),
                {"t": u.txid, "i": u.output_index, "o": u.owner, "a": u.amount, "c": u.created_seq},
            )


class NoDuplicateErrorForOutputs(_BrokenStorage):
    """An output that exists already is silently skipped instead of ``DuplicateError``."""

    Session = _IgnoresDuplicateOutputsSession


class _OverwritingMetaSession(SQLSession):
    def insert_meta(self, key: str, value: str) -> None:
        self.set_meta(key, value)


class InsertMetaOverwrites(_BrokenStorage):
    """``insert_meta`` overwrites an existing key: a second genesis would replace the first."""

    Session = _OverwritingMetaSession


# -- entries ------------------------------------------------------------------------


class _SortedInsertSession(SQLSession):
    def insert_entries(self, entries: Sequence[EntryRecord]) -> list[int]:
        by_id = {}
        for e in sorted(entries, key=lambda e: e.entry_id):
            by_id[e.entry_id] = super().insert_entries([e])[0]
        return [by_id[e.entry_id] for e in entries]


class InsertEntriesOutOfOrder(_BrokenStorage):
    """``insert_entries`` numbers a batch in id order, not in the order given."""

    Session = _SortedInsertSession


class _UnsealedByIdSession(SQLSession):
    def unsealed_entries(self, limit: int) -> list[EntryRecord]:
        ids = self.conn.execute(
            sa.text(
                "SELECT entry_id FROM entries WHERE block_height IS NULL "
                "ORDER BY entry_id LIMIT :limit"
            ),
            {"limit": limit},
        ).scalars()
        found = self.get_entries([bytes(i) for i in ids])
        return sorted(found.values(), key=lambda e: e.entry_id)


class UnsealedEntriesOutOfOrder(_BrokenStorage):
    """``unsealed_entries`` comes back in id order instead of sequence order."""

    Session = _UnsealedByIdSession


class _ResealingSession(SQLSession):
    def seal_entries(self, height: int, entry_ids: Sequence[bytes]) -> None:
        for index, entry_id in enumerate(entry_ids):
            self.conn.execute(
                sa.text(
                    "UPDATE entries SET block_height = :h, block_index = :i WHERE entry_id = :e"
                ),
                {"h": height, "i": index, "e": entry_id},
            )


class SealsAnyEntry(_BrokenStorage):
    """``seal_entries`` moves sealed entries into another block and ignores unknown ones."""

    Session = _ResealingSession


# -- blocks and bridge ----------------------------------------------------------------


class _AllBlocksSession(SQLSession):
    def uncommitted_blocks(self, limit: int) -> list:  # type: ignore[type-arg]
        return [b for h in range(limit) if (b := self.get_block(h)) is not None]


class UncommittedListsCommitted(_BrokenStorage):
    """``uncommitted_blocks`` returns blocks the poster has already put on DA."""

    Session = _AllBlocksSession


class _SilentCommitSession(SQLSession):
    def mark_committed(self, height: int, da_height: int, da_commitment: bytes) -> None:
        self.conn.execute(
            sa.text(
                "UPDATE blocks SET committed = 1, da_height = :d, da_commitment = :c "
                "WHERE height = :h"
            ),
            {"d": da_height, "c": da_commitment, "h": height},
        )


class MarkCommittedUnknownBlock(_BrokenStorage):
    """``mark_committed`` of a block that does not exist succeeds silently."""

    Session = _SilentCommitSession


class _DepositAlwaysNewSession(SQLSession):
    def insert_deposit(self, deposit: object) -> bool:
        super().insert_deposit(deposit)  # type: ignore[arg-type]
        return True


class DepositRecordedTwice(_BrokenStorage):
    """``insert_deposit`` reports a replayed L1 event as new: it would be credited twice."""

    Session = _DepositAlwaysNewSession


class NewerSchemaAccepted(SQLiteStorage):
    """Opens a database written by a newer schema instead of refusing it."""

    def _check(self) -> None:
        if self.schema_version() is None:
            super()._check()


# -- tree nodes ---------------------------------------------------------------------


class _PruneSession(SQLSession):
    #: Added to ``keep_from_version`` for the node rule and for the root rule.
    node_shift = 0
    root_shift = 0

    def prune_tree(self, keep_from_version: int) -> int:
        nodes = keep_from_version + self.node_shift
        roots = keep_from_version + self.root_shift
        doomed = "SELECT node_key FROM tree_stale WHERE stale_since <= :v"
        deleted = self.conn.execute(
            sa.text(f"DELETE FROM tree_nodes WHERE node_key IN ({doomed})"), {"v": nodes}
        ).rowcount
        self.conn.execute(sa.text("DELETE FROM tree_stale WHERE stale_since <= :v"), {"v": nodes})
        self.conn.execute(sa.text("DELETE FROM tree_roots WHERE version < :v"), {"v": roots})
        return int(deleted)


class _PruneLiveNodesSession(_PruneSession):
    node_shift = 1


class _PruneKeptRootSession(_PruneSession):
    root_shift = 1


class _PruneTooLittleSession(_PruneSession):
    node_shift = -1


class PruneDeletesLiveNodes(_BrokenStorage):
    """Pruning also deletes nodes still reachable from the oldest kept version."""

    Session = _PruneLiveNodesSession


class PruneDeletesKeptRoot(_BrokenStorage):
    """Pruning deletes the root of ``keep_from_version`` itself."""

    Session = _PruneKeptRootSession


class PruneKeepsDeadNodes(_BrokenStorage):
    """Pruning leaves the nodes that went stale exactly at ``keep_from_version``."""

    Session = _PruneTooLittleSession


# -- holds and settlements ------------------------------------------------------------


class _SpendIgnoresHoldsSession(SQLSession):
    def spend_utxos(self, spends: Sequence[Spend], holds_at_ms: int | None = None) -> None:
        super().spend_utxos(spends)


class SpendIgnoresHolds(_BrokenStorage):
    """A spend takes inputs that another payment holds: a paid call's settle would fail."""

    Session = _SpendIgnoresHoldsSession


class _HoldOverwritesSession(SQLSession):
    def hold_utxos(
        self, keys: Sequence[OutPointKey], holder: bytes, until_ms: int, now_ms: int
    ) -> None:
        super().hold_utxos(keys, holder, until_ms, MAX_STORED_INT)  # every hold looks expired


class HoldOverwritesLiveHolds(_BrokenStorage):
    """A hold replaces another payment's live hold instead of refusing it."""

    Session = _HoldOverwritesSession


class _HoldCheckThenUpdateSession(_HoldOverwritesSession):
    def hold_utxos(
        self, keys: Sequence[OutPointKey], holder: bytes, until_ms: int, now_ms: int
    ) -> None:
        with self._storage.read() as committed:  # another connection: no lock taken
            existing = committed.get_utxos(keys)
        for record in existing.values():
            if record.held_until_ms is not None and record.held_until_ms > now_ms:
                if record.held_by == holder:
                    raise PaymentInFlightError("the payment is held already")
                raise InputHeldError("an input is held")
        time.sleep(_RACE_S)  # a concurrent holder checks meanwhile
        super().hold_utxos(keys, holder, until_ms, now_ms)


class HoldRacesUnderConcurrency(_BrokenStorage):
    """Writers do not take the write lock up front, and holds check before they update."""

    Session = _HoldCheckThenUpdateSession

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        """No ``BEGIN IMMEDIATE``: concurrent holders all pass the check."""


class _HoldsHiddenSession(SQLSession):
    def get_utxos(self, keys: Sequence[OutPointKey]) -> dict[OutPointKey, UtxoRecord]:
        return {
            key: attrs.evolve(record, held_by=None, held_until_ms=None)
            for key, record in super().get_utxos(keys).items()
        }


class UtxoReadsWithoutHolds(_BrokenStorage):
    """``get_utxos`` leaves the holds out: the payment path cannot see them."""

    Session = _HoldsHiddenSession


class _SettlesTwiceSession(SQLSession):
    def insert_settlements(self, settlements: Sequence[SettlementRecord]) -> None:
        for record in settlements:
            if not self.get_settlements([record.txid]):
                super().insert_settlements([record])


class SettlementRecordedTwice(_BrokenStorage):
    """A second settlement of a payment is silently dropped instead of ``DuplicateError``."""

    Session = _SettlesTwiceSession


#: Every broken storage, by the name its tests are reported under.
BROKEN_STORAGES: dict[str, type[SQLiteStorage]] = {
    cls.__name__: cls
    for cls in (
        DoubleSpendUnderConcurrency,
        ThreadLockOnly,
        PartialSpend,
        CommitsOnError,
        MetaLockNoOp,
        NoBusyWait,
        GetUtxosIgnoresIndex,
        BalanceCountsSpent,
        NoDuplicateErrorForOutputs,
        InsertMetaOverwrites,
        InsertEntriesOutOfOrder,
        UnsealedEntriesOutOfOrder,
        SealsAnyEntry,
        UncommittedListsCommitted,
        MarkCommittedUnknownBlock,
        DepositRecordedTwice,
        NewerSchemaAccepted,
        PruneDeletesLiveNodes,
        PruneDeletesKeptRoot,
        PruneKeepsDeadNodes,
        SpendIgnoresHolds,
        HoldOverwritesLiveHolds,
        HoldRacesUnderConcurrency,
        UtxoReadsWithoutHolds,
        SettlementRecordedTwice,
    )
}
