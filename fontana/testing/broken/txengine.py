"""Transaction engines that break one rule of :class:`~fontana.interfaces.TxEngine` each.

Every class is ``PythonTxEngine`` with one method changed, constructed with no
arguments; each bug is one a real implementation could have (a batch verifier's
cofactored equation, a malleable ``S``, a lax decoder). :data:`BROKEN_TX_ENGINES` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fontana.encoding import Reader
from fontana.errors import AmountError, EncodingError
from fontana.hashing import TAG_TX, signing_message, tagged_hash
from fontana.models import Block, Transaction
from fontana.models._base import verify_signature
from fontana.testing.ed25519 import L, cofactored_ok
from fontana.txengine import PythonTxEngine

__all__ = ["BROKEN_TX_ENGINES"]

_set = object.__setattr__


class _PerWitness(PythonTxEngine):
    """Verifies each witness with :meth:`check`; remembers successes like the reference."""

    def check(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        raise NotImplementedError

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        verdicts = []
        for tx in txs:
            message = signing_message(genesis_hash, tx.txid)
            ok = tx._verified_for == genesis_hash or all(
                self.check(w.pubkey, message, w.signature) for w in tx.witnesses
            )
            if ok:
                _set(tx, "_verified_for", genesis_hash)
            verdicts.append(ok)
        return verdicts


class CofactoredVerifier(_PerWitness):
    """Checks ``[8]R = [8]([S]B - [k]A)``, as batch verification does: accepts torsion."""

    def check(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        return cofactored_ok(pubkey, message, signature)


class MalleableS(_PerWitness):
    """Reduces a non-canonical ``S`` mod L instead of refusing it."""

    def check(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        s = int.from_bytes(signature[32:], "little") % L
        return verify_signature(pubkey, message, signature[:32] + s.to_bytes(32, "little"))


class FirstWitnessOnly(PythonTxEngine):
    """Checks only the first witness of each transaction."""

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        verdicts = []
        for tx in txs:
            message = signing_message(genesis_hash, tx.txid)
            verdicts.append(
                all(verify_signature(w.pubkey, message, w.signature) for w in tx.witnesses[:1])
            )
        return verdicts


class RemembersFailures(PythonTxEngine):
    """Marks a transaction verified for the genesis hash even when a witness failed."""

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        verdicts = super().verify_witnesses(txs, genesis_hash)
        for tx in txs:
            _set(tx, "_verified_for", genesis_hash)
        return verdicts


class AcceptsTrailingBytes(PythonTxEngine):
    """Decodes a transaction without requiring it to fill the input."""

    def decode_transaction(self, data: bytes) -> Transaction:
        return Transaction.read(Reader(data, Transaction.NAME))


class AmountErrorsAsMalformed(PythonTxEngine):
    """Reports a zero amount as ``malformed`` instead of ``bad_amount``."""

    def decode_transaction(self, data: bytes) -> Transaction:
        try:
            return super().decode_transaction(data)
        except AmountError as exc:
            raise EncodingError(exc.message) from None


class TxidOverSignedBytes(PythonTxEngine):
    """Hashes the whole encoding, witnesses included, into the txid of a decoded transaction."""

    def decode_transaction(self, data: bytes) -> Transaction:
        tx = super().decode_transaction(data)
        _set(tx, "_txid", tagged_hash(TAG_TX, tx.to_bytes()))
        return tx


class BlockIgnoresTrailingBytes(PythonTxEngine):
    """Decodes a block without requiring it to fill the input."""

    def decode_block(self, data: bytes) -> Block:
        return Block.read(Reader(data, Block.NAME))


BROKEN_TX_ENGINES: dict[str, type[PythonTxEngine]] = {
    cls.__name__: cls
    for cls in (
        CofactoredVerifier,
        MalleableS,
        FirstWitnessOnly,
        RemembersFailures,
        AcceptsTrailingBytes,
        AmountErrorsAsMalformed,
        TxidOverSignedBytes,
        BlockIgnoresTrailingBytes,
    )
}
