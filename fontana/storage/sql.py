"""The storage contract on SQLAlchemy 2 Core, shared by the SQL backends.

A backend subclass supplies the engine (connection settings, pragmas, how a
write transaction begins) and the dialect's ``INSERT ... ON CONFLICT DO
NOTHING``; everything else is here, so SQLite and PostgreSQL behave alike.

Double spends are stopped by a conditional ``UPDATE ... WHERE spent_seq IS
NULL`` whose row count must equal the number of inputs: on PostgreSQL
concurrent spenders of one row queue on its row lock and all but the first
see it spent, while spends of unrelated UTXOs never wait for each other.
Holds of paid calls live on the same row and follow the same rule: a hold is
a conditional ``UPDATE`` refusing a row spent or held live by another, and a
spend's ``UPDATE`` also requires that no other payment holds the row live.

No shared row is read and then written back from Python: counters change
in one conditional ``UPDATE ... SET value = value + ?``, meta values are
written by an upsert, and every other shared row is either inserted once
(its key refuses a second insert) or changed by a conditional ``UPDATE``.
Rows whose value must stay put between a read and a write (the epoch and
the sequencer lease) are read with ``lock_meta``, which locks them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fontana.clock import now_ms
from fontana.errors import (
    DuplicateError,
    InputSpentError,
    NotInitializedError,
    OutOfRangeError,
    PaymentInFlightError,
    SchemaVersionError,
    StorageError,
    StorageUnavailableError,
    UnknownInputError,
)
from fontana.storage import schema as t
from fontana.storage.base import (
    MAX_STORED_INT,
    SCHEMA_VERSION,
    BlockRecord,
    DASubmissionRecord,
    DepositRecord,
    EntryRecord,
    OutPointKey,
    ReceiptRecord,
    SettlementRecord,
    Spend,
    UtxoRecord,
    WithdrawalJobRecord,
    WithdrawalRecord,
    held_error,
    iter_batches,
)

#: Rows per statement; keeps far below SQLite's 32766 bound parameters.
_BATCH = 500

#: The meta row holding the schema version.
SCHEMA_KEY = "schema_version"

_ENTRY_COLS = "entry_id, entry_type, body, fee, applied_at_ms, seq, block_height, block_index"
_UTXO_COLS = (
    "txid, output_index, owner, amount, created_seq, spent_by, spent_seq, held_by, held_until_ms"
)
_RECEIPT_COLS = "receipt_id, txid, payer, payee, amount, body, issued_at_ms"


def _entry_row(row: Any) -> EntryRecord:
    """An ``EntryRecord`` from a DBAPI row of ``_ENTRY_COLS``."""
    return EntryRecord(
        bytes(row[0]), row[1], bytes(row[2]), int(row[3]), row[4], row[5], row[6], row[7]
    )


def _utxo_row(row: Any) -> UtxoRecord:
    """A ``UtxoRecord`` from a DBAPI row of ``_UTXO_COLS``."""
    return UtxoRecord(
        bytes(row[0]),
        row[1],
        bytes(row[2]),
        int(row[3]),
        row[4],
        None if row[5] is None else bytes(row[5]),
        row[6],
        None if row[7] is None else bytes(row[7]),
        row[8],
    )


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _stored(value: int | None, what: str) -> int | None:
    """``value`` if a column can hold it; ``OutOfRangeError`` naming the field otherwise.

    Checked where values from outside (headers, L1 events, DA references)
    reach a column, so a u64 beyond 2**63 - 1 is a typed refusal, never a
    driver's ``OverflowError`` or ``DataError``.
    """
    if value is not None and not 0 <= value <= MAX_STORED_INT:
        raise OutOfRangeError(f"{what} = {value} is outside what the ledger stores (0..2^63-1)")
    return value


def _version_error(url: str, version: int) -> SchemaVersionError:
    if version > SCHEMA_VERSION:
        return SchemaVersionError(
            f"{url}: schema version {version} is newer than this Fontana understands "
            f"({SCHEMA_VERSION}); upgrade Fontana"
        )
    return SchemaVersionError(
        f"{url}: schema version {version} was written by an older Fontana; this one "
        f"(schema {SCHEMA_VERSION}) does not migrate databases before its first release; "
        "start a new chain on a new database with `fontana genesis`"
    )


def _block(row: Any) -> BlockRecord:
    return BlockRecord(
        height=row.height,
        hash=row.hash,
        prev_hash=row.prev_hash,
        header=row.header,
        state_root=row.state_root,
        tx_root=row.tx_root,
        tx_count=row.tx_count,
        timestamp_ms=row.timestamp_ms,
        committed=bool(row.committed),
        da_height=row.da_height,
        da_commitment=row.da_commitment,
    )


def _row_to(cls: type, row: Any) -> Any:
    return cls(**dict(row._mapping))


def _job_values(job: WithdrawalJobRecord) -> dict[str, Any]:
    values = attrs.asdict(job)
    for name in ("burn_height", "checkpoint_height", "l1_block", "log_index", "updated_at_ms"):
        values[name] = _stored(values[name], f"withdrawal job {name}")
    return values


def _job_row(row: Any) -> WithdrawalJobRecord:
    data = dict(row._mapping)
    for name in ("burn_txid", "state_root", "signatures", "proof", "raw_tx", "l1_tx_hash"):
        data[name] = _bytes(data[name])
    return WithdrawalJobRecord(**data)


class SQLSession:
    """One database transaction; see :class:`fontana.storage.base.StorageSession`."""

    def __init__(self, conn: Connection, storage: SQLStorage) -> None:
        self.conn = conn
        self._storage = storage
        self._cursor: Any = None

    # The payment path (meta lock, UTXO reads, entry and UTXO writes) talks to
    # the DBAPI cursor directly: SQLAlchemy's per-statement overhead is several
    # times the cost of the statement itself there. Other methods use Core.

    def _raw(self) -> Any:
        if self._cursor is None:
            self._cursor = self.conn.connection.cursor()
        return self._cursor

    def _sql(self, sql: str) -> str:
        return self._storage.raw_sql(sql)

    # -- metadata

    def get_meta(self, key: str) -> str | None:
        return self.conn.scalar(sa.select(t.meta.c.value).where(t.meta.c.key == key))

    def set_meta(self, key: str, value: str) -> None:
        # One upsert: two sessions creating the same key never collide.
        self._raw().execute(
            self._sql(
                "INSERT INTO fontana_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            (key, value),
        )

    def lock_meta(self, key: str, *, exclusive: bool) -> str | None:
        cur = self._raw()
        lock = self._storage.lock_clause(exclusive)
        cur.execute(self._sql(f"SELECT value FROM fontana_meta WHERE key = ?{lock}"), (key,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

    def insert_meta(self, key: str, value: str) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(t.meta.insert().values(key=key, value=value))
        except sa.exc.IntegrityError:
            raise DuplicateError(f"meta key {key!r} exists already") from None

    # -- counters

    def set_counter(self, name: str, value: int) -> None:
        _stored(value, f"counter {name}")
        self._raw().execute(
            self._sql(
                "INSERT INTO fontana_counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            ),
            (name, value),
        )

    def get_counter(self, name: str) -> int | None:
        cur = self._raw()
        cur.execute(self._sql("SELECT value FROM fontana_counters WHERE name = ?"), (name,))
        row = cur.fetchone()
        return None if row is None else int(row[0])

    def add_to_counter(self, name: str, delta: int, maximum: int) -> int | None:
        # The bounds are moved to the old value, computed here, so the database
        # never evaluates a sum that could overflow its integers.
        low, high = max(0, -delta), min(maximum, MAX_STORED_INT) - max(0, delta)
        if low <= high:
            cur = self._raw()
            cur.execute(
                self._sql(
                    "UPDATE fontana_counters SET value = value + ? "
                    "WHERE name = ? AND value >= ? AND value <= ? RETURNING value"
                ),
                (delta, name, low, high),
            )
            row = cur.fetchone()
            if row is not None:
                return int(row[0])
        if self.get_counter(name) is None:
            raise StorageError(f"no counter {name!r}")
        return None

    # -- entries

    def insert_entry(self, entry: EntryRecord) -> int:
        return self.insert_entries([entry])[0]

    def insert_entries(self, entries: Sequence[EntryRecord]) -> list[int]:
        cur = self._raw()
        now = now_ms()
        seqs: list[int] = []
        for start in range(0, len(entries), _BATCH):
            chunk = entries[start : start + _BATCH]
            rows = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
            cur.execute(
                self._sql(
                    "INSERT INTO entries (entry_id, entry_type, body, fee, applied_at_ms) "
                    f"VALUES {rows} ON CONFLICT DO NOTHING RETURNING entry_id, seq"
                ),
                [
                    v
                    for e in chunk
                    for v in (e.entry_id, int(e.entry_type), e.body, e.fee, e.applied_at_ms or now)
                ],
            )
            assigned = {bytes(eid): int(seq) for eid, seq in cur.fetchall()}
            for e in chunk:
                if e.entry_id not in assigned:
                    raise DuplicateError(f"entry {e.entry_id.hex()} exists already")
                seqs.append(assigned[e.entry_id])
        if any(a >= b for a, b in itertools.pairwise(seqs)):
            # Sealing orders entries by sequence number, so the order is the contract.
            raise StorageError("the backend numbered a batch of entries out of order")
        return seqs

    def get_entry(self, entry_id: bytes) -> EntryRecord | None:
        cur = self._raw()
        cur.execute(self._sql(f"SELECT {_ENTRY_COLS} FROM entries WHERE entry_id = ?"), (entry_id,))
        row = cur.fetchone()
        return None if row is None else _entry_row(row)

    def get_entries(self, entry_ids: Sequence[bytes]) -> dict[bytes, EntryRecord]:
        cur = self._raw()
        found: dict[bytes, EntryRecord] = {}
        for start in range(0, len(entry_ids), _BATCH):
            chunk = entry_ids[start : start + _BATCH]
            marks = ", ".join(["?"] * len(chunk))
            cur.execute(
                self._sql(f"SELECT {_ENTRY_COLS} FROM entries WHERE entry_id IN ({marks})"),
                list(chunk),
            )
            for row in cur.fetchall():
                record = _entry_row(row)
                found[record.entry_id] = record
        return found

    def unsealed_entries(self, limit: int) -> list[EntryRecord]:
        cur = self._raw()
        cur.execute(
            self._sql(
                f"SELECT {_ENTRY_COLS} FROM entries WHERE block_height IS NULL ORDER BY seq LIMIT ?"
            ),
            (limit,),
        )
        return [_entry_row(r) for r in cur.fetchall()]

    def seal_entries(self, height: int, entry_ids: Sequence[bytes]) -> None:
        if not entry_ids:
            return
        stmt = (
            t.entries.update()
            .where(t.entries.c.entry_id == sa.bindparam("b_id"))
            .where(t.entries.c.block_height.is_(None))
            .values(block_height=height, block_index=sa.bindparam("b_index"))
        )
        params = [{"b_id": eid, "b_index": i} for i, eid in enumerate(entry_ids)]
        self.conn.execute(stmt, params)
        sealed = self.conn.scalar(
            sa.select(sa.func.count()).where(t.entries.c.block_height == height)
        )
        if sealed != len(entry_ids):
            raise StorageError(
                f"block {height}: sealed {sealed} of {len(entry_ids)} entries "
                "(unknown or already sealed entries)"
            )

    def entries_in_block(self, height: int) -> list[EntryRecord]:
        cur = self._raw()
        cur.execute(
            self._sql(
                f"SELECT {_ENTRY_COLS} FROM entries WHERE block_height = ? ORDER BY block_index"
            ),
            (height,),
        )
        return [_entry_row(r) for r in cur.fetchall()]

    def entry_block_height(self, seq: int) -> int | None:
        return self.conn.scalar(sa.select(t.entries.c.block_height).where(t.entries.c.seq == seq))

    # -- UTXO set

    def insert_utxos(self, utxos: Sequence[UtxoRecord]) -> None:
        cur = self._raw()
        for start in range(0, len(utxos), _BATCH):
            chunk = utxos[start : start + _BATCH]
            rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            cur.execute(
                self._sql(
                    "INSERT INTO utxos (txid, output_index, owner, amount, created_seq, spent_by, "
                    f"spent_seq) VALUES {rows} ON CONFLICT DO NOTHING"
                ),
                [
                    v
                    for u in chunk
                    for v in (
                        u.txid,
                        u.output_index,
                        u.owner,
                        u.amount,
                        u.created_seq,
                        u.spent_by,
                        u.spent_seq,
                    )
                ],
            )
            if cur.rowcount != len(chunk):
                raise DuplicateError("an output exists already")

    def get_utxos(self, keys: Sequence[OutPointKey]) -> dict[OutPointKey, UtxoRecord]:
        found: dict[OutPointKey, UtxoRecord] = {}
        cur = self._raw()
        for batch in iter_batches(keys, _BATCH):
            pairs = ", ".join(["(?, ?)"] * len(batch))
            cur.execute(
                self._sql(
                    f"SELECT {_UTXO_COLS} FROM utxos WHERE (txid, output_index) IN (VALUES {pairs})"
                ),
                [v for key in batch for v in key],
            )
            for row in cur.fetchall():
                record = _utxo_row(row)
                found[record.key] = record
        return found

    def spend_utxos(self, spends: Sequence[Spend], holds_at_ms: int | None = None) -> None:
        keys = [key for key, _, _ in spends]
        if len(set(keys)) != len(keys):
            raise StorageError("spend_utxos: an outpoint is spent twice in one call")
        # Sorted so concurrent multi-input spends lock rows in one global order.
        ordered = sorted(spends)
        # Ignoring holds is judging them at the end of time: every hold has expired.
        at = MAX_STORED_INT if holds_at_ms is None else min(holds_at_ms, MAX_STORED_INT)
        cur = self._raw()
        cur.executemany(
            self._sql(
                "UPDATE utxos SET spent_by = ?, spent_seq = ?, held_by = NULL, "
                "held_until_ms = NULL WHERE txid = ? AND output_index = ? "
                "AND spent_seq IS NULL AND (held_by IS NULL OR held_by = ? OR held_until_ms <= ?)"
            ),
            [(by, seq, key[0], key[1], by, at) for key, by, seq in ordered],
        )
        if cur.rowcount == len(spends):
            return
        wanted = {key: seq for key, _, seq in ordered}
        existing = self.get_utxos(sorted(wanted))
        for key in sorted(wanted):
            if key not in existing:
                raise UnknownInputError(f"input {key[0].hex()}:{key[1]} does not exist")
        refused = next(existing[k] for k in sorted(wanted) if existing[k].spent_seq != wanted[k])
        if refused.spent_seq is None:  # left unspent by the UPDATE: a live hold
            raise held_error(refused)
        raise InputSpentError(f"input {refused.txid.hex()}:{refused.output_index} is spent already")

    def hold_utxos(
        self, keys: Sequence[OutPointKey], holder: bytes, until_ms: int, now_ms: int
    ) -> None:
        if len(set(keys)) != len(keys):
            raise StorageError("hold_utxos: an outpoint is held twice in one call")
        _stored(until_ms, "hold until_ms")
        now = min(now_ms, MAX_STORED_INT)
        ordered = sorted(keys)  # one global lock order, as for spends
        cur = self._raw()
        cur.executemany(
            self._sql(
                "UPDATE utxos SET held_by = ?, held_until_ms = ? "
                "WHERE txid = ? AND output_index = ? AND spent_seq IS NULL "
                "AND (held_by IS NULL OR held_until_ms <= ?)"
            ),
            [(holder, until_ms, txid, index, now) for txid, index in ordered],
        )
        if cur.rowcount == len(keys):
            return
        existing = self.get_utxos(ordered)
        for key in ordered:
            record = existing.get(key)
            if record is None:
                raise UnknownInputError(f"input {key[0].hex()}:{key[1]} does not exist")
            if record.spent_seq is not None:
                raise InputSpentError(f"input {key[0].hex()}:{key[1]} is spent already")
            if record.held_by != holder:  # not held by this call, so held live by another
                raise held_error(record)
        raise PaymentInFlightError(f"payment {holder.hex()} is held already (in flight)")

    def release_holds(self, holder: bytes, now_ms: int) -> bool:
        # RETURNING gives the new (cleared) values, so live and expired holds are
        # cleared apart: the first count is the answer.
        cur = self._raw()
        clear = "UPDATE utxos SET held_by = NULL, held_until_ms = NULL WHERE held_by = ?"
        cur.execute(
            self._sql(clear + " AND held_until_ms > ?"), (holder, min(now_ms, MAX_STORED_INT))
        )
        live = cur.rowcount > 0
        cur.execute(self._sql(clear), (holder,))
        return live

    def unspent_by_owner(self, owner: bytes, limit: int | None = None) -> list[UtxoRecord]:
        cur = self._raw()
        sql = (
            f"SELECT {_UTXO_COLS} FROM utxos WHERE owner = ? AND spent_seq IS NULL "
            "ORDER BY created_seq, txid, output_index"
        )
        if limit is None:
            cur.execute(self._sql(sql), (owner,))
        else:
            cur.execute(self._sql(sql + " LIMIT ?"), (owner, limit))
        return [_utxo_row(r) for r in cur.fetchall()]

    def balance(self, owner: bytes) -> int:
        total = self.conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(t.utxos.c.amount), 0)).where(
                t.utxos.c.owner == owner, t.utxos.c.spent_seq.is_(None)
            )
        )
        return int(total)  # PostgreSQL sums bigint as numeric (Decimal): exact, made int

    # -- blocks

    def insert_block(self, block: BlockRecord) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    t.blocks.insert().values(
                        height=_stored(block.height, "block height"),
                        hash=block.hash,
                        prev_hash=block.prev_hash,
                        header=block.header,
                        state_root=block.state_root,
                        tx_root=block.tx_root,
                        tx_count=_stored(block.tx_count, "block tx_count"),
                        timestamp_ms=_stored(block.timestamp_ms, "block timestamp_ms"),
                        committed=block.committed,
                        da_height=_stored(block.da_height, "DA height"),
                        da_commitment=block.da_commitment,
                    )
                )
        except sa.exc.IntegrityError:
            raise DuplicateError(f"block {block.height} exists already") from None

    def get_block(self, height: int) -> BlockRecord | None:
        if not 0 <= height <= MAX_STORED_INT:  # no such block, and no driver overflow
            return None
        row = self.conn.execute(sa.select(t.blocks).where(t.blocks.c.height == height)).first()
        return _block(row) if row else None

    def latest_block(self) -> BlockRecord | None:
        row = self.conn.execute(
            sa.select(t.blocks).order_by(t.blocks.c.height.desc()).limit(1)
        ).first()
        return _block(row) if row else None

    def uncommitted_blocks(self, limit: int) -> list[BlockRecord]:
        rows = self.conn.execute(
            sa.select(t.blocks)
            .where(t.blocks.c.committed == sa.false())
            .order_by(t.blocks.c.height)
            .limit(limit)
        )
        return [_block(r) for r in rows]

    def mark_committed(self, height: int, da_height: int, da_commitment: bytes) -> None:
        result = self.conn.execute(
            t.blocks.update()
            .where(t.blocks.c.height == height)
            .values(
                committed=True,
                da_height=_stored(da_height, "DA height"),
                da_commitment=da_commitment,
            )
        )
        if result.rowcount != 1:
            raise StorageError(f"cannot mark block {height} committed: no such block")

    # -- bridge

    def insert_deposit(self, deposit: DepositRecord) -> bool:
        result = self.conn.execute(
            self._storage.insert_ignore(t.deposits)
            .values(
                l1_tx_hash=deposit.l1_tx_hash,
                log_index=_stored(deposit.log_index, "deposit log_index"),
                entry_id=deposit.entry_id,
                recipient=deposit.recipient,
                amount=_stored(deposit.amount, "deposit amount"),
                l1_block=_stored(deposit.l1_block, "deposit l1_block"),
            )
            .returning(t.deposits.c.entry_id)
        )
        return result.first() is not None

    def get_deposit(self, l1_tx_hash: bytes, log_index: int) -> DepositRecord | None:
        if not 0 <= log_index <= MAX_STORED_INT:
            return None
        row = self.conn.execute(
            sa.select(t.deposits).where(
                t.deposits.c.l1_tx_hash == l1_tx_hash, t.deposits.c.log_index == log_index
            )
        ).first()
        return _row_to(DepositRecord, row) if row else None

    def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    t.withdrawals.insert().values(
                        burn_txid=withdrawal.burn_txid,
                        l1_recipient=withdrawal.l1_recipient,
                        amount=_stored(withdrawal.amount, "withdrawal amount"),
                        status=withdrawal.status,
                        l1_tx_hash=withdrawal.l1_tx_hash,
                        confirm_entry_id=withdrawal.confirm_entry_id,
                    )
                )
        except sa.exc.IntegrityError:
            raise DuplicateError(f"withdrawal {withdrawal.burn_txid.hex()} exists") from None

    def confirm_withdrawal(
        self, burn_txid: bytes, l1_tx_hash: bytes, confirm_entry_id: bytes
    ) -> bool:
        result = self.conn.execute(
            t.withdrawals.update()
            .where(t.withdrawals.c.burn_txid == burn_txid, t.withdrawals.c.status == "pending")
            .values(status="confirmed", l1_tx_hash=l1_tx_hash, confirm_entry_id=confirm_entry_id)
        )
        if result.rowcount == 1:
            return True
        if self.get_withdrawal(burn_txid) is None:
            raise KeyError(f"no withdrawal for burn {burn_txid.hex()}")
        return False

    def get_withdrawal(self, burn_txid: bytes) -> WithdrawalRecord | None:
        row = self.conn.execute(
            sa.select(t.withdrawals).where(t.withdrawals.c.burn_txid == burn_txid)
        ).first()
        return _row_to(WithdrawalRecord, row) if row else None

    # -- the withdrawal processor's jobs

    def withdrawals_on_da(self, limit: int) -> list[tuple[bytes, int]]:
        w, e, b, j = t.withdrawals, t.entries, t.blocks, t.withdrawal_jobs
        rows = self.conn.execute(
            sa.select(w.c.burn_txid, e.c.block_height)
            .join(e, e.c.entry_id == w.c.burn_txid)
            .join(b, b.c.height == e.c.block_height)
            .where(
                b.c.committed.is_(True),
                ~sa.exists().where(j.c.burn_txid == w.c.burn_txid),
            )
            .order_by(e.c.block_height, e.c.block_index)
            .limit(limit)
        ).all()
        return [(bytes(r[0]), int(r[1])) for r in rows]

    def insert_withdrawal_job(self, job: WithdrawalJobRecord) -> bool:
        result = self.conn.execute(
            self._storage.insert_ignore(t.withdrawal_jobs)
            .values(**_job_values(job))
            .returning(t.withdrawal_jobs.c.burn_txid)
        )
        return result.first() is not None

    def advance_withdrawal_job(self, job: WithdrawalJobRecord, from_state: str) -> bool:
        j = t.withdrawal_jobs
        values = _job_values(job)
        del values["burn_txid"]
        result = self.conn.execute(
            j.update().where(j.c.burn_txid == job.burn_txid, j.c.state == from_state).values(values)
        )
        return result.rowcount == 1

    def get_withdrawal_job(self, burn_txid: bytes) -> WithdrawalJobRecord | None:
        j = t.withdrawal_jobs
        row = self.conn.execute(sa.select(j).where(j.c.burn_txid == burn_txid)).first()
        return _job_row(row) if row else None

    def withdrawal_jobs(self, states: Sequence[str], limit: int) -> list[WithdrawalJobRecord]:
        j = t.withdrawal_jobs
        rows = self.conn.execute(
            sa.select(j)
            .where(j.c.state.in_(list(states)))
            .order_by(j.c.burn_height, j.c.burn_txid)
            .limit(limit)
        ).all()
        return [_job_row(r) for r in rows]

    # -- receipts

    def insert_receipt(self, receipt: ReceiptRecord) -> bool:
        result = self.conn.execute(
            self._storage.insert_ignore(t.receipts)
            .values(
                receipt_id=receipt.receipt_id,
                txid=receipt.txid,
                payer=receipt.payer,
                payee=receipt.payee,
                amount=_stored(receipt.amount, "receipt amount"),
                body=receipt.body,
                issued_at_ms=_stored(receipt.issued_at_ms, "receipt issued_at_ms"),
            )
            .returning(t.receipts.c.receipt_id)
        )
        return result.first() is not None

    def get_receipt(self, receipt_id: bytes) -> ReceiptRecord | None:
        row = self.conn.execute(
            sa.select(t.receipts).where(t.receipts.c.receipt_id == receipt_id)
        ).first()
        return _row_to(ReceiptRecord, row) if row else None

    def receipts_for(self, txid: bytes) -> list[ReceiptRecord]:
        rows = self.conn.execute(
            sa.select(t.receipts)
            .where(t.receipts.c.txid == txid)
            .order_by(t.receipts.c.issued_at_ms)
        )
        return [_row_to(ReceiptRecord, r) for r in rows]

    # -- settled paid calls

    def insert_settlements(self, settlements: Sequence[SettlementRecord]) -> None:
        if len({r.txid for r in settlements}) != len(settlements):
            raise StorageError("insert_settlements: a txid is settled twice in one call")
        cur = self._raw()
        for start in range(0, len(settlements), _BATCH):
            chunk = settlements[start : start + _BATCH]
            receipts = [r.receipt for r in chunk]
            cur.execute(
                self._sql(
                    f"INSERT INTO receipts ({_RECEIPT_COLS}) VALUES "
                    f"{', '.join(['(?, ?, ?, ?, ?, ?, ?)'] * len(receipts))} ON CONFLICT DO NOTHING"
                ),
                [
                    v
                    for r in receipts
                    for v in (
                        r.receipt_id,
                        r.txid,
                        r.payer,
                        r.payee,
                        _stored(r.amount, "receipt amount"),
                        r.body,
                        _stored(r.issued_at_ms, "receipt issued_at_ms"),
                    )
                ],
            )
            cur.execute(
                self._sql(
                    "INSERT INTO settlements (txid, receipt_id, status, content_type, body) "
                    f"VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(chunk))} ON CONFLICT DO NOTHING"
                ),
                [
                    v
                    for r in chunk
                    for v in (
                        r.txid,
                        r.receipt.receipt_id,
                        _stored(r.status, "response status"),
                        r.content_type,
                        r.body,
                    )
                ],
            )
            if cur.rowcount != len(chunk):
                raise DuplicateError("a payment is settled already")

    def get_settlements(self, txids: Sequence[bytes]) -> dict[bytes, SettlementRecord]:
        cur = self._raw()
        found: dict[bytes, SettlementRecord] = {}
        receipt_cols = ", ".join(f"r.{c}" for c in _RECEIPT_COLS.split(", "))
        for start in range(0, len(txids), _BATCH):
            chunk = txids[start : start + _BATCH]
            cur.execute(
                self._sql(
                    f"SELECT s.txid, s.status, s.content_type, s.body, {receipt_cols} "
                    "FROM settlements s JOIN receipts r ON r.receipt_id = s.receipt_id "
                    f"WHERE s.txid IN ({', '.join(['?'] * len(chunk))})"
                ),
                list(chunk),
            )
            for row in cur.fetchall():
                receipt = ReceiptRecord(
                    bytes(row[4]),
                    bytes(row[5]),
                    bytes(row[6]),
                    bytes(row[7]),
                    int(row[8]),
                    bytes(row[9]),
                    int(row[10]),
                )
                txid = bytes(row[0])
                found[txid] = SettlementRecord(txid, receipt, row[1], row[2], _bytes(row[3]))
        return found

    # -- DA submissions

    def record_da_submission(self, submission: DASubmissionRecord) -> None:
        self.conn.execute(
            t.da_submissions.insert().values(
                block_height=_stored(submission.block_height, "block height"),
                attempted_at_ms=_stored(submission.attempted_at_ms, "attempted_at_ms"),
                ok=submission.ok,
                da_height=_stored(submission.da_height, "DA height"),
                commitment=submission.commitment,
                error=submission.error,
            )
        )

    def da_submissions(self, block_height: int) -> list[DASubmissionRecord]:
        rows = self.conn.execute(
            sa.select(t.da_submissions)
            .where(t.da_submissions.c.block_height == block_height)
            .order_by(t.da_submissions.c.id)
        )
        return [
            DASubmissionRecord(
                block_height=r.block_height,
                attempted_at_ms=r.attempted_at_ms,
                ok=bool(r.ok),
                da_height=r.da_height,
                commitment=r.commitment,
                error=r.error,
            )
            for r in rows
        ]

    # -- state-tree nodes

    def put_tree_nodes(self, nodes: Mapping[bytes, bytes]) -> None:
        if nodes:
            self._raw().executemany(
                self._sql(
                    "INSERT INTO tree_nodes (node_key, node) VALUES (?, ?) ON CONFLICT DO NOTHING"
                ),
                list(nodes.items()),
            )

    def get_tree_node(self, node_key: bytes) -> bytes | None:
        cur = self._raw()
        cur.execute(self._sql("SELECT node FROM tree_nodes WHERE node_key = ?"), (node_key,))
        row = cur.fetchone()
        return None if row is None else bytes(row[0])

    def set_tree_root(self, version: int, root_key: bytes) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(t.tree_roots.insert().values(version=version, root_key=root_key))
        except sa.exc.IntegrityError:
            raise DuplicateError(f"tree version {version} exists already") from None

    def get_tree_root(self, version: int) -> bytes | None:
        return self.conn.scalar(
            sa.select(t.tree_roots.c.root_key).where(t.tree_roots.c.version == version)
        )

    def latest_tree_version(self) -> int | None:
        return self.conn.scalar(sa.select(sa.func.max(t.tree_roots.c.version)))

    def add_stale_tree_nodes(self, stale: Sequence[tuple[bytes, int]]) -> None:
        if stale:
            self._raw().executemany(
                self._sql(
                    "INSERT INTO tree_stale (stale_since, node_key) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING"
                ),
                [(v, k) for k, v in stale],
            )

    def prune_tree(self, keep_from_version: int) -> int:
        doomed = sa.select(t.tree_stale.c.node_key).where(
            t.tree_stale.c.stale_since <= keep_from_version
        )
        deleted = self.conn.execute(
            t.tree_nodes.delete().where(t.tree_nodes.c.node_key.in_(doomed))
        ).rowcount
        self.conn.execute(
            t.tree_stale.delete().where(t.tree_stale.c.stale_since <= keep_from_version)
        )
        self.conn.execute(t.tree_roots.delete().where(t.tree_roots.c.version < keep_from_version))
        return int(deleted)


class SQLStorage:
    """Base of the SQL backends; subclasses build the engine."""

    url: str

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._checked = False
        self._raw_cache: dict[str, str] = {}
        dbapi = engine.dialect.loaded_dbapi
        # The payment path talks to the DBAPI cursor directly, so the driver's
        # own exceptions arrive unwrapped next to SQLAlchemy's wrapped ones.
        self._failures: tuple[type[BaseException], ...] = (
            sa.exc.OperationalError,
            sa.exc.InterfaceError,
            dbapi.OperationalError,
            dbapi.InterfaceError,
        )

    def _unavailable_error(self, exc: BaseException) -> StorageUnavailableError:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["failed"])[0]
        return StorageUnavailableError(f"{_without_password(self.url)}: {reason}")

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """A database that cannot be reached or fails underneath, as a typed error."""
        try:
            yield
        except self._failures as exc:
            raise self._unavailable_error(exc) from None

    def insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` in the backend's dialect."""
        raise NotImplementedError

    def lock_clause(self, exclusive: bool) -> str:
        """Row-lock suffix of a ``SELECT`` (empty where writers are serialized anyway)."""
        return ""

    def raw_sql(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's parameter style."""
        cached = self._raw_cache.get(sql)
        if cached is None:
            style = self.engine.dialect.paramstyle
            cached = sql if style == "qmark" else sql.replace("?", "%s")
            self._raw_cache[sql] = cached
        return cached

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        """Hook: how a write begins (a lock taken up front; ``durable=False``: a commit that
        need not wait for stable storage, see :meth:`write`)."""

    def _lock_schema(self, conn: Connection) -> None:
        """Hook: serialize concurrent ``create_schema`` calls from many processes."""

    # -- schema

    def schema_version(self) -> int | None:
        with self._unavailable(), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.meta.name):
                return None
            value = conn.scalar(sa.select(t.meta.c.value).where(t.meta.c.key == SCHEMA_KEY))
        return int(value) if value is not None else None

    @contextmanager
    def create(self) -> Iterator[SQLSession]:
        with self._unavailable(), self.engine.connect() as conn:
            self._begin_write(conn)
            with conn.begin():  # DDL is transactional on SQLite and PostgreSQL alike
                self._lock_schema(conn)
                session = SQLSession(conn, self)
                if sa.inspect(conn).has_table(t.meta.name):
                    current = session.get_meta(SCHEMA_KEY)
                    if current is not None and int(current) != SCHEMA_VERSION:
                        raise _version_error(self.url, int(current))
                t.metadata.create_all(conn, checkfirst=True)
                session.set_meta(SCHEMA_KEY, str(SCHEMA_VERSION))
                yield session
        self._checked = True

    def create_schema(self) -> None:
        with self.create():
            pass

    def drop_schema(self) -> None:
        with self._unavailable(), self.engine.connect() as conn:
            self._begin_write(conn)
            with conn.begin():
                self._lock_schema(conn)
                t.metadata.drop_all(conn, checkfirst=True)
        self._checked = False

    def _check(self) -> None:
        if self._checked:
            return
        version = self.schema_version()
        if version is None:
            raise NotInitializedError(
                f"{self.url} holds no Fontana ledger; create one with `fontana genesis`"
            )
        if version != SCHEMA_VERSION:
            raise _version_error(self.url, version)
        self._checked = True

    # -- sessions

    @contextmanager
    def read(self) -> Iterator[SQLSession]:
        self._check()
        try:
            with self.engine.connect() as conn, conn.begin():
                yield SQLSession(conn, self)
        except self._failures as exc:
            raise self._unavailable_error(exc) from None

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[SQLSession]:
        self._check()
        try:
            with self.engine.connect() as conn:
                self._begin_write(conn, durable)
                with conn.begin():
                    yield SQLSession(conn, self)
        except self._failures as exc:
            raise self._unavailable_error(exc) from None

    def close(self) -> None:
        self.engine.dispose()


def _without_password(url: str) -> str:
    """``url`` fit for an error message: a password in it is masked."""
    from fontana.config import mask

    return str(mask(url, False))
