"""The storage conformance suite: every storage backend, ours or a third party's, passes it.

Use it by subclassing in your plugin's tests and providing ``storage_url``,
a fresh, empty database URL per test::

    from fontana.testing.storage import StorageConformance

    class TestMyStore(StorageConformance):
        @pytest.fixture
        def storage_url(self, tmp_path):
            return f"mystore://{tmp_path}/db"

Backends are opened through the plugin registry, so the suite also checks
that the URL scheme reaches the plugin. To test a class directly instead,
override ``storage_factory``: a callable returning a new instance on the same
database each time. One test forks processes (``multiprocessing`` with
``fork``); the factory is called in the child, never an instance inherited
from the parent.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import attrs
import pytest

from fontana.config import Settings
from fontana.errors import (
    DuplicateError,
    FontanaError,
    InputHeldError,
    InputSpentError,
    NotInitializedError,
    OutOfRangeError,
    PaymentInFlightError,
    SchemaVersionError,
    StorageError,
    UnknownInputError,
)
from fontana.storage import open_storage
from fontana.storage.base import (
    SCHEMA_VERSION,
    BlockRecord,
    DASubmissionRecord,
    DepositRecord,
    EntryRecord,
    ReceiptRecord,
    SettlementRecord,
    Spend,
    Storage,
    StorageSession,
    UtxoRecord,
    WithdrawalRecord,
)

ALICE, BOB = b"\xaa" * 32, b"\xbb" * 32

#: A new storage instance on the test's database.
StorageFactory = Callable[[], Storage]
#: Processes in the multi-process spend test.
SPEND_PROCESSES = 4
#: How long the suite waits for a forked spender before calling it hung (not a speed test).
_CHILD_TIMEOUT_S = 300


def h(n: int) -> bytes:
    """A distinct 32-byte value per integer."""
    return n.to_bytes(32, "big")


def utxo(n: int, owner: bytes = ALICE, amount: int = 100, index: int = 0) -> UtxoRecord:
    return UtxoRecord(txid=h(n), output_index=index, owner=owner, amount=amount, created_seq=1)


def spends(keys: list[tuple[bytes, int]], by: bytes, seq: int) -> list[Spend]:
    return [(key, by, seq) for key in keys]


def entry(n: int, fee: int = 0) -> EntryRecord:
    return EntryRecord(entry_id=h(n), entry_type=1, body=b"body%d" % n, fee=fee, applied_at_ms=5)


def block(height: int) -> BlockRecord:
    return BlockRecord(
        height=height,
        hash=h(10_000 + height),
        prev_hash=h(10_000 + height - 1),
        header=b"header%d" % height,
        state_root=h(20_000 + height),
        tx_root=h(30_000 + height),
        tx_count=0,
        timestamp_ms=1_700_000_000_000 + height,
    )


def _spend_in_child(
    factory: StorageFactory, i: int, barrier: Any, out: Connection
) -> None:
    """Body of one forked spender: its own storage, one conflicting spend, the outcome back."""
    try:
        store = factory()
        keys = [(h(1), 0), (h(2), 0)] if i % 2 else [(h(2), 0), (h(1), 0)]
        barrier.wait(timeout=_CHILD_TIMEOUT_S)
        try:
            with store.write() as s:
                s.spend_utxos(spends(keys, h(200 + i), 200 + i))
            out.send("won")
        except InputSpentError:
            out.send("input_spent")
        store.close()
    except BaseException as exc:  # reported by the parent: a child has no test report
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        out.close()


#: The clock of the hold tests: holds until ``UNTIL`` are live before it, expired from it on.
NOW, UNTIL = 1_000, 2_000


def receipt(n: int, txid: bytes, amount: int = 3) -> ReceiptRecord:
    return ReceiptRecord(h(n), txid, ALICE, BOB, amount, b"receipt%d" % n, 7)


def settlement(n: int, txid: bytes, cached: bool = True) -> SettlementRecord:
    if not cached:
        return SettlementRecord(txid, receipt(n, txid))
    return SettlementRecord(txid, receipt(n, txid), 200, "application/json", b'{"n": %d}' % n)


def _hold_or_spend_in_child(
    factory: StorageFactory, role: str, i: int, barrier: Any, out: Connection
) -> None:
    """One forked contender for the same two UTXOs: ``hold:<n>`` holds for h(n), ``spend``
    spends (honouring holds); the outcome back as ``won`` or the error code."""
    try:
        store = factory()
        keys = [(h(1), 0), (h(2), 0)] if i % 2 else [(h(2), 0), (h(1), 0)]
        barrier.wait(timeout=_CHILD_TIMEOUT_S)
        try:
            with store.write(durable=role == "spend") as s:  # holds, as the ledger takes them
                if role == "spend":
                    s.spend_utxos(spends(keys, h(200 + i), 200 + i), holds_at_ms=NOW)
                else:
                    s.hold_utxos(keys, h(int(role.split(":")[1])), UNTIL, NOW)
            out.send("won")
        except FontanaError as exc:
            out.send(exc.code)
        store.close()
    except BaseException as exc:  # reported by the parent: a child has no test report
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        out.close()


class StorageConformance:
    """Behaviour every :class:`~fontana.storage.base.Storage` must have."""

    @pytest.fixture
    def storage_url(self) -> str:
        raise NotImplementedError("provide a storage_url fixture: a fresh database URL per test")

    @pytest.fixture
    def storage_factory(self, storage_url: str, fontana_settings: Settings) -> StorageFactory:
        """A new instance on the test's database per call; through the registry by default."""
        return lambda: open_storage(fontana_settings, storage_url)

    @pytest.fixture
    def open_fresh(self, storage_factory: StorageFactory) -> Iterator[StorageFactory]:
        """Like ``storage_factory``, but every instance it opens is closed after the test."""
        opened: list[Storage] = []

        def open_() -> Storage:
            store = storage_factory()
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()

    @pytest.fixture
    def storage(self, open_fresh: StorageFactory) -> Storage:
        store = open_fresh()
        store.create_schema()
        return store

    # -- schema -------------------------------------------------------------

    def test_new_database_is_not_initialized(self, open_fresh: StorageFactory) -> None:
        store = open_fresh()
        assert store.schema_version() is None
        with pytest.raises(NotInitializedError), store.read():
            pass

    def test_create_schema_is_idempotent(self, storage: Storage) -> None:
        storage.create_schema()
        assert storage.schema_version() == SCHEMA_VERSION

    def test_drop_schema_removes_everything(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
        storage.drop_schema()
        assert storage.schema_version() is None
        storage.create_schema()
        with storage.read() as s:
            assert s.balance(ALICE) == 0

    def test_newer_schema_is_refused(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
        other = open_fresh()
        with pytest.raises(SchemaVersionError), other.read():
            pass
        with pytest.raises(SchemaVersionError):
            other.create_schema()

    # -- sessions -------------------------------------------------------------

    def test_meta_round_trip(self, storage: Storage) -> None:
        with storage.write() as s:
            assert s.get_meta("k") is None
            s.set_meta("k", "v1")
            s.set_meta("k", "v2")
        with storage.read() as s:
            assert s.get_meta("k") == "v2"

    def test_insert_meta_refuses_existing_keys(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_meta("genesis", "a")
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_meta("genesis", "b")
        with storage.read() as s:
            assert s.get_meta("genesis") == "a"

    def test_exclusive_meta_lock_waits_for_shared_holders(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.set_meta("epoch", "1")
        order: list[str] = []
        shared_holds = threading.Event()

        def sealer() -> None:
            shared_holds.wait()
            with open_fresh().write() as s:
                s.lock_meta("epoch", exclusive=True)
                order.append("sealer")
                s.set_meta("epoch", "2")

        thread = threading.Thread(target=sealer)
        thread.start()
        with storage.write() as s:
            assert s.lock_meta("epoch", exclusive=False) == "1"
            shared_holds.set()
            thread.join(timeout=0.5)  # the sealer must still be waiting for us
            order.append("payment")
        thread.join()
        assert order == ["payment", "sealer"]
        with storage.read() as s:
            assert s.lock_meta("epoch", exclusive=False) == "2"

    def test_error_rolls_back_the_whole_session(self, storage: Storage) -> None:
        with pytest.raises(RuntimeError), storage.write() as s:
            s.insert_utxos([utxo(1)])
            s.set_meta("k", "v")
            raise RuntimeError("boom")
        with storage.read() as s:
            assert s.get_utxos([(h(1), 0)]) == {}
            assert s.get_meta("k") is None

    def test_another_instance_sees_committed_writes(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
        with open_fresh().read() as s:
            assert s.balance(ALICE) == 100

    def test_a_write_that_need_not_be_durable_is_atomic_and_seen_at_once(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        """``write(durable=False)`` (holds) may lose its commit in a crash, nothing more."""
        with pytest.raises(RuntimeError), storage.write(durable=False) as s:
            s.insert_utxos([utxo(1)])
            raise RuntimeError("boom")
        with storage.write(durable=False) as s:
            s.insert_utxos([utxo(2)])
        with open_fresh().read() as s:
            assert s.get_utxos([(h(1), 0)]) == {} and s.balance(ALICE) == 100
        with storage.write() as s:  # and the next durable write is as before
            s.insert_utxos([utxo(3)])
        with open_fresh().read() as s:
            assert s.balance(ALICE) == 200

    # -- entries --------------------------------------------------------------

    def test_entries_get_increasing_sequence_numbers(self, storage: Storage) -> None:
        with storage.write() as s:
            seqs = [s.insert_entry(entry(n, fee=n)) for n in (3, 1, 2)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        with storage.read() as s:
            got = s.get_entry(h(1))
            assert got is not None and got.fee == 1 and got.body == b"body1"
            assert got.seq == seqs[1] and got.block_height is None
            assert [e.entry_id for e in s.unsealed_entries(10)] == [h(3), h(1), h(2)]
            assert len(s.unsealed_entries(2)) == 2
            assert s.get_entry(h(99)) is None

    def test_many_entries_in_one_call_keep_their_order(self, storage: Storage) -> None:
        records = [entry(n) for n in (9, 3, 7, *range(100, 700))]
        with storage.write() as s:
            seqs = s.insert_entries(records)
            assert seqs == sorted(seqs) and len(set(seqs)) == len(records)
            found = s.get_entries([h(3), h(9), h(42), *(h(n) for n in range(100, 700))])
        assert set(found) == {h(3), h(9), *(h(n) for n in range(100, 700))}
        assert found[h(3)].seq == seqs[1]
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_entries([entry(1000), entry(7)])
        with storage.read() as s:
            assert s.get_entry(h(1000)) is None

    def test_same_entry_twice_in_one_call_is_refused(self, storage: Storage) -> None:
        with pytest.raises(StorageError), storage.write() as s:
            s.insert_entries([entry(1), entry(2), entry(1)])
        with storage.read() as s:
            assert s.get_entries([h(1), h(2)]) == {}

    def test_duplicate_entry_is_refused_and_changes_nothing(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_entry(entry(1))
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_entry(EntryRecord(entry_id=h(1), entry_type=2, body=b"other"))
        with storage.read() as s:
            assert s.get_entry(h(1)).body == b"body1"  # type: ignore[union-attr]
            assert len(s.unsealed_entries(10)) == 1

    def test_sealing_assigns_block_positions(self, storage: Storage) -> None:
        with storage.write() as s:
            for n in (1, 2, 3):
                s.insert_entry(entry(n))
            s.insert_block(block(1))
            s.seal_entries(1, [h(2), h(1)])
        with storage.read() as s:
            assert [e.entry_id for e in s.entries_in_block(1)] == [h(2), h(1)]
            assert [e.block_index for e in s.entries_in_block(1)] == [0, 1]
            assert [e.entry_id for e in s.unsealed_entries(10)] == [h(3)]
            sealed, unsealed = s.get_entry(h(1)), s.get_entry(h(3))
            assert sealed is not None and unsealed is not None
            assert s.entry_block_height(sealed.seq or 0) == 1
            assert s.entry_block_height(unsealed.seq or 0) is None
            assert s.entry_block_height(10**9) is None

    def test_sealing_unknown_or_sealed_entries_fails(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_entry(entry(1))
            s.seal_entries(1, [h(1)])
        for ids in ([h(1)], [h(42)]):
            with pytest.raises(StorageError), storage.write() as s:
                s.seal_entries(2, ids)
        with storage.read() as s:
            assert s.entries_in_block(2) == []

    # -- UTXOs ----------------------------------------------------------------

    def test_utxos_insert_get_balance(self, storage: Storage) -> None:
        big = 2**62 + 7  # exact integers far beyond a float's precision
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2, amount=big), utxo(3, owner=BOB, index=5)])
        with storage.read() as s:
            got = s.get_utxos([(h(1), 0), (h(3), 5), (h(9), 0)])
            assert set(got) == {(h(1), 0), (h(3), 5)}
            assert got[(h(3), 5)].owner == BOB
            assert s.balance(ALICE) == 100 + big
            assert isinstance(s.balance(ALICE), int)
            assert s.balance(b"\x00" * 32) == 0
            assert [u.txid for u in s.unspent_by_owner(ALICE)] == [h(1), h(2)]
            assert len(s.unspent_by_owner(ALICE, limit=1)) == 1

    def test_outputs_of_one_transaction_are_told_apart(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1, index=0), utxo(1, owner=BOB, amount=7, index=1)])
        with storage.read() as s:
            got = s.get_utxos([(h(1), 1), (h(1), 2)])
            assert set(got) == {(h(1), 1)}, "an output index that does not exist was found"
            assert (got[(h(1), 1)].owner, got[(h(1), 1)].amount) == (BOB, 7)
            assert got[(h(1), 1)].key == (h(1), 1)
        with pytest.raises(UnknownInputError), storage.write() as s:
            s.spend_utxos(spends([(h(1), 2)], h(50), 3))
        with storage.write() as s:
            s.spend_utxos(spends([(h(1), 1)], h(50), 3))
        with storage.read() as s:
            assert s.get_utxos([(h(1), 0)])[(h(1), 0)].spent_by is None
            assert (s.balance(ALICE), s.balance(BOB)) == (100, 0)

    def test_duplicate_output_is_refused(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_utxos([utxo(2), utxo(1, amount=5)])
        with storage.read() as s:
            assert s.get_utxos([(h(2), 0)]) == {}
            assert s.balance(ALICE) == 100

    def test_one_call_spends_for_many_entries(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2), utxo(3)])
            s.spend_utxos([((h(1), 0), h(50), 7), ((h(2), 0), h(51), 8)])
        with pytest.raises(StorageError), storage.write() as s:
            s.spend_utxos([((h(3), 0), h(52), 9), ((h(3), 0), h(53), 10)])
        with storage.read() as s:
            got = s.get_utxos([(h(1), 0), (h(2), 0), (h(3), 0)])
        assert [(got[(h(n), 0)].spent_by, got[(h(n), 0)].spent_seq) for n in (1, 2, 3)] == [
            (h(50), 7),
            (h(51), 8),
            (None, None),
        ]

    def test_spend_marks_spent_and_updates_balance(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
            s.spend_utxos(spends([(h(1), 0), (h(2), 0)], h(50), 7))
        with storage.read() as s:
            assert s.balance(ALICE) == 0
            assert s.unspent_by_owner(ALICE) == []
            rec = s.get_utxos([(h(1), 0)])[(h(1), 0)]
            assert rec.spent_by == h(50) and rec.spent_seq == 7

    @pytest.mark.parametrize(
        ("keys", "error"),
        [
            ([(h(1), 0)], InputSpentError),
            ([(h(2), 0), (h(1), 0)], InputSpentError),
            ([(h(2), 0), (h(9), 0)], UnknownInputError),
            ([(h(2), 1)], UnknownInputError),
        ],
    )
    def test_bad_spend_is_refused_whole(
        self, storage: Storage, keys: list[tuple[bytes, int]], error: type[FontanaError]
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
            s.spend_utxos(spends([(h(1), 0)], h(50), 1))
        with pytest.raises(error), storage.write() as s:
            s.spend_utxos(spends(keys, h(51), 2))
        with storage.read() as s:
            assert s.balance(ALICE) == 100  # utxo 2 still unspent
            assert s.get_utxos([(h(1), 0)])[(h(1), 0)].spent_by == h(50)

    def test_concurrent_conflicting_spends_have_one_winner(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
        stores = [open_fresh() for _ in range(6)]
        barrier = threading.Barrier(len(stores))
        outcomes: list[str] = []

        def spend(i: int, store: Storage) -> None:
            barrier.wait()
            try:
                with store.write() as s:
                    # Alternate input order: the backend must not deadlock on it.
                    keys = [(h(1), 0), (h(2), 0)] if i % 2 else [(h(2), 0), (h(1), 0)]
                    s.spend_utxos(spends(keys, h(100 + i), 100 + i))
                outcomes.append("won")
            except InputSpentError:
                outcomes.append("input_spent")

        threads = [threading.Thread(target=spend, args=(i, st)) for i, st in enumerate(stores)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(outcomes) == ["input_spent"] * 5 + ["won"]
        with storage.read() as s:
            spenders = {u.spent_by for u in s.get_utxos([(h(1), 0), (h(2), 0)]).values()}
        assert len(spenders) == 1

    def test_concurrent_conflicting_spends_from_processes_have_one_winner(
        self, storage: Storage, storage_factory: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
        ctx = multiprocessing.get_context("fork")
        barrier = ctx.Barrier(SPEND_PROCESSES)
        children = []
        for i in range(SPEND_PROCESSES):
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(
                target=_spend_in_child, args=(storage_factory, i, barrier, send), daemon=True
            )
            child.start()
            send.close()
            children.append((child, receive))
        outcomes = []
        for child, receive in children:
            if not receive.poll(_CHILD_TIMEOUT_S):
                outcomes.append("the spender process hung")
            else:
                try:
                    outcomes.append(receive.recv())
                except EOFError:
                    outcomes.append("the spender process died without an answer")
            child.join(timeout=_CHILD_TIMEOUT_S)
            if child.is_alive():
                child.kill()
        assert sorted(outcomes) == ["input_spent"] * (SPEND_PROCESSES - 1) + ["won"], outcomes
        with storage.read() as s:
            spenders = {u.spent_by for u in s.get_utxos([(h(1), 0), (h(2), 0)]).values()}
        assert len(spenders) == 1

    def test_unrelated_concurrent_spends_all_succeed(
        self, storage: Storage, open_fresh: StorageFactory
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(n) for n in range(8)])
        errors: list[BaseException] = []

        def spend(n: int) -> None:
            try:
                with open_fresh().write() as s:
                    s.spend_utxos(spends([(h(n), 0)], h(100 + n), 100 + n))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=spend, args=(n,)) for n in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        with storage.read() as s:
            assert s.balance(ALICE) == 0

    # -- blocks ---------------------------------------------------------------

    def test_blocks_and_commit_state(self, storage: Storage) -> None:
        with storage.write() as s:
            assert s.latest_block() is None
            for height in (0, 1, 2):
                s.insert_block(block(height))
            s.mark_committed(0, da_height=77, da_commitment=b"c" * 32)
        with storage.read() as s:
            assert s.latest_block() == block(2)
            assert s.get_block(1) == block(1)
            assert s.get_block(9) is None
            assert [b.height for b in s.uncommitted_blocks(10)] == [1, 2]
            committed = s.get_block(0)
            assert committed is not None and committed.committed
            assert (committed.da_height, committed.da_commitment) == (77, b"c" * 32)

    def test_duplicate_block_and_unknown_commit_are_refused(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_block(block(0))
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_block(block(0))
        with pytest.raises(StorageError), storage.write() as s:
            s.mark_committed(5, da_height=1, da_commitment=b"x")

    # -- bridge ---------------------------------------------------------------

    def test_deposits_are_recorded_once(self, storage: Storage) -> None:
        dep = DepositRecord(
            l1_tx_hash=h(1), log_index=3, entry_id=h(2), recipient=BOB, amount=5, l1_block=9
        )
        with storage.write() as s:
            assert s.insert_deposit(dep) is True
            assert s.insert_deposit(dep) is False
        with storage.read() as s:
            assert s.get_deposit(h(1), 3) == dep
            assert s.get_deposit(h(1), 4) is None

    def test_withdrawal_confirmation_is_idempotent(self, storage: Storage) -> None:
        w = WithdrawalRecord(burn_txid=h(1), l1_recipient=b"\x01" * 20, amount=9)
        with storage.write() as s:
            s.insert_withdrawal(w)
            assert s.confirm_withdrawal(h(1), l1_tx_hash=h(2), confirm_entry_id=h(3)) is True
            assert s.confirm_withdrawal(h(1), l1_tx_hash=h(2), confirm_entry_id=h(3)) is False
            with pytest.raises(KeyError):
                s.confirm_withdrawal(h(9), l1_tx_hash=h(2), confirm_entry_id=h(3))
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_withdrawal(w)
        with storage.read() as s:
            got = s.get_withdrawal(h(1))
            assert got is not None and got.status == "confirmed" and got.l1_tx_hash == h(2)

    # -- receipts and DA ----------------------------------------------------------

    def test_receipts(self, storage: Storage) -> None:
        r = ReceiptRecord(
            receipt_id=h(1), txid=h(2), payer=ALICE, payee=BOB, amount=3, body=b"r", issued_at_ms=1
        )
        with storage.write() as s:
            assert s.insert_receipt(r) is True
            assert s.insert_receipt(r) is False
        with storage.read() as s:
            assert s.get_receipt(h(1)) == r
            assert s.receipts_for(h(2)) == [r]
            assert s.receipts_for(h(3)) == []

    def test_da_submissions(self, storage: Storage) -> None:
        failed = DASubmissionRecord(block_height=0, attempted_at_ms=1, ok=False, error="timeout")
        ok = DASubmissionRecord(
            block_height=0, attempted_at_ms=2, ok=True, da_height=5, commitment=b"c"
        )
        with storage.write() as s:
            s.insert_block(block(0))
            s.record_da_submission(failed)
            s.record_da_submission(ok)
        with storage.read() as s:
            assert s.da_submissions(0) == [failed, ok]

    # -- state-tree nodes -----------------------------------------------------

    def test_tree_nodes_roots_and_pruning(self, storage: Storage) -> None:
        with storage.write() as s:
            assert s.latest_tree_version() is None
            s.put_tree_nodes({b"k1": b"n1", b"k2": b"n2", b"k3": b"n3"})
            s.put_tree_nodes({b"k1": b"n1"})  # rewriting an immutable node is harmless
            for version in (1, 2, 5):
                s.set_tree_root(version, b"k%d" % version)
            s.set_tree_root(6, b"")  # the empty tree
            s.add_stale_tree_nodes([(b"k1", 2), (b"k2", 5)])
        with pytest.raises(DuplicateError), storage.write() as s:
            s.set_tree_root(5, b"other")
        with storage.write() as s:
            assert s.prune_tree(keep_from_version=3) == 1
        with storage.read() as s:
            assert s.get_tree_node(b"k1") is None
            assert s.get_tree_node(b"k2") == b"n2"
            assert s.get_tree_node(b"k3") == b"n3"
            assert s.get_tree_root(2) is None
            assert s.get_tree_root(5) == b"k5"
            assert s.get_tree_root(6) == b""
            assert s.latest_tree_version() == 6

    # ==========================================================================
    # Counters, all-or-nothing schema creation, older schemas and integer ranges.
    # (Added with the ledger hardening of issue 7; kept as one block at the end
    # of the class so it merges apart from other changes to this suite.)
    # ==========================================================================

    def test_counter_set_get_and_add(self, storage: Storage) -> None:
        with storage.write() as s:
            assert s.get_counter("supply") is None
            s.set_counter("supply", 10)
            assert s.add_to_counter("supply", 5, maximum=100) == 15
            assert s.add_to_counter("supply", -15, maximum=100) == 0
            s.set_counter("supply", 7)
        with storage.read() as s:
            assert s.get_counter("supply") == 7

    @pytest.mark.parametrize("delta", [-8, 94, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), -(2**64 - 1)])
    def test_counter_never_leaves_its_range(self, storage: Storage, delta: int) -> None:
        with storage.write() as s:
            s.set_counter("supply", 7)
        with storage.write() as s:
            assert s.add_to_counter("supply", delta, maximum=100) is None
            assert s.get_counter("supply") == 7
        with storage.write() as s:  # the bound itself is reachable
            assert s.add_to_counter("supply", 93, maximum=100) == 100
            assert s.add_to_counter("supply", 2**63 - 1 - 100, maximum=2**63 - 1) == 2**63 - 1
            assert s.add_to_counter("supply", 1, maximum=2**63 - 1) is None

    def test_adding_to_a_missing_counter_is_a_storage_error(self, storage: Storage) -> None:
        with pytest.raises(StorageError), storage.write() as s:
            s.add_to_counter("nothing", 1, maximum=100)

    def test_concurrent_counter_additions_are_never_lost(
        self, storage: Storage, open_fresh: Callable[[], Storage]
    ) -> None:
        with storage.write() as s:
            s.set_counter("supply", 0)
        threads, adds, errors = 4, 25, []
        stores = [open_fresh() for _ in range(threads)]
        start = threading.Barrier(threads)

        def add(store: Storage, n: int) -> None:
            try:
                start.wait(timeout=30)
                for _ in range(adds):
                    with store.write() as s:
                        assert s.add_to_counter("supply", n, maximum=2**63 - 1) is not None
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [
            threading.Thread(target=add, args=(store, n + 1)) for n, store in enumerate(stores)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        with storage.read() as s:
            assert s.get_counter("supply") == adds * sum(range(1, threads + 1))

    def test_set_meta_creates_a_key_once_under_concurrency(
        self, storage: Storage, open_fresh: Callable[[], Storage]
    ) -> None:
        first_wrote = threading.Event()
        errors: list[BaseException] = []

        def second() -> None:
            try:
                first_wrote.wait(timeout=30)
                with open_fresh().write() as s:
                    s.set_meta("status", "second")
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        with storage.write() as s:
            s.set_meta("status", "first")
            first_wrote.set()
            thread.join(timeout=0.5)  # the second writer waits for us, then overwrites
        thread.join()
        assert errors == []
        with storage.read() as s:
            assert s.get_meta("status") == "second"

    def test_create_is_all_or_nothing(self, open_fresh: Callable[[], Storage]) -> None:
        store = open_fresh()
        with pytest.raises(RuntimeError), store.create() as s:
            s.insert_meta("genesis", "g")
            s.insert_utxos([utxo(1)])
            raise RuntimeError("failure in the middle of creating a ledger")
        assert store.schema_version() is None
        with store.create() as s:
            s.insert_meta("genesis", "g")
        with store.create() as s:  # an existing schema: a plain write session
            assert s.get_meta("genesis") == "g"
        assert open_fresh().schema_version() == SCHEMA_VERSION

    def test_older_schema_is_refused(
        self, storage: Storage, open_fresh: Callable[[], Storage]
    ) -> None:
        with storage.write() as s:
            s.set_meta("schema_version", str(SCHEMA_VERSION - 1))
        other = open_fresh()
        with pytest.raises(SchemaVersionError), other.read():
            pass
        with pytest.raises(SchemaVersionError):
            other.create_schema()
        assert other.schema_version() == SCHEMA_VERSION - 1  # refused, not migrated

    @pytest.mark.parametrize("value", [2**31, 2**32, 2**63 - 1])
    def test_u64_values_up_to_2_63_are_stored_whole(self, storage: Storage, value: int) -> None:
        dep = DepositRecord(h(1), value, h(2), BOB, value, value)
        stored_block = attrs.evolve(block(value), tx_count=value, timestamp_ms=value)
        receipt = ReceiptRecord(h(3), h(4), ALICE, BOB, value, b"r", value)
        submission = DASubmissionRecord(value, value, True, value, b"c")
        with storage.write() as s:
            assert s.insert_deposit(dep) is True
            s.insert_block(stored_block)
            s.mark_committed(value, da_height=value, da_commitment=b"c")
            assert s.insert_receipt(receipt) is True
            s.record_da_submission(submission)
        with storage.read() as s:
            assert s.get_deposit(h(1), value) == dep
            committed = attrs.evolve(
                stored_block, committed=True, da_height=value, da_commitment=b"c"
            )
            assert s.get_block(value) == committed
            assert s.get_receipt(h(3)) == receipt
            assert s.da_submissions(value) == [submission]

    @pytest.mark.parametrize("value", [2**63, 2**64 - 1])
    def test_values_beyond_2_63_are_out_of_range_and_change_nothing(
        self, storage: Storage, value: int
    ) -> None:
        with storage.write() as s:
            s.insert_block(block(0))
        writes: list[Callable[[StorageSession], object]] = [
            lambda s: s.insert_deposit(DepositRecord(h(1), value, h(2), BOB, 5, 9)),
            lambda s: s.insert_deposit(DepositRecord(h(1), 3, h(2), BOB, 5, value)),
            lambda s: s.insert_block(block(value)),
            lambda s: s.insert_block(attrs.evolve(block(1), timestamp_ms=value)),
            lambda s: s.insert_block(attrs.evolve(block(1), da_height=value)),
            lambda s: s.mark_committed(0, da_height=value, da_commitment=b"c"),
            lambda s: s.insert_receipt(ReceiptRecord(h(3), h(4), ALICE, BOB, value, b"r", 1)),
            lambda s: s.insert_receipt(ReceiptRecord(h(3), h(4), ALICE, BOB, 1, b"r", value)),
            lambda s: s.record_da_submission(DASubmissionRecord(0, 1, True, value, b"c")),
            lambda s: s.set_counter("supply", value),
        ]
        for write in writes:
            with pytest.raises(OutOfRangeError), storage.write() as s:
                write(s)
        with storage.read() as s:
            assert s.get_deposit(h(1), 3) is None
            assert s.get_deposit(h(1), value) is None
            assert s.get_block(value) is None
            assert s.latest_block() == block(0)
            assert s.get_receipt(h(3)) is None
            assert s.da_submissions(0) == []
            assert s.get_counter("supply") is None

    def test_pruning_keeps_exactly_the_kept_versions(self, storage: Storage) -> None:
        """Nodes stale since a version <= keep go, later ones stay; roots below keep go."""
        keep = 4
        with storage.write() as s:
            s.put_tree_nodes({b"n%d" % v: b"node %d" % v for v in range(1, 7)})
            for version in range(1, 7):
                s.set_tree_root(version, b"r%d" % version)
            s.add_stale_tree_nodes([(b"n%d" % v, v) for v in range(2, 7)])
        with storage.write() as s:
            assert s.prune_tree(keep_from_version=keep) == keep - 1  # stale since 2, 3, 4
        with storage.read() as s:
            gone = [v for v in range(1, 7) if s.get_tree_node(b"n%d" % v) is None]
            assert gone == [2, 3, 4], "nodes stale since a version <= keep go, no others"
            roots = [v for v in range(1, 7) if s.get_tree_root(v) is not None]
            assert roots == [4, 5, 6], "roots of versions >= keep stay, older ones go"
            assert s.latest_tree_version() == 6
        with storage.write() as s:
            assert s.prune_tree(keep_from_version=keep) == 0  # pruning again finds nothing

    # ==========================================================================
    # Holds on UTXOs and settled paid calls (issue 8), kept as one block at the
    # end of the class so it merges apart from other changes to this suite.
    # ==========================================================================

    def _held(self, storage: Storage, *keys: tuple[bytes, int]) -> list[tuple[Any, Any]]:
        with storage.read() as s:
            got = s.get_utxos(list(keys))
        return [(got[k].held_by, got[k].held_until_ms) for k in keys]

    def test_a_hold_is_read_with_its_utxo_and_released(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2), utxo(3)])
            s.hold_utxos([(h(2), 0), (h(1), 0)], h(50), UNTIL, NOW)
        assert self._held(storage, (h(1), 0), (h(2), 0), (h(3), 0)) == [
            (h(50), UNTIL),
            (h(50), UNTIL),
            (None, None),
        ]
        with storage.read() as s:
            assert s.balance(ALICE) == 300, "a held output is still unspent"
            assert len(s.unspent_by_owner(ALICE)) == 3
        with storage.write() as s:
            assert s.release_holds(h(51), NOW) is False, "another payment holds nothing"
            assert s.release_holds(h(50), NOW) is True
            assert s.release_holds(h(50), NOW) is False, "released already"
        assert self._held(storage, (h(1), 0), (h(2), 0)) == [(None, None)] * 2

    def test_a_live_hold_refuses_other_holds_whole(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2), utxo(3)])
            s.hold_utxos([(h(1), 0)], h(50), UNTIL, NOW)
        for holder, error in ((h(51), InputHeldError), (h(50), PaymentInFlightError)):
            with pytest.raises(error), storage.write() as s:
                # The free outputs come first in lock order: they must not stay held.
                s.hold_utxos([(h(3), 0), (h(2), 0), (h(1), 0)], holder, UNTIL + 5, UNTIL - 1)
        assert self._held(storage, (h(1), 0), (h(2), 0), (h(3), 0)) == [
            (h(50), UNTIL),
            (None, None),
            (None, None),
        ]

    @pytest.mark.parametrize("holder", [50, 51])
    def test_an_expired_hold_is_replaced(self, storage: Storage, holder: int) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
            s.hold_utxos([(h(1), 0)], h(50), UNTIL, NOW)
        with storage.write() as s:  # a hold until UNTIL is over at UNTIL
            s.hold_utxos([(h(1), 0)], h(holder), UNTIL + 10, UNTIL)
        assert self._held(storage, (h(1), 0)) == [(h(holder), UNTIL + 10)]

    @pytest.mark.parametrize(
        ("keys", "error"),
        [
            ([(h(2), 0), (h(9), 0)], UnknownInputError),
            ([(h(1), 1)], UnknownInputError),
            ([(h(2), 0), (h(1), 0)], InputSpentError),
        ],
    )
    def test_hold_refuses_unknown_and_spent_inputs_whole(
        self, storage: Storage, keys: list[tuple[bytes, int]], error: type[FontanaError]
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
            s.spend_utxos(spends([(h(1), 0)], h(50), 1))
        with pytest.raises(error), storage.write() as s:
            s.hold_utxos(keys, h(60), UNTIL, NOW)
        assert self._held(storage, (h(2), 0)) == [(None, None)]

    def test_same_outpoint_twice_in_one_hold_is_refused(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
        with pytest.raises(StorageError), storage.write() as s:
            s.hold_utxos([(h(1), 0), (h(1), 0)], h(50), UNTIL, NOW)

    def test_a_spend_honours_live_holds_of_others_only(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(n) for n in (1, 2, 3, 4, 5)])
            s.hold_utxos([(h(1), 0)], h(50), UNTIL, NOW)
            s.hold_utxos([(h(2), 0)], h(51), UNTIL, NOW)
            s.hold_utxos([(h(5), 0)], h(52), UNTIL, NOW)
        with pytest.raises(InputHeldError), storage.write() as s:
            s.spend_utxos(spends([(h(3), 0), (h(1), 0)], h(51), 7), holds_at_ms=NOW)
        assert self._held(storage, (h(1), 0)) == [(h(50), UNTIL)]
        with storage.read() as s:
            assert s.get_utxos([(h(3), 0)])[(h(3), 0)].spent_seq is None, "refused whole"
        with storage.write() as s:
            s.spend_utxos(spends([(h(2), 0), (h(3), 0)], h(51), 7), holds_at_ms=NOW)  # its own
            s.spend_utxos(spends([(h(1), 0)], h(53), 8), holds_at_ms=UNTIL)  # expired by then
            s.spend_utxos(spends([(h(5), 0)], h(54), 9))  # holds ignored (replay)
        with storage.read() as s:
            got = s.get_utxos([(h(n), 0) for n in (1, 2, 3, 5)])
        records = [got[(h(n), 0)] for n in (1, 2, 3, 5)]
        assert [(r.spent_by, r.held_by, r.held_until_ms) for r in records] == [
            (by, None, None) for by in (h(53), h(51), h(51), h(54))
        ], "a spend clears the hold"
        with storage.write() as s:
            assert s.release_holds(h(50), NOW) is False

    def test_release_reports_only_live_holds_and_clears_all(self, storage: Storage) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
            s.hold_utxos([(h(1), 0), (h(2), 0)], h(50), UNTIL, NOW)
        with storage.write() as s:
            assert s.release_holds(h(50), UNTIL) is False, "expired: nothing live was held"
        assert self._held(storage, (h(1), 0), (h(2), 0)) == [(None, None)] * 2

    @pytest.mark.parametrize(
        "roles",
        [
            ["hold:300", "hold:301", "hold:300", "hold:302"],
            ["hold:300", "spend", "hold:301", "spend"],
        ],
        ids=["holds", "holds-and-spends"],
    )
    def test_concurrent_holds_and_spends_from_processes_have_one_winner(
        self, storage: Storage, storage_factory: StorageFactory, roles: list[str]
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1), utxo(2)])
        ctx = multiprocessing.get_context("fork")
        barrier = ctx.Barrier(len(roles))
        children = []
        for i, role in enumerate(roles):
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(
                target=_hold_or_spend_in_child,
                args=(storage_factory, role, i, barrier, send),
                daemon=True,
            )
            child.start()
            send.close()
            children.append((child, receive))
        outcomes = []
        for child, receive in children:
            outcomes.append(receive.recv() if receive.poll(_CHILD_TIMEOUT_S) else "hung")
            child.join(timeout=_CHILD_TIMEOUT_S)
            if child.is_alive():
                child.kill()
        assert outcomes.count("won") == 1, outcomes
        winner = roles[outcomes.index("won")]
        # Losers to a spend find the inputs spent; to a hold, held (by themselves: in flight).
        expected = [
            "won"
            if outcome == "won"
            else "input_spent"
            if winner == "spend"
            else "payment_in_flight"
            if role == winner
            else "input_held"
            for role, outcome in zip(roles, outcomes, strict=True)
        ]
        assert outcomes == expected
        with storage.read() as s:
            got = list(s.get_utxos([(h(1), 0), (h(2), 0)]).values())
        if winner == "spend":
            spender = h(200 + outcomes.index("won"))
            assert [(r.spent_by, r.held_by) for r in got] == [(spender, None)] * 2
        else:
            holder = h(int(winner.split(":")[1]))
            assert [(r.spent_seq, r.held_by) for r in got] == [(None, holder)] * 2

    def test_settlements_round_trip_with_their_receipts(self, storage: Storage) -> None:
        cached, bare = settlement(1, h(10)), settlement(2, h(11), cached=False)
        with storage.write() as s:
            s.insert_settlements([cached, bare])
        with storage.read() as s:
            assert s.get_settlements([h(11), h(12), h(10)]) == {h(10): cached, h(11): bare}
            assert s.get_settlements([]) == {}
            assert s.get_receipt(h(1)) == cached.receipt
            assert s.receipts_for(h(11)) == [bare.receipt]

    def test_many_settlements_in_one_call(self, storage: Storage) -> None:
        records = [settlement(n, h(1000 + n), cached=n % 2 == 0) for n in range(700)]
        with storage.write() as s:
            s.insert_settlements(records)
        with storage.read() as s:
            found = s.get_settlements([r.txid for r in records])
        assert found == {r.txid: r for r in records}

    def test_a_payment_is_settled_once(self, storage: Storage) -> None:
        first = settlement(1, h(10))
        with storage.write() as s:
            s.insert_receipt(first.receipt)  # a receipt stored before is kept, not refused
            s.insert_settlements([first])
        with pytest.raises(DuplicateError), storage.write() as s:
            s.insert_settlements([settlement(3, h(11)), settlement(2, h(10), cached=False)])
        with pytest.raises(StorageError), storage.write() as s:
            s.insert_settlements([settlement(4, h(12)), settlement(5, h(12))])
        with storage.read() as s:
            assert s.get_settlements([h(10), h(11), h(12)]) == {h(10): first}
            assert [s.get_receipt(h(n)) for n in (2, 3, 4, 5)] == [None] * 4

    @pytest.mark.parametrize("value", [2**63, 2**64 - 1])
    def test_hold_and_settlement_values_beyond_2_63_are_out_of_range(
        self, storage: Storage, value: int
    ) -> None:
        with storage.write() as s:
            s.insert_utxos([utxo(1)])
        writes: list[Callable[[StorageSession], object]] = [
            lambda s: s.hold_utxos([(h(1), 0)], h(50), value, NOW),
            lambda s: s.insert_settlements(
                [SettlementRecord(h(10), receipt(1, h(10), amount=value))]
            ),
            lambda s: s.insert_settlements(
                [SettlementRecord(h(10), attrs.evolve(receipt(1, h(10)), issued_at_ms=value))]
            ),
        ]
        for write in writes:
            with pytest.raises(OutOfRangeError), storage.write() as s:
                write(s)
        assert self._held(storage, (h(1), 0)) == [(None, None)]
        with storage.read() as s:
            assert s.get_settlements([h(10)]) == {}
            assert s.get_receipt(h(1)) is None
