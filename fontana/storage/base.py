"""The storage contract every backend implements, and the records it deals in.

Storage speaks bytes and integers, not models: the ledger owns validation
and canonical encodings, storage owns durability, atomicity and the
concurrency rule that a UTXO is spent at most once. Every method of a
:class:`StorageSession` runs inside the session's database transaction, so a
caller composes many calls into one atomic change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Final, Literal, Protocol, runtime_checkable

import attrs

from fontana.errors import InputHeldError

#: Bumped whenever the schema changes. Older databases are refused, not migrated
#: (pre-release): version 2 came with protocol changes (signatures bound to the
#: genesis, block hashes over the full entry bytes), version 3 with holds on UTXOs
#: and settled paid calls, version 4 with the withdrawal processor's jobs
#: (docs/ledger.md lists what each version brought).
SCHEMA_VERSION = 4

#: Largest integer a column holds (signed 64-bit); storage refuses larger values
#: with ``OutOfRangeError`` rather than letting the driver overflow.
MAX_STORED_INT: Final = 2**63 - 1

OutPointKey = tuple[bytes, int]  # (txid, output index)
Spend = tuple[OutPointKey, bytes, int]  # (outpoint, spending entry id, its sequence number)


@attrs.frozen
class UtxoRecord:
    """An output; ``held_by``/``held_until_ms``: the payment holding it (local, never on DA).

    A hold is live while ``held_until_ms`` is after the wall clock; an expired
    one is ignored. Inserting a record never writes a hold.
    """

    txid: bytes
    output_index: int
    owner: bytes
    amount: int
    created_seq: int | None = None
    spent_by: bytes | None = None
    spent_seq: int | None = None
    held_by: bytes | None = None
    held_until_ms: int | None = None

    @property
    def key(self) -> OutPointKey:
        return (self.txid, self.output_index)


@attrs.frozen
class EntryRecord:
    """One state change in the order the ledger applied it (a block carries these)."""

    entry_id: bytes
    entry_type: int
    body: bytes
    fee: int = 0
    applied_at_ms: int = 0
    seq: int | None = None
    block_height: int | None = None
    block_index: int | None = None


@attrs.frozen
class BlockRecord:
    height: int
    hash: bytes
    prev_hash: bytes
    header: bytes  # canonical signed header
    state_root: bytes
    tx_root: bytes
    tx_count: int
    timestamp_ms: int
    committed: bool = False
    da_height: int | None = None
    da_commitment: bytes | None = None


@attrs.frozen
class DepositRecord:
    """Identity of a credited L1 deposit, so it is credited once."""

    l1_tx_hash: bytes
    log_index: int
    entry_id: bytes
    recipient: bytes
    amount: int
    l1_block: int


WithdrawalStatus = Literal["pending", "confirmed"]


@attrs.frozen
class WithdrawalRecord:
    burn_txid: bytes
    l1_recipient: bytes
    amount: int
    status: WithdrawalStatus = "pending"
    l1_tx_hash: bytes | None = None
    confirm_entry_id: bytes | None = None


WithdrawalJobState = Literal["pending", "proven", "submitted", "confirmed", "failed"]


@attrs.frozen
class WithdrawalJobRecord:
    """The withdrawal processor's progress on one burn; each state keeps what it needs to resume.

    ``proven``: the checkpoint (``checkpoint_height``, ``state_root``), its ``signatures``
    (65 bytes each, concatenated) and the ``proof``. ``submitted``: the signed ``raw_tx``
    and its ``l1_tx_hash``, stored before it is broadcast. ``confirmed``: the release's
    ``l1_tx_hash``, ``l1_block`` and ``log_index``. ``failed``: the ``reason``.
    """

    burn_txid: bytes
    state: WithdrawalJobState
    burn_height: int
    updated_at_ms: int
    checkpoint_height: int | None = None
    state_root: bytes | None = None
    signatures: bytes | None = None
    proof: bytes | None = None
    raw_tx: bytes | None = None
    l1_tx_hash: bytes | None = None
    l1_block: int | None = None
    log_index: int | None = None
    reason: str | None = None


@attrs.frozen
class ReceiptRecord:
    receipt_id: bytes
    txid: bytes
    payer: bytes
    payee: bytes
    amount: int
    body: bytes  # canonical signed receipt
    issued_at_ms: int


@attrs.frozen
class SettlementRecord:
    """A settled paid call: its receipt, and the response cached for retries.

    ``status``, ``content_type`` and ``body`` are all ``None`` when no response
    was cached (too large), all set otherwise.
    """

    txid: bytes
    receipt: ReceiptRecord
    status: int | None = None
    content_type: str | None = None
    body: bytes | None = None


@attrs.frozen
class DASubmissionRecord:
    """One attempt to post a block to the DA layer (kept for audits and alerts)."""

    block_height: int
    attempted_at_ms: int
    ok: bool
    da_height: int | None = None
    commitment: bytes | None = None
    error: str | None = None


@runtime_checkable
class StorageSession(Protocol):
    """Operations inside one database transaction (see :meth:`Storage.write`)."""

    # -- metadata
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def lock_meta(self, key: str, *, exclusive: bool) -> str | None:
        """Read ``key`` and hold a lock on it until the session ends.

        Shared locks do not block each other; an exclusive one waits for all
        shared holders and blocks new ones. The ledger uses this as a cheap
        epoch lock: payments hold it shared, block sealing exclusively, so a
        block cut never splits an in-flight payment. Backends that serialize
        all writers (SQLite) may treat it as a plain read.
        """
        ...

    def insert_meta(self, key: str, value: str) -> None:
        """Create ``key``; ``DuplicateError`` if it exists (e.g. a second genesis)."""
        ...

    # -- counters: integers many sessions change at once (the supply)
    def set_counter(self, name: str, value: int) -> None:
        """Create counter ``name`` or overwrite it (genesis, tests)."""
        ...

    def get_counter(self, name: str) -> int | None: ...
    def add_to_counter(self, name: str, delta: int, maximum: int) -> int | None:
        """Add ``delta`` atomically if the result stays within ``0..maximum``.

        Returns the new value, or ``None`` (and changes nothing) if the result
        would leave that range. Concurrent sessions never lose an update: the
        check and the change are one statement, not a read and a write.
        ``StorageError`` if the counter does not exist.
        """
        ...

    # -- the ordered log of state changes
    def insert_entry(self, entry: EntryRecord) -> int:
        """Append an entry; return its sequence number. ``DuplicateError`` if its id exists."""
        ...

    def insert_entries(self, entries: Sequence[EntryRecord]) -> list[int]:
        """Append many entries in the given order; return their sequence numbers.

        ``DuplicateError`` if any id exists (the session must then be discarded).
        """
        ...

    def get_entry(self, entry_id: bytes) -> EntryRecord | None: ...
    def get_entries(self, entry_ids: Sequence[bytes]) -> dict[bytes, EntryRecord]:
        """The entries that exist among ``entry_ids``."""
        ...

    def unsealed_entries(self, limit: int) -> list[EntryRecord]:
        """Entries not yet in a block, in sequence order."""
        ...

    def seal_entries(self, height: int, entry_ids: Sequence[bytes]) -> None:
        """Assign entries to block ``height`` at positions 0.. in the given order."""
        ...

    def entries_in_block(self, height: int) -> list[EntryRecord]: ...
    def entry_block_height(self, seq: int) -> int | None:
        """Height of the block holding entry ``seq``; ``None`` while unsealed or unknown."""
        ...

    # -- UTXO set
    def insert_utxos(self, utxos: Sequence[UtxoRecord]) -> None:
        """Create outputs. ``DuplicateError`` if any exists."""
        ...

    def get_utxos(self, keys: Sequence[OutPointKey]) -> dict[OutPointKey, UtxoRecord]:
        """The records that exist among ``keys`` (spent or not)."""
        ...

    def spend_utxos(self, spends: Sequence[Spend], holds_at_ms: int | None = None) -> None:
        """Mark every outpoint spent by its entry, or none (the session must be discarded).

        One call may carry the spends of many entries (a batch of payments).
        Raises ``UnknownInputError`` or ``InputSpentError``; under concurrent
        sessions exactly one spender of a UTXO succeeds. With ``holds_at_ms``,
        an outpoint under a hold of another entry that is live at that time
        (``held_until_ms > holds_at_ms``) is refused with ``InputHeldError``,
        checked in the same statement as the spend; ``None`` ignores holds
        (replay: holds are local, never on DA). A spend clears the hold.
        """
        ...

    def hold_utxos(
        self, keys: Sequence[OutPointKey], holder: bytes, until_ms: int, now_ms: int
    ) -> None:
        """Hold every outpoint for ``holder`` until ``until_ms``, or none (discard the session).

        An outpoint must exist, be unspent and carry no hold live at ``now_ms``
        (an expired hold is replaced). Raises ``UnknownInputError``,
        ``InputSpentError``, ``InputHeldError`` (live hold of another holder) or
        ``PaymentInFlightError`` (a live hold of ``holder`` itself); under
        concurrent sessions exactly one holder (or spender) of a UTXO wins.
        ``OutOfRangeError`` if ``until_ms`` is beyond 2**63 - 1.
        """
        ...

    def release_holds(self, holder: bytes, now_ms: int) -> bool:
        """Clear every hold of ``holder``; whether any of them was live at ``now_ms``."""
        ...

    def unspent_by_owner(self, owner: bytes, limit: int | None = None) -> list[UtxoRecord]: ...
    def balance(self, owner: bytes) -> int: ...

    # -- blocks
    def insert_block(self, block: BlockRecord) -> None: ...
    def get_block(self, height: int) -> BlockRecord | None: ...
    def latest_block(self) -> BlockRecord | None: ...
    def uncommitted_blocks(self, limit: int) -> list[BlockRecord]:
        """Blocks not yet on DA, lowest height first."""
        ...

    def mark_committed(self, height: int, da_height: int, da_commitment: bytes) -> None: ...

    # -- bridge
    def insert_deposit(self, deposit: DepositRecord) -> bool:
        """Record a deposit; ``False`` if that (L1 tx, log index) was recorded before."""
        ...

    def get_deposit(self, l1_tx_hash: bytes, log_index: int) -> DepositRecord | None: ...
    def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> None: ...
    def confirm_withdrawal(
        self, burn_txid: bytes, l1_tx_hash: bytes, confirm_entry_id: bytes
    ) -> bool:
        """Mark confirmed; ``False`` if it already was. ``KeyError`` if unknown."""
        ...

    def get_withdrawal(self, burn_txid: bytes) -> WithdrawalRecord | None: ...

    # -- the withdrawal processor's jobs
    def withdrawals_on_da(self, limit: int) -> list[tuple[bytes, int]]:
        """``(burn_txid, block height)`` of burns in DA-committed blocks without a job yet."""
        ...

    def insert_withdrawal_job(self, job: WithdrawalJobRecord) -> bool:
        """Store a new job; ``False`` if that burn has one."""
        ...

    def advance_withdrawal_job(self, job: WithdrawalJobRecord, from_state: str) -> bool:
        """Overwrite the job if still in ``from_state``; ``False`` (nothing written) if not."""
        ...

    def get_withdrawal_job(self, burn_txid: bytes) -> WithdrawalJobRecord | None: ...
    def withdrawal_jobs(self, states: Sequence[str], limit: int) -> list[WithdrawalJobRecord]:
        """Jobs in ``states``, oldest burn block first."""
        ...

    # -- receipts
    def insert_receipt(self, receipt: ReceiptRecord) -> bool:
        """Store a receipt; ``False`` if that receipt id exists."""
        ...

    def get_receipt(self, receipt_id: bytes) -> ReceiptRecord | None: ...
    def receipts_for(self, txid: bytes) -> list[ReceiptRecord]: ...

    # -- settled paid calls
    def insert_settlements(self, settlements: Sequence[SettlementRecord]) -> None:
        """Record settled calls and their receipts (a receipt stored already is kept).

        ``DuplicateError`` if a txid has a settlement already (the session must
        then be discarded); ``StorageError`` if one txid appears twice.
        """
        ...

    def get_settlements(self, txids: Sequence[bytes]) -> dict[bytes, SettlementRecord]:
        """The settlements that exist among ``txids``, with their receipts."""
        ...

    # -- DA submissions
    def record_da_submission(self, submission: DASubmissionRecord) -> None: ...
    def da_submissions(self, block_height: int) -> list[DASubmissionRecord]: ...

    # -- state-tree nodes (opaque to storage)
    def put_tree_nodes(self, nodes: Mapping[bytes, bytes]) -> None: ...
    def get_tree_node(self, node_key: bytes) -> bytes | None: ...
    def set_tree_root(self, version: int, root_key: bytes) -> None: ...
    def get_tree_root(self, version: int) -> bytes | None:
        """Root node key of ``version``; ``None`` if that version is not retained."""
        ...

    def latest_tree_version(self) -> int | None: ...
    def add_stale_tree_nodes(self, stale: Sequence[tuple[bytes, int]]) -> None:
        """``(node_key, stale_since_version)`` pairs: nodes unused from that version on."""
        ...

    def prune_tree(self, keep_from_version: int) -> int:
        """Forget versions before ``keep_from_version``: delete nodes stale since a
        version <= it and older roots; return how many nodes went."""
        ...


@runtime_checkable
class Storage(Protocol):
    """A ledger database. Sessions are short; many processes may share a database."""

    url: str

    def create_schema(self) -> None:
        """Create the schema if the database has none; idempotent.

        ``SchemaVersionError`` if the database holds another schema version.
        """
        ...

    def create(self) -> AbstractContextManager[StorageSession]:
        """A write session that creates the schema first, in the same database transaction.

        If the session fails, the database is left as it was: a database
        without a schema keeps none, so genesis is all or nothing.
        """
        ...

    def schema_version(self) -> int | None:
        """The database's schema version, ``None`` when it has no schema."""
        ...

    def drop_schema(self) -> None:
        """Delete every Fontana table and its data (``fontana recover --wipe``)."""
        ...

    def read(self) -> AbstractContextManager[StorageSession]:
        """A session for reads (a consistent snapshot where the backend allows)."""
        ...

    def write(self, *, durable: bool = True) -> AbstractContextManager[StorageSession]:
        """A session whose changes commit together on exit and roll back on error.

        ``durable=False`` lets the commit skip waiting for stable storage: a
        crash of the machine (or the database server) may lose it, whole and
        never torn, until a later durable commit makes it durable too; other
        sessions see it at once, as any commit. For state no one is promised
        (a paid call's hold): never for anything an answer depends on.
        """
        ...

    def close(self) -> None: ...


def held_error(record: UtxoRecord) -> InputHeldError:
    """The refusal of a spend or hold of ``record`` while another payment holds it live."""
    return InputHeldError(
        f"input {record.txid.hex()}:{record.output_index} is held by payment "
        f"{(record.held_by or b'').hex()} until {record.held_until_ms} (a paid call in flight)"
    )


def iter_batches(items: Sequence[OutPointKey], size: int) -> Iterator[Sequence[OutPointKey]]:
    """Split long key lists so no statement exceeds a backend's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
