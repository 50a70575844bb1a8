"""Creating a chain: the genesis file, block 0 and the ledger's first state.

Block 0 is derived from the genesis file alone (it is never signed or
posted to DA: its signature is 64 zero bytes), so anyone holding
``genesis.json`` rebuilds it bit for bit. Its ``prev_hash`` is the genesis
hash, which binds every later block to this one genesis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fontana import strict_json
from fontana.errors import AlreadyInitializedError, DuplicateError, EncodingError, GenesisError
from fontana.files import decode_text, read_input_file
from fontana.hashing import merkle_root
from fontana.interfaces import ProofProvider
from fontana.ledger.meta import COUNTER_SUPPLY, MAX_LEDGER_AMOUNT, META_GENESIS, META_OPEN_TS
from fontana.ledger.records import block_record
from fontana.models import UTXO, BlockHeader, Genesis, SignedHeader, utxo_key
from fontana.models.chain import encode_entries, entries_hash
from fontana.storage.base import MAX_STORED_INT, BlockRecord, Storage, UtxoRecord

UNSIGNED = bytes(64)
#: The largest genesis (every allocation used, pretty-printed) is a few megabytes.
MAX_GENESIS_FILE: Final = 64 << 20


def load_genesis_file(path: Path) -> Genesis:
    """Parse and validate ``genesis.json``; errors name the file and the problem."""

    def fail(reason: str) -> GenesisError:
        return GenesisError(f"{path}: {reason}")

    try:
        text = decode_text(read_input_file(path, MAX_GENESIS_FILE, fail), fail)
    except FileNotFoundError:
        raise fail("cannot read: no such file") from None
    try:
        genesis = Genesis.from_json(strict_json.loads(text, "genesis JSON"))
    except EncodingError as exc:
        raise fail(exc.message) from None
    try:
        check_genesis(genesis)
    except GenesisError as exc:
        raise fail(exc.message) from None
    return genesis


def check_genesis(genesis: Genesis) -> None:
    """What a valid genesis must also satisfy to fit the ledger's storage.

    The model allows any u64; the ledger stores signed 64-bit integers, so
    values from 2**63 on are refused here, before anything is written.
    """
    if genesis.genesis_time_ms > MAX_STORED_INT:
        raise GenesisError(
            f"genesis_time_ms {genesis.genesis_time_ms} is above {MAX_STORED_INT}, "
            "the latest time the ledger stores"
        )
    if genesis.min_fee > MAX_LEDGER_AMOUNT:
        raise GenesisError(
            f"min_fee {genesis.min_fee} utia is above {MAX_LEDGER_AMOUNT}: no payment could pay it"
        )
    total = sum(amount for _, amount in genesis.allocations)
    if total > MAX_LEDGER_AMOUNT:
        raise GenesisError(f"allocations total {total} utia, above {MAX_LEDGER_AMOUNT}")


def genesis_utxos(genesis: Genesis) -> list[UTXO]:
    gid = genesis.hash
    return [UTXO(owner, amount, gid, i) for i, (owner, amount) in enumerate(genesis.allocations)]


def genesis_header(genesis: Genesis, state_root: bytes) -> SignedHeader:
    header = BlockHeader(
        version=1,
        chain_id=genesis.chain_id,
        height=0,
        prev_hash=genesis.hash,
        timestamp_ms=genesis.genesis_time_ms,
        tx_root=merkle_root([]),
        entries_hash=entries_hash(encode_entries(())),
        state_root=state_root,
        tx_count=0,
        proposer=genesis.sequencer,
    )
    return SignedHeader(header, UNSIGNED)


def initialize(storage: Storage, proofs: ProofProvider, genesis: Genesis) -> BlockRecord:
    """Create the schema, the genesis UTXOs and block 0; refuse an initialized database.

    All or nothing: the genesis is checked before anything is written, and
    the schema, the genesis rows and block 0 commit in one transaction, so
    any failure leaves the database as it was.
    """
    check_genesis(genesis)
    utxos = genesis_utxos(genesis)
    with storage.create() as s:
        try:
            s.insert_meta(META_GENESIS, genesis.to_bytes().hex())
        except DuplicateError:
            raise AlreadyInitializedError(
                f"{storage.url} already holds a ledger; genesis never overwrites one "
                "(use a new database)"
            ) from None
        s.insert_meta(META_OPEN_TS, str(genesis.genesis_time_ms))
        s.set_counter(COUNTER_SUPPLY, sum(u.amount for u in utxos))
        s.insert_utxos(
            [UtxoRecord(u.txid, u.index, u.owner, u.amount, created_seq=None) for u in utxos]
        )
        root = proofs.apply_batch(s, 0, {utxo_key(u.outpoint): u.leaf_value_hash() for u in utxos})
        record = block_record(genesis_header(genesis, root), committed=True)
        s.insert_block(record)
    return record
