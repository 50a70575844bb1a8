"""Shared builders and fixtures for the ledger tests: keys, genesis, ledgers, snapshots.

Everything runs on real databases (SQLite files and a throwaway PostgreSQL
server), so the helpers read whole tables through the storage's engine to
prove that a rejection or a replay changed nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.config import Settings, load_settings
from fontana.da.local import LocalDA
from fontana.genesis import genesis_utxos, initialize
from fontana.ledger import Ledger
from fontana.models import (
    UTXO,
    Allocation,
    Block,
    Deposit,
    Entry,
    EntryType,
    Genesis,
    OutPoint,
    SignedHeader,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalLeaf,
    WithdrawalRequest,
    utxo_key,
)
from fontana.smt import MemoryNodeStore, SparseMerkleTree
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage import schema as t

CHAIN_ID = "fontana-test"
GENESIS_TIME_MS = 1_700_000_000_000
ALLOCATION = 1_000_000
#: Far enough ahead that no test's clock reaches it unless it means to.
EXPIRY_MS = GENESIS_TIME_MS + 3_600_000


def key(seed: int) -> SigningKey:
    """A fixed ed25519 key per small integer, so failures reproduce exactly."""
    return SigningKey(bytes([seed]) * 32)


ALICE, BOB, CAROL, SEQUENCER, MALLORY = (key(n) for n in (1, 2, 3, 4, 5))
FUNDED = (ALICE, BOB, CAROL)


def pub(signing_key: SigningKey) -> bytes:
    return bytes(signing_key.verify_key)


class Clock:
    """The ledger's injectable wall clock, moved by hand."""

    def __init__(self, now_ms: int = GENESIS_TIME_MS + 1_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms


def make_genesis(
    allocations: Sequence[tuple[bytes, int]] | None = None,
    *,
    chain_id: str = CHAIN_ID,
    min_fee: int = 1,
    genesis_time_ms: int = GENESIS_TIME_MS,
) -> Genesis:
    """A genesis funding ALICE, BOB and CAROL with one ALLOCATION each (index 0, 1, 2)."""
    if allocations is None:
        allocations = [(pub(k), ALLOCATION) for k in FUNDED]
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=genesis_time_ms,
        sequencer=pub(SEQUENCER),
        da_namespace=b"\x00" * 9 + b"\x01",
        block_time_ms=6_000,
        min_fee=min_fee,
        l1_confirmations=1,
        allocations=tuple(Allocation(owner, amount) for owner, amount in allocations),
    )


def settings_for(home: Path) -> Settings:
    """Settings of a private home: no developer config leaks into a test."""
    home.mkdir(parents=True, exist_ok=True)
    return load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home)


def create_ledger(
    url: str, home: Path, genesis: Genesis | None = None, clock: Callable[[], int] | None = None
) -> Ledger:
    """Initialize ``url`` with ``genesis`` (default :func:`make_genesis`) and open its ledger."""
    storage = open_storage(settings_for(home), url)
    initialize(storage, PythonSMTProvider(), genesis or make_genesis())
    return Ledger.load(storage, PythonSMTProvider(), clock or Clock())


def reopen_ledger(ledger: Ledger, url: str, home: Path) -> Ledger:
    """Close ``ledger``'s storage and load the same database afresh, with an empty node cache."""
    ledger.storage.close()
    return Ledger.load(open_storage(settings_for(home), url), PythonSMTProvider(), ledger.clock)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path, clock: Clock) -> Iterator[Ledger]:
    """A ledger at block 0 of :func:`make_genesis` on each backend."""
    opened = create_ledger(ledger_url, tmp_path / "home", clock=clock)
    yield opened
    opened.storage.close()


