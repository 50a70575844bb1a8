"""The ledger: validates state changes and applies each atomically.

Checks run cheapest first and signatures before any database work, so a
flood of bad payments never holds a lock. Everything that changes state
(payments, credited deposits, withdrawal confirmations, fee credits) is an
*entry* in one ordered log; the sequencer cuts that log into blocks, which
is why the genesis file plus the blocks reproduce the whole state.

Time: a transaction is valid in a block iff ``expiry_ms >= block timestamp``.
A block's timestamp is the moment its collection window opened (when the previous
block was cut), kept in storage as the ``open_block_ts`` epoch value. Payments
read it under a shared lock and sealing takes it exclusively, so the block
that carries a payment is always the one whose timestamp the payment was
checked against, and replaying blocks gives the same verdicts without any
wall clock. Payments are also refused once the wall clock passes their expiry
(a stricter check, so replay never disagrees).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs
from nacl.signing import SigningKey

from fontana.errors import (
    AmountOverflowError,
    BadSignatureError,
    DepositConflictError,
    DuplicateError,
    ExpiredError,
    FeeTooLowError,
    FontanaError,
    InputSpentError,
    InsufficientFundsError,
    NotInitializedError,
    RecoveryError,
    RejectedError,
    UnknownInputError,
    UnknownWithdrawalError,
    ValueMismatchError,
    WrongChainError,
)
from fontana.hashing import merkle_root
from fontana.interfaces import ProofProvider
from fontana.ledger.changes import created_utxos, tree_updates
from fontana.models import (
    UTXO,
    Block,
    BlockHeader,
    Deposit,
    Entry,
    EntryType,
    FeeCredit,
    Genesis,
    OutPoint,
    SignedHeader,
    Transaction,
    WithdrawalConfirmation,
    decode_entry,
    entry_id,
    utxo_key,
)
from fontana.storage.base import (
    BlockRecord,
    DepositRecord,
    EntryRecord,
    OutPointKey,
    Spend,
    Storage,
    StorageSession,
    UtxoRecord,
    WithdrawalRecord,
)

#: Largest amount or sum the ledger holds: databases store signed 64-bit integers.
MAX_LEDGER_AMOUNT = 2**63 - 1

META_GENESIS = "genesis"
META_OPEN_TS = "open_block_ts"
META_SUPPLY = "supply"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class ApplyResult:
    """A payment the ledger holds; ``already_applied`` when it was a resubmission."""

    txid: bytes
    seq: int
    fee: int
    already_applied: bool = False


@attrs.frozen
class DepositResult:
    entry_id: bytes
    utxo: UTXO
    credited: bool  # False: this L1 event was credited before


@attrs.frozen
class TxStatus:
    """``pending`` (applied, not yet in a block), ``sealed`` or ``unknown``."""

    state: str
    seq: int | None = None
    block_height: int | None = None


def _checked_sum(amounts: Sequence[int], what: str) -> int:
    total = sum(amounts)
    if total > MAX_LEDGER_AMOUNT:
        raise AmountOverflowError(f"{what} total {total} utia exceeds {MAX_LEDGER_AMOUNT}")
    return total


class Ledger:
    """One chain's ledger on one storage; safe to use from many processes at once."""

    def __init__(
        self,
        storage: Storage,
        proofs: ProofProvider,
        genesis: Genesis,
        clock: Callable[[], int] = now_ms,
        keep_versions: int = 0,
    ) -> None:
        self.storage = storage
        self.proofs = proofs
        self.genesis = genesis
        #: Tree versions (blocks) kept provable; older ones are pruned as blocks
        #: are sealed. 0 keeps every version.
        self.keep_versions = keep_versions
        self.chain_id = genesis.chain_id
        self.min_fee = genesis.min_fee
        self.clock = clock

    @classmethod
    def load(
        cls,
        storage: Storage,
        proofs: ProofProvider,
        clock: Callable[[], int] = now_ms,
        keep_versions: int = 0,
    ) -> Ledger:
        """The ledger a ``fontana genesis`` run created in ``storage``."""
        with storage.read() as s:
            raw = s.get_meta(META_GENESIS)
        if raw is None:
            raise NotInitializedError(
                f"{storage.url} has no genesis; run `fontana genesis genesis.json` first"
            )
        genesis = Genesis.from_bytes(bytes.fromhex(raw))
        return cls(storage, proofs, genesis, clock, keep_versions)

    # -- payments -----------------------------------------------------------------

    def check_stateless(self, tx: Transaction) -> tuple[bytes, bytes]:
        """Everything that needs neither database nor clock; returns txid and encoding.

        Signatures are checked here, before any lock is taken, so a flood of
        forged payments never holds up honest ones.
        """
        if tx.chain_id != self.chain_id:
            raise WrongChainError(
                f"transaction is for chain {tx.chain_id!r}, not {self.chain_id!r}"
            )
        if tx.fee < self.min_fee:
            raise FeeTooLowError(f"fee {tx.fee} utia is below the minimum {self.min_fee}")
        if not tx.witnesses:
            raise BadSignatureError("transaction is not signed")
        txid, encoded = tx.txid_and_bytes()
        if not all(w.verify(txid) for w in tx.witnesses):
            raise BadSignatureError("a signature does not verify")
        return txid, encoded

    def _check_inputs(
        self,
        tx: Transaction,
        keys: list[OutPointKey],
        view: dict[OutPointKey, UtxoRecord],
        spent_here: set[OutPointKey],
    ) -> None:
        """Inputs exist, are unspent, are signed for by their owners, and balance."""
        for key in keys:
            record = view.get(key)
            if record is None:
                raise UnknownInputError(f"input {key[0].hex()}:{key[1]} does not exist")
            if record.spent_seq is not None or key in spent_here:
                raise InputSpentError(f"input {key[0].hex()}:{key[1]} is spent already")
        owners = {view[k].owner for k in keys}
        signers = {w.pubkey for w in tx.witnesses}
        if owners != signers:
            missing = owners - signers
            raise BadSignatureError(
                f"missing signature of input owner {next(iter(missing)).hex()}"
                if missing
                else "signed by a key that owns no input"
            )
        total_in = sum(view[k].amount for k in keys)  # bounded by the supply
        burn = tx.withdrawal.amount if tx.withdrawal is not None else 0
        total_out = _checked_sum([o.amount for o in tx.outputs] + [tx.fee, burn], "output")
        if total_in < total_out:
            raise InsufficientFundsError(
                f"inputs hold {total_in} utia, outputs + fee{' + burn' if burn else ''} "
                f"need {total_out}"
            )
        if total_in > total_out:
            raise ValueMismatchError(
                f"inputs hold {total_in} utia but outputs + fee account for {total_out}; "
                "add a change output"
            )

    def _apply_many(
        self,
        s: StorageSession,
        items: Sequence[tuple[Transaction, tuple[bytes, bytes]]],
        deadline_ms: int,
        applied_at_ms: int,
    ) -> list[ApplyResult | RejectedError]:
        """Judge and write many payments in the caller's session, each on its own.

        One read of every input and one write per table for the whole batch;
        payments later in the batch see the spends and outputs of earlier
        ones, exactly as if each had been applied alone, in order.
        """
        results: list[ApplyResult | RejectedError | int] = []
        view = s.get_utxos(list({(i.txid, i.index) for tx, _ in items for i in tx.inputs}))
        applied_before = s.get_entries([txid for _, (txid, _) in items])
        spent_here: set[OutPointKey] = set()
        first: dict[bytes, int] = {}
        accepted: list[tuple[int, Transaction, bytes, bytes, list[OutPointKey]]] = []
        for n, (tx, (txid, encoded)) in enumerate(items):
            if txid in first:  # the same payment twice in one batch
                results.append(first[txid])
                continue
            existing = applied_before.get(txid)
            if existing is not None:
                results.append(ApplyResult(txid, existing.seq or 0, existing.fee, True))
                continue
            keys = [(i.txid, i.index) for i in tx.inputs]
            try:
                if tx.expiry_ms < deadline_ms:
                    raise ExpiredError(f"transaction expired at {tx.expiry_ms} ({deadline_ms})")
                self._check_inputs(tx, keys, view, spent_here)
            except RejectedError as exc:
                results.append(exc)
                continue
            spent_here.update(keys)
            for j, out in enumerate(tx.outputs):
                view[(txid, j)] = UtxoRecord(txid, j, out.owner, out.amount)
            first[txid] = n
            accepted.append((n, tx, txid, encoded, keys))
            results.append(n)  # filled in below
        spends: list[Spend] = []
        outputs: list[UtxoRecord] = []
        burned = 0
        seqs = s.insert_entries(
            [
                EntryRecord(txid, EntryType.TRANSACTION, encoded, tx.fee, applied_at_ms)
                for _, tx, txid, encoded, _ in accepted
            ]
        )
        for (n, tx, txid, _, keys), seq in zip(accepted, seqs, strict=True):
            spends.extend((key, txid, seq) for key in keys)
            outputs.extend(
                UtxoRecord(txid, j, o.owner, o.amount, created_seq=seq)
                for j, o in enumerate(tx.outputs)
            )
            if tx.withdrawal is not None:
                s.insert_withdrawal(
                    WithdrawalRecord(txid, tx.withdrawal.l1_recipient, tx.withdrawal.amount)
                )
                burned += tx.withdrawal.amount
            results[n] = ApplyResult(txid, seq, tx.fee)
        s.insert_utxos(outputs)  # first: a later payment may spend an earlier one's output
        s.spend_utxos(spends)
        if burned:
            self._change_supply(s, -burned)
        return [
            results[r] if isinstance(r, int) and not isinstance(r, bool) else r  # type: ignore[misc]
            for r in results
        ]

    def apply_transactions(self, txs: Sequence[Transaction]) -> list[ApplyResult | RejectedError]:
        """Validate and apply many payments in one database transaction (group commit).

        Each payment is judged on its own, in order: a rejected one changes
        nothing and does not affect the others. Returns, per payment, its
        result or its typed rejection.
        """
        wall = self.clock()
        results: list[ApplyResult | RejectedError | None] = [None] * len(txs)
        items: list[tuple[Transaction, tuple[bytes, bytes]]] = []
        where: list[int] = []
        for n, tx in enumerate(txs):
            try:
                items.append((tx, self.check_stateless(tx)))
                where.append(n)
            except RejectedError as exc:
                results[n] = exc
        if items:
            try:
                with self.storage.write() as s:
                    block_ts = self._epoch(s, exclusive=False)
                    applied = self._apply_many(s, items, max(block_ts, wall), wall)
            except (InputSpentError, DuplicateError):
                # Another process won a race after our read; judge each payment alone.
                applied = [self._apply_alone(tx) for tx, _ in items]
            for n, result in zip(where, applied, strict=True):
                results[n] = result
        return results  # type: ignore[return-value]

    def _apply_alone(self, tx: Transaction) -> ApplyResult | RejectedError:
        try:
            with self.storage.write() as s:
                block_ts = self._epoch(s, exclusive=False)
                wall = self.clock()
                item = (tx, tx.txid_and_bytes())
                return self._apply_many(s, [item], max(block_ts, wall), wall)[0]
        except (InputSpentError, DuplicateError) as exc:
            status = self.transaction_status(tx.txid)  # lost to itself (a retry) or a double spend
            if status.state == "unknown":
                return exc
            return ApplyResult(tx.txid, status.seq or 0, tx.fee, already_applied=True)

    def apply_transaction(self, tx: Transaction) -> ApplyResult:
        """Validate and apply one payment atomically; typed error and no change otherwise."""
        result = self.apply_transactions([tx])[0]
        if isinstance(result, RejectedError):
            raise result
        return result

    def _change_supply(self, s: StorageSession, delta: int) -> None:
        """Track all value in existence, so no sum of balances can overflow storage."""
        supply = int(s.get_meta(META_SUPPLY) or 0) + delta
        if supply > MAX_LEDGER_AMOUNT:
            raise AmountOverflowError(
                f"the ledger would hold {supply} utia, above its limit of {MAX_LEDGER_AMOUNT}"
            )
        s.set_meta(META_SUPPLY, str(supply))

    # -- bridge events -------------------------------------------------------------

    def _credit_deposit(self, s: StorageSession, deposit: Deposit, at_ms: int) -> bool:
        if deposit.amount > MAX_LEDGER_AMOUNT:  # before storage sees a value it cannot hold
            raise AmountOverflowError(f"deposit of {deposit.amount} utia is too large")
        did = deposit.id
        fresh = s.insert_deposit(
            DepositRecord(
                deposit.l1_tx_hash,
                deposit.log_index,
                did,
                deposit.recipient,
                deposit.amount,
                deposit.l1_block,
            )
        )
        if not fresh:
            recorded = s.get_deposit(deposit.l1_tx_hash, deposit.log_index)
            if recorded is not None and recorded.entry_id != did:
                raise DepositConflictError(
                    f"L1 event {deposit.l1_tx_hash.hex()}:{deposit.log_index} was credited as "
                    f"deposit {recorded.entry_id.hex()} and is now reported with other contents "
                    "(reorg or a faulty watcher?); nothing was credited"
                )
        if fresh:
            self._change_supply(s, deposit.amount)
            seq = s.insert_entry(EntryRecord(did, EntryType.DEPOSIT, deposit.to_bytes(), 0, at_ms))
            s.insert_utxos([_record(u, seq) for u in created_utxos(deposit)])
        return fresh

    def process_deposit_event(self, deposit: Deposit) -> DepositResult:
        """Credit an L1 deposit once, whatever the number of deliveries."""
        with self.storage.write() as s:
            self._epoch(s, exclusive=False)
            fresh = self._credit_deposit(s, deposit, self.clock())
        return DepositResult(deposit.id, created_utxos(deposit)[0], credited=fresh)

    def _confirm_withdrawal(
        self, s: StorageSession, confirmation: WithdrawalConfirmation, at_ms: int
    ) -> bool:
        if s.get_withdrawal(confirmation.burn_txid) is None:
            raise UnknownWithdrawalError(
                f"no withdrawal burn {confirmation.burn_txid.hex()} on this ledger"
            )
        cid = confirmation.id
        if not s.confirm_withdrawal(confirmation.burn_txid, confirmation.l1_tx_hash, cid):
            return False
        s.insert_entry(
            EntryRecord(cid, EntryType.WITHDRAWAL_CONFIRMATION, confirmation.to_bytes(), 0, at_ms)
        )
        return True

    def process_withdrawal_event(self, confirmation: WithdrawalConfirmation) -> bool:
        """Mark a burn released on L1; ``False`` if it already was."""
        with self.storage.write() as s:
            self._epoch(s, exclusive=False)
            return self._confirm_withdrawal(s, confirmation, self.clock())

    # -- blocks ----------------------------------------------------------------

    def _epoch(self, s: StorageSession, *, exclusive: bool) -> int:
        value = s.lock_meta(META_OPEN_TS, exclusive=exclusive)
        if value is None:
            raise NotInitializedError(f"{self.storage.url} has no genesis")
        return int(value)

    def _credit_fees(self, s: StorageSession, credit: FeeCredit, at_ms: int) -> None:
        seq = s.insert_entry(
            EntryRecord(credit.id, EntryType.FEE_CREDIT, credit.to_bytes(), 0, at_ms)
        )
        s.insert_utxos([_record(u, seq) for u in created_utxos(credit)])

    def _commit_block(
        self,
        s: StorageSession,
        entries: Sequence[Entry],
        header_for_root: Callable[[bytes, list[bytes]], SignedHeader],
        da_ref: tuple[int, bytes] | None = None,
    ) -> SignedHeader:
        """Tree batch, block row and entry sealing: the common end of sealing and replay."""
        ids = [entry_id(e) for e in entries]
        height = s.latest_block().height + 1  # type: ignore[union-attr]
        root = self.proofs.apply_batch(s, height, tree_updates(entries))
        signed = header_for_root(root, ids)
        s.insert_block(block_record(signed, committed=da_ref is not None, da_ref=da_ref))
        s.seal_entries(signed.header.height, ids)
        if self.keep_versions and height >= self.keep_versions:
            self.proofs.prune(s, height - self.keep_versions + 1)
        return signed

    def seal_block(
        self,
        signer: SigningKey,
        *,
        max_entries: int = 50_000,
        max_entry_bytes: int | None = None,
        guard: Callable[[StorageSession], None] | None = None,
    ) -> Block:
        """Cut the pending entries into the next block, with its fee credit and state root.

        The tree batch, the block and the sealing of its entries commit in one
        database transaction, so each header's root is exactly the tree's root
        at that height. Entries that do not fit (``max_entries``,
        ``max_entry_bytes`` of encoded entries) wait for the next block, which
        then keeps this block's timestamp so their expiry checks still hold.
        ``guard`` runs inside the transaction first; raising aborts the seal
        (the sequencer uses it to check that it still holds its lease).
        """
        proposer = bytes(signer.verify_key)
        with self.storage.write() as s:
            block_ts = self._epoch(s, exclusive=True)
            cut_ms = self.clock()  # the next window opens now: later payments are its
            if guard is not None:
                guard(s)
            prev = s.latest_block()
            if prev is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            height = prev.height + 1
            pending = s.unsealed_entries(max_entries + 1)
            records: list[EntryRecord] = []
            size = 0
            for record in pending[:max_entries]:
                entry_size = len(record.body) + 5
                if max_entry_bytes is not None and size + entry_size > (
                    max_entry_bytes - FEE_ENTRY_ROOM
                ):
                    break
                records.append(record)
                size += entry_size
            leftovers = len(records) < len(pending)
            entries: list[Entry] = [decode_entry_record(r) for r in records]
            fees = _checked_sum([r.fee for r in records], "fee")
            if fees:
                credit = FeeCredit(height, proposer, fees)
                self._credit_fees(s, credit, block_ts)
                entries.append(credit)

            def header(root: bytes, ids: list[bytes]) -> SignedHeader:
                return SignedHeader.sign(
                    BlockHeader(
                        version=1,
                        chain_id=self.chain_id,
                        height=height,
                        prev_hash=prev.hash,
                        timestamp_ms=block_ts,
                        tx_root=merkle_root(ids),
                        state_root=root,
                        tx_count=len(ids),
                        proposer=proposer,
                    ),
                    signer,
                )

            signed = self._commit_block(s, entries, header)
            if not leftovers:
                s.set_meta(META_OPEN_TS, str(max(cut_ms, block_ts)))
        return Block(signed, tuple(entries))

    def replay_block(self, block: Block, da_ref: tuple[int, bytes] | None = None) -> None:
        """Apply a block read from DA exactly as it was sealed, checking everything.

        Raises :class:`RecoveryError` naming the height and what differed; the
        database then stays at the previous block.
        """
        h = block.header.header
        with self.storage.write() as s:
            prev = s.latest_block()
            if prev is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            where = f"block {h.height}"
            tx_root = block.compute_tx_root()
            checks = [
                (h.height == prev.height + 1, f"expected height {prev.height + 1}"),
                (h.chain_id == self.chain_id, f"chain {h.chain_id!r}, not {self.chain_id!r}"),
                (
                    h.prev_hash == prev.hash,
                    f"prev_hash {h.prev_hash.hex()} is not block {prev.height}'s hash "
                    f"{prev.hash.hex()}",
                ),
                (h.proposer == self.genesis.sequencer, "proposer is not the genesis sequencer"),
                (block.header.verify(), "the sequencer's signature does not verify"),
                (
                    tx_root == h.tx_root,
                    f"tx root {h.tx_root.hex()} does not match its entries ({tx_root.hex()})",
                ),
                (h.timestamp_ms >= prev.timestamp_ms, "timestamp goes back in time"),
            ]
            for ok, problem in checks:
                if not ok:
                    raise RecoveryError(f"{where}: {problem}")
            fees = 0
            entries = block.entries
            i = 0
            while i < len(entries):
                # Runs of payments are judged together, as group commit judged them.
                j = i
                while j < len(entries) and isinstance(entries[j], Transaction):
                    j += 1
                if j > i:
                    fees += self._replay_payments(s, entries, i, j, h.timestamp_ms, where)
                    i = j
                    continue
                try:
                    self._replay_event(s, entries[i], h, fees, last=i == len(entries) - 1)
                except FontanaError as exc:
                    raise _entry_error(where, entries, i, exc) from None
                i += 1
            if fees and not isinstance(block.entries[-1], FeeCredit):
                raise RecoveryError(f"{where}: {fees} utia of fees were not credited")

            def header(root: bytes, ids: list[bytes]) -> SignedHeader:
                if root != h.state_root:
                    raise RecoveryError(
                        f"{where}: state root after replay {root.hex()} differs from the "
                        f"header's {h.state_root.hex()}"
                    )
                return block.header

            self._commit_block(s, block.entries, header, da_ref)
            s.set_meta(META_OPEN_TS, str(h.timestamp_ms))

    def _replay_payments(
        self,
        s: StorageSession,
        entries: Sequence[Entry],
        start: int,
        end: int,
        block_ts: int,
        where: str,
    ) -> int:
        """Apply the payments ``entries[start:end]`` of a replayed block; return their fees."""
        txs: list[Transaction] = list(entries[start:end])  # type: ignore[arg-type]
        items = []
        for n, tx in enumerate(txs, start):
            try:
                items.append((tx, self.check_stateless(tx)))
            except FontanaError as exc:
                raise _entry_error(where, entries, n, exc) from None
        for n, result in enumerate(self._apply_many(s, items, block_ts, block_ts), start):
            if isinstance(result, RejectedError):
                raise _entry_error(where, entries, n, result)
            if result.already_applied:
                problem = RecoveryError("transaction appears twice in the chain")
                raise _entry_error(where, entries, n, problem)
        return sum(tx.fee for tx in txs)

    def _replay_event(
        self, s: StorageSession, entry: Entry, h: BlockHeader, fees: int, last: bool
    ) -> None:
        """Apply one deposit, withdrawal confirmation or fee credit of a replayed block."""
        if isinstance(entry, Deposit):
            if not self._credit_deposit(s, entry, h.timestamp_ms):
                raise RecoveryError("deposit credited twice")
        elif isinstance(entry, WithdrawalConfirmation):
            if not self._confirm_withdrawal(s, entry, h.timestamp_ms):
                raise RecoveryError("withdrawal confirmed twice")
        else:
            expected = FeeCredit(h.height, h.proposer, fees) if fees else None
            if not last or entry != expected:
                raise RecoveryError(f"fee credit {entry} does not credit {fees} utia of fees")
            self._credit_fees(s, entry, h.timestamp_ms)

    # -- queries -----------------------------------------------------------------

    def balance(self, owner: bytes) -> int:
        with self.storage.read() as s:
            return s.balance(owner)

    def utxos(self, owner: bytes, limit: int | None = None) -> list[UTXO]:
        with self.storage.read() as s:
            return [
                UTXO(r.owner, r.amount, r.txid, r.output_index)
                for r in s.unspent_by_owner(owner, limit)
            ]

    def transaction_status(self, txid: bytes) -> TxStatus:
        with self.storage.read() as s:
            record = s.get_entry(txid)
        if record is None:
            return TxStatus("unknown")
        if record.block_height is None:
            return TxStatus("pending", record.seq)
        return TxStatus("sealed", record.seq, record.block_height)

    def current_state_root(self) -> bytes:
        """Root of the latest sealed block: the tree moves block by block, never between."""
        with self.storage.read() as s:
            latest = s.latest_block()
            if latest is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            return latest.state_root

    def latest_block(self) -> BlockRecord:
        with self.storage.read() as s:
            latest = s.latest_block()
        if latest is None:
            raise NotInitializedError(f"{self.storage.url} has no genesis block")
        return latest

    def prove_utxo(self, outpoint: OutPoint, height: int) -> tuple[bytes, bytes | None, bytes]:
        """``(state root, value hash or None, proof)`` of a UTXO at block ``height``.

        A withdrawal is proven against the root of a block before its burn.
        """
        key = utxo_key(outpoint)
        with self.storage.read() as s:
            block = s.get_block(height)
            if block is None:
                raise KeyError(f"no block at height {height}")
            proof = self.proofs.prove(s, key, height)
            value = _proof_value(s, outpoint, block.height)
        return block.state_root, value, proof


