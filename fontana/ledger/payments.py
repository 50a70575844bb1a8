"""Payments: stateless checks, then group commit of many payments in one transaction.

Checks run cheapest first and signatures before any database work, so a
flood of bad payments never holds a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from fontana.errors import (
    BadSignatureError,
    DuplicateError,
    DuplicateInBatchError,
    ExpiredError,
    FeeTooLowError,
    InputHeldError,
    InputSpentError,
    InsufficientFundsError,
    RejectedError,
    UnknownInputError,
    ValueMismatchError,
    WrongChainError,
)
from fontana.ledger.base import LedgerBase, checked_sum
from fontana.models import EntryType, Transaction
from fontana.storage.base import (
    EntryRecord,
    OutPointKey,
    Spend,
    StorageSession,
    UtxoRecord,
    WithdrawalRecord,
    held_error,
)


@attrs.frozen
class ApplyResult:
    """A payment the ledger holds; ``already_applied`` when it was a resubmission."""

    txid: bytes
    seq: int
    fee: int
    already_applied: bool = False


class Payments(LedgerBase):
    def check_stateless(self, tx: Transaction) -> tuple[bytes, bytes]:
        """Everything that needs neither database nor clock; returns txid and encoding.

        Signatures are checked here, before any lock is taken, so a flood of
        forged payments never holds up honest ones.
        """
        result = self.check_stateless_many([tx])[0]
        if isinstance(result, RejectedError):
            raise result
        return result

    def check_stateless_many(
        self, txs: Sequence[Transaction]
    ) -> list[tuple[bytes, bytes] | RejectedError]:
        """:meth:`check_stateless` of each payment, the signatures of all in one engine call."""
        results: list[tuple[bytes, bytes] | RejectedError] = []
        signed: list[int] = []
        for n, tx in enumerate(txs):
            try:
                self._check_fields(tx)
            except RejectedError as exc:
                results.append(exc)
                continue
            results.append(_UNCHECKED)
            signed.append(n)
        verdicts = self.tx_engine.verify_witnesses([txs[n] for n in signed], self.genesis_hash)
        for n, ok in zip(signed, verdicts, strict=True):
            results[n] = (
                txs[n].txid_and_bytes() if ok else BadSignatureError("a signature does not verify")
            )
        return results

    def _check_fields(self, tx: Transaction) -> None:
        """The checks that cost nothing, made before any signature is."""
        if tx.chain_id != self.chain_id:
            raise WrongChainError(
                f"transaction is for chain {tx.chain_id!r}, not {self.chain_id!r}"
            )
        if tx.fee < self.min_fee:
            raise FeeTooLowError(f"fee {tx.fee} utia is below the minimum {self.min_fee}")
        if not tx.witnesses:
            raise BadSignatureError("transaction is not signed")

    def _check_inputs(
        self,
        tx: Transaction,
        txid: bytes,
        keys: list[OutPointKey],
        view: dict[OutPointKey, UtxoRecord],
        spent_here: set[OutPointKey],
        holds_at_ms: int | None,
    ) -> None:
        """Inputs exist, are unspent, held by no other payment at ``holds_at_ms`` (``None``:
        holds ignored), are signed for by their owners, and balance."""
        for key in keys:
            record = view.get(key)
            if record is None:
                raise UnknownInputError(f"input {key[0].hex()}:{key[1]} does not exist")
            if record.spent_seq is not None or key in spent_here:
                raise InputSpentError(f"input {key[0].hex()}:{key[1]} is spent already")
            if (
                holds_at_ms is not None
                and record.held_by != txid
                and live_hold(record, holds_at_ms)
            ):
                raise held_error(record)
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
        total_out = checked_sum([o.amount for o in tx.outputs] + [tx.fee, burn], "output")
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
        *,
        replay: bool = False,
    ) -> list[ApplyResult | RejectedError]:
        """Judge and write many payments in the caller's session, each on its own.

        One read of every input (holds included) and one write per table for
        the whole batch; payments later in the batch see the spends and
        outputs of earlier ones, exactly as if each had been applied alone, in
        order. The items' txids are distinct (see :func:`repeated`). Inputs
        under another payment's hold live at ``applied_at_ms`` are refused,
        except in a ``replay``: holds are local, never on DA.
        """
        holds_at_ms = None if replay else applied_at_ms
        results: list[ApplyResult | RejectedError | None] = []
        view = s.get_utxos(list({(i.txid, i.index) for tx, _ in items for i in tx.inputs}))
        applied_before = s.get_entries([txid for _, (txid, _) in items])
        spent_here: set[OutPointKey] = set()
        accepted: list[tuple[int, Transaction, bytes, bytes, list[OutPointKey]]] = []
        for n, (tx, (txid, encoded)) in enumerate(items):
            existing = applied_before.get(txid)
            if existing is not None:
                results.append(ApplyResult(txid, existing.seq or 0, existing.fee, True))
                continue
            keys = [(i.txid, i.index) for i in tx.inputs]
            try:
                if tx.expiry_ms < deadline_ms:
                    raise ExpiredError(f"transaction expired at {tx.expiry_ms} ({deadline_ms})")
                self._check_inputs(tx, txid, keys, view, spent_here, holds_at_ms)
            except RejectedError as exc:
                results.append(exc)
                continue
            spent_here.update(keys)
            for j, out in enumerate(tx.outputs):
                view[(txid, j)] = UtxoRecord(txid, j, out.owner, out.amount)
            accepted.append((n, tx, txid, encoded, keys))
            results.append(None)  # filled in below
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
        s.spend_utxos(spends, holds_at_ms)
        if burned:
            self._change_supply(s, -burned)
        return results  # type: ignore[return-value]  # every None was filled in

    def apply_transactions(self, txs: Sequence[Transaction]) -> list[ApplyResult | RejectedError]:
        """Validate and apply many payments in one database transaction (group commit).

        Each payment is judged on its own, in order: a rejected one changes
        nothing and does not affect the others. Returns, per payment, its
        result or its typed rejection; a copy of an earlier payment of the
        same batch is ``duplicate_in_batch``.
        """
        wall = self.clock()
        results: list[ApplyResult | RejectedError | None] = [None] * len(txs)
        items: list[tuple[Transaction, tuple[bytes, bytes]]] = []
        where: list[int] = []
        seen: dict[bytes, int] = {}
        for n, (tx, checked) in enumerate(zip(txs, self.check_stateless_many(txs), strict=True)):
            if isinstance(checked, RejectedError):
                results[n] = checked
                continue
            item = (tx, checked)
            first = seen.setdefault(item[1][0], n)
            if first != n:
                results[n] = repeated(item[1][0], first)
                continue
            items.append(item)
            where.append(n)
        if items:
            try:
                with self.storage.write() as s:
                    block_ts = self._epoch(s, exclusive=False)
                    applied = self._apply_many(s, items, max(block_ts, wall), wall)
            except (InputSpentError, InputHeldError, DuplicateError):
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
        except (InputSpentError, InputHeldError, DuplicateError) as exc:
            with self.storage.read() as s:  # lost to itself (a retry), a double spend or a hold
                record = s.get_entry(tx.txid)
            if record is None:
                return exc
            return ApplyResult(tx.txid, record.seq or 0, tx.fee, already_applied=True)

    def apply_transaction(self, tx: Transaction) -> ApplyResult:
        """Validate and apply one payment atomically; typed error and no change otherwise."""
        result = self.apply_transactions([tx])[0]
        if isinstance(result, RejectedError):
            raise result
        return result


#: A placeholder for a payment whose signatures are not checked yet.
_UNCHECKED: Final = BadSignatureError("not checked")


def live_hold(record: UtxoRecord, now_ms: int) -> bool:
    """Whether ``record`` is under a hold that has not expired at ``now_ms`` (wall clock)."""
    return record.held_until_ms is not None and record.held_until_ms > now_ms


def repeated(txid: bytes, first: int) -> DuplicateInBatchError:
    """The rejection of a second copy of payment ``first`` in one batch or block.

    Each copy would otherwise be judged against the same state and reported
    (and its fee counted) twice; only the first is judged.
    """
    return DuplicateInBatchError(
        f"transaction {txid.hex()} is a copy of the one at position {first} of this batch"
    )