@pytest.fixture
def live(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger at block 0 on each backend, on the wall clock, as daemons run it."""
    opened = create_ledger(
        ledger_url, tmp_path / "home", make_genesis(genesis_time_ms=now_ms()), now_ms
    )
    yield opened
    opened.storage.close()


@pytest.fixture
def da(tmp_path: Path) -> Iterator[LocalDA]:
    """The built-in DA layer in a fresh directory, on the test genesis namespace."""
    layer = LocalDA(tmp_path / "da", make_genesis().da_namespace, max_blob_size=1_900_000)
    yield layer
    layer.close()


@cache
def default_genesis_hash() -> bytes:
    """The hash of :func:`make_genesis` with its defaults: what the test ledgers sign for."""
    return make_genesis().hash


def genesis_outpoint(index: int, genesis: Genesis | None = None) -> OutPoint:
    return OutPoint((genesis or make_genesis()).hash, index)


def make_transfer(
    inputs: Sequence[OutPoint | UTXO],
    outputs: Sequence[tuple[bytes, int]],
    signers: Sequence[SigningKey],
    *,
    fee: int = 1,
    expiry_ms: int = EXPIRY_MS,
    chain_id: str = CHAIN_ID,
    burn: WithdrawalRequest | None = None,
    memo: bytes = b"",
    genesis_hash: bytes | None = None,
) -> Transaction:
    """A transaction signed by ``signers`` in order for ``genesis_hash`` (default: the
    default genesis); ``burn`` makes it a WITHDRAWAL."""
    tx = Transaction(
        kind=TxKind.WITHDRAWAL if burn is not None else TxKind.TRANSFER,
        chain_id=chain_id,
        inputs=tuple(i.outpoint if isinstance(i, UTXO) else i for i in inputs),
        outputs=tuple(TxOutput(owner, amount) for owner, amount in outputs),
        fee=fee,
        expiry_ms=expiry_ms,
        memo=memo,
        withdrawal=burn,
    )
    for signer in signers:
        tx = tx.sign(signer, genesis_hash or default_genesis_hash())
    return tx


def pay(
    ledger: Ledger, sender: SigningKey, recipient: bytes, amount: int, fee: int = 1
) -> Transaction:
    """``sender`` pays ``recipient`` from all its UTXOs, change back to itself."""
    utxos = ledger.utxos(pub(sender))
    change = sum(u.amount for u in utxos) - amount - fee
    outputs = [(recipient, amount)] + ([(pub(sender), change)] if change else [])
    return make_transfer(utxos, outputs, [sender], fee=fee, genesis_hash=ledger.genesis_hash)


def make_deposit(recipient: bytes, amount: int, l1_tx: int = 1, log_index: int = 0) -> Deposit:
    return Deposit(
        l1_chain_id=11155111,
        vault=b"\x22" * 20,
        l1_tx_hash=l1_tx.to_bytes(32, "big"),
        log_index=log_index,
        l1_block=100 + l1_tx,
        depositor=b"\x33" * 20,
        recipient=recipient,
        amount=amount,
    )


@attrs.frozen
class Snapshot:
    """Every row the ledger owns, plus the root it reports."""

    tables: dict[str, frozenset[tuple[Any, ...]]]
    state_root: bytes

    def entry_count(self) -> int:
        return len(self.tables["entries"])


_TABLES = (t.meta, t.counters, t.entries, t.utxos, t.blocks, t.deposits, t.withdrawals)


def snapshot(ledger: Ledger) -> Snapshot:
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        tables = {
            table.name: frozenset(tuple(row) for row in conn.execute(sa.select(table)))
            for table in _TABLES
        }
    return Snapshot(tables, ledger.current_state_root())


def unspent(ledger: Ledger) -> list[UTXO]:
    """The whole unspent UTXO set."""
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.utxos.c.owner, t.utxos.c.amount, t.utxos.c.txid, t.utxos.c.output_index
            ).where(t.utxos.c.spent_seq.is_(None))
        ).all()
    return [UTXO(bytes(r[0]), int(r[1]), bytes(r[2]), int(r[3])) for r in rows]


def sealed_withdrawal_leaves(ledger: Ledger) -> list[WithdrawalLeaf]:
    """The withdrawal leaves of every burn sealed in a block (the tree keeps them all)."""
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        bodies = conn.execute(
            sa.select(t.entries.c.body).where(
                t.entries.c.entry_type == EntryType.TRANSACTION,
                t.entries.c.block_height.is_not(None),
            )
        ).scalars()
        leaves = [WithdrawalLeaf.of(Transaction.from_bytes(bytes(b))) for b in bodies]
    return [leaf for leaf in leaves if leaf is not None]


def rebuild_root(utxos: Sequence[UTXO], leaves: Sequence[WithdrawalLeaf] = ()) -> bytes:
    """The state root a fresh in-memory tree gives for ``utxos`` and withdrawal ``leaves``."""
    tree = SparseMerkleTree(MemoryNodeStore())
    pairs = {utxo_key(u.outpoint): u.leaf_value_hash() for u in utxos}
    pairs |= {leaf.key: leaf.leaf_value_hash() for leaf in leaves}
    return tree.apply_batch(0, pairs)


def full_rebuild_root(ledger: Ledger) -> bytes:
    """The root of the ledger's unspent outputs and sealed withdrawals: the full-rebuild check."""
    return rebuild_root(unspent(ledger), sealed_withdrawal_leaves(ledger))


def genesis_root(genesis: Genesis | None = None) -> bytes:
    return rebuild_root(genesis_utxos(genesis or make_genesis()))


def forge_block(
    ledger: Ledger, entries: Sequence[Entry], signer: SigningKey = SEQUENCER, **header: Any
) -> Block:
    """The next block of ``ledger`` holding ``entries``, signed by ``signer`` (the sequencer).

    A validly signed block with whatever contents a test needs replay to
    judge; ``header`` overrides header fields (the state root defaults to the
    previous one, the tx root is computed).
    """
    prev = SignedHeader.from_bytes(ledger.latest_block().header).header
    fields = {"height": prev.height + 1, "prev_hash": prev.hash, **header}
    template = attrs.evolve(prev, tx_count=len(entries), **fields)
    draft = Block(SignedHeader(template, bytes(64)), tuple(entries))
    computed = {"tx_root": draft.compute_tx_root(), "entries_hash": draft.compute_entries_hash()}
    signed = SignedHeader.sign(attrs.evolve(template, **computed), signer, ledger.genesis.hash)
    return Block(signed, tuple(entries))