#: Bytes kept free in a size-limited block for its fee-credit entry.
FEE_ENTRY_ROOM = 128


def _proof_value(s: StorageSession, outpoint: OutPoint, height: int) -> bytes | None:
    """The UTXO's value hash if it existed at ``height``: created by then, not yet spent."""
    key = (outpoint.txid, outpoint.index)
    record = s.get_utxos([key]).get(key)
    if record is None:
        return None
    # Genesis allocations have no entry: they exist from block 0.
    created = 0 if record.created_seq is None else s.entry_block_height(record.created_seq)
    if created is None or created > height:
        return None
    if record.spent_seq is not None:
        spent = s.entry_block_height(record.spent_seq)
        if spent is not None and spent <= height:
            return None
    return UTXO(record.owner, record.amount, record.txid, record.output_index).leaf_value_hash()


def _entry_error(where: str, entries: Sequence[Entry], n: int, exc: FontanaError) -> RecoveryError:
    return RecoveryError(
        f"{where}, entry {n} ({entry_id(entries[n]).hex()}): {exc.code}: {exc.message}"
    )


def decode_entry_record(record: EntryRecord) -> Entry:
    return decode_entry(
        bytes([record.entry_type]) + len(record.body).to_bytes(4, "big") + record.body
    )


def _record(utxo: UTXO, seq: int | None) -> UtxoRecord:
    return UtxoRecord(utxo.txid, utxo.index, utxo.owner, utxo.amount, created_seq=seq)


def block_record(
    signed: SignedHeader, committed: bool = False, da_ref: tuple[int, bytes] | None = None
) -> BlockRecord:
    h = signed.header
    return BlockRecord(
        height=h.height,
        hash=h.hash,
        prev_hash=h.prev_hash,
        header=signed.to_bytes(),
        state_root=h.state_root,
        tx_root=h.tx_root,
        tx_count=h.tx_count,
        timestamp_ms=h.timestamp_ms,
        committed=committed,
        da_height=da_ref[0] if da_ref else None,
        da_commitment=da_ref[1] if da_ref else None,
    )
