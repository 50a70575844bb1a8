"""The ledger schema in SQLAlchemy Core, shared by every SQL backend.

Every integer a protocol field can put in a column is ``BIGINT`` (signed
64-bit): u32 fields (log indexes, entry counts) fit whole, and u64 fields
(times, heights, L1 blocks) are bounded to 2**63 - 1 before they are
written (``docs/ledger.md``, *Integer ranges*).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only aliases the rowid (and so autoincrements) for INTEGER PRIMARY KEY.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_HASH = sa.LargeBinary(32)
_AMOUNT = sa.BigInteger  # utia; the ledger caps amounts below 2**63

meta = sa.Table(
    "fontana_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Integers that many writers change at once: updated only by one conditional
# ``UPDATE ... SET value = value + delta``, never read and written back.
counters = sa.Table(
    "fontana_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.CheckConstraint("value >= 0", name="ck_counters_non_negative"),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("entry_id", _HASH, nullable=False, unique=True),
    sa.Column("entry_type", sa.SmallInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("fee", _AMOUNT, nullable=False, default=0),
    sa.Column("applied_at_ms", sa.BigInteger, nullable=False),
    sa.Column("block_height", sa.BigInteger, nullable=True),
    sa.Column("block_index", sa.BigInteger, nullable=True),
    sa.Index("ix_entries_block", "block_height", "block_index"),
)

utxos = sa.Table(
    "utxos",
    metadata,
    sa.Column("txid", _HASH, primary_key=True),
    sa.Column("output_index", sa.Integer, primary_key=True),
    sa.Column("owner", _HASH, nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("created_seq", sa.BigInteger, nullable=True),
    sa.Column("spent_by", _HASH, nullable=True),
    sa.Column("spent_seq", sa.BigInteger, nullable=True),
    # A hold (docs/ledger.md, *Holds*): local state on the UTXO row itself, so the
    # payment path reads it with the UTXO and the spend checks it in its own UPDATE.
    sa.Column("held_by", _HASH, nullable=True),
    sa.Column("held_until_ms", sa.BigInteger, nullable=True),
    sa.CheckConstraint("amount > 0", name="ck_utxos_amount_positive"),
    sa.Index(
        "ix_utxos_owner_unspent",
        "owner",
        sqlite_where=sa.text("spent_seq IS NULL"),
        postgresql_where=sa.text("spent_seq IS NULL"),
    ),
    sa.Index(
        "ix_utxos_held",
        "held_by",
        sqlite_where=sa.text("held_by IS NOT NULL"),
        postgresql_where=sa.text("held_by IS NOT NULL"),
    ),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", _HASH, nullable=False, unique=True),
    sa.Column("prev_hash", _HASH, nullable=False),
    sa.Column("header", sa.LargeBinary, nullable=False),
    sa.Column("state_root", _HASH, nullable=False),
    sa.Column("tx_root", _HASH, nullable=False),
    sa.Column("tx_count", sa.BigInteger, nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("committed", sa.Boolean, nullable=False, default=False),
    sa.Column("da_height", sa.BigInteger, nullable=True),
    sa.Column("da_commitment", sa.LargeBinary, nullable=True),
    sa.Index(
        "ix_blocks_uncommitted",
        "height",
        sqlite_where=sa.text("committed = 0"),
        postgresql_where=sa.text("committed = false"),
    ),
)

deposits = sa.Table(
    "deposits",
    metadata,
    sa.Column("l1_tx_hash", _HASH, primary_key=True),
    sa.Column("log_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("entry_id", _HASH, nullable=False, unique=True),
    sa.Column("recipient", _HASH, nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("l1_block", sa.BigInteger, nullable=False),
)

withdrawals = sa.Table(
    "withdrawals",
    metadata,
    sa.Column("burn_txid", _HASH, primary_key=True),
    sa.Column("l1_recipient", sa.LargeBinary(20), nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("l1_tx_hash", _HASH, nullable=True),
    sa.Column("confirm_entry_id", _HASH, nullable=True),
)

#: The withdrawal processor's job per burn (docs/bridge.md, "The withdrawal processor").
withdrawal_jobs = sa.Table(
    "withdrawal_jobs",
    metadata,
    sa.Column("burn_txid", _HASH, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("burn_height", sa.BigInteger, nullable=False),
    sa.Column("checkpoint_height", sa.BigInteger, nullable=True),
    sa.Column("state_root", _HASH, nullable=True),
    sa.Column("signatures", sa.LargeBinary, nullable=True),
    sa.Column("proof", sa.LargeBinary, nullable=True),
    sa.Column("raw_tx", sa.LargeBinary, nullable=True),
    sa.Column("l1_tx_hash", _HASH, nullable=True),
    sa.Column("l1_block", sa.BigInteger, nullable=True),
    sa.Column("log_index", sa.BigInteger, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("receipt_id", _HASH, primary_key=True),
    sa.Column("txid", _HASH, nullable=False, index=True),
    sa.Column("payer", _HASH, nullable=False),
    sa.Column("payee", _HASH, nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("issued_at_ms", sa.BigInteger, nullable=False),
)

# One row per settled paid call: the receipt (in ``receipts``) and the response
# cached for retries (all three NULL when it was not cached).
settlements = sa.Table(
    "settlements",
    metadata,
    sa.Column("txid", _HASH, primary_key=True),
    sa.Column("receipt_id", _HASH, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("content_type", sa.Text, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
)

da_submissions = sa.Table(
    "da_submissions",
    metadata,
    sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
    sa.Column(
        "block_height", sa.BigInteger, sa.ForeignKey("blocks.height"), nullable=False, index=True
    ),
    sa.Column("attempted_at_ms", sa.BigInteger, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("da_height", sa.BigInteger, nullable=True),
    sa.Column("commitment", sa.LargeBinary, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

# Versioned state-tree nodes; keys and values are the proof provider's own bytes.
tree_nodes = sa.Table(
    "tree_nodes",
    metadata,
    sa.Column("node_key", sa.LargeBinary, primary_key=True),
    sa.Column("node", sa.LargeBinary, nullable=False),
)

tree_roots = sa.Table(
    "tree_roots",
    metadata,
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_key", sa.LargeBinary, nullable=False),  # empty: the empty tree
)

tree_stale = sa.Table(
    "tree_stale",
    metadata,
    sa.Column("stale_since", sa.BigInteger, primary_key=True),
    sa.Column("node_key", sa.LargeBinary, primary_key=True),
)
