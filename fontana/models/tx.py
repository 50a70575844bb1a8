"""Transactions: the only entry users sign.

Witnesses sign the txid (a tagged hash of the unsigned encoding) bound to the
deployment's genesis hash, so adding or reordering signatures never changes
what is signed or the id, and a signature is worthless on any other deployment.
"""

from __future__ import annotations

import operator
from enum import IntEnum
from typing import Any, ClassVar, Final, Self

import attrs
from nacl.signing import SigningKey

from fontana.encoding import Reader
from fontana.hashing import TAG_TX, signing_message, tagged_hash
from fontana.models._base import verify_signature
from fontana.models.codec import (
    ADDRESS,
    AMOUNT,
    BYTES20,
    BYTES32,
    BYTES64,
    CHAIN_ID,
    U16,
    U64,
    Canonical,
    Enum,
    ListOf,
    Nested,
    Option,
    VarBytes,
    Version,
    canonical,
    check_rules,
    field,
)

TX_VERSION: Final = 1
MAX_INPUTS: Final = 64
MAX_OUTPUTS: Final = 64
MAX_WITNESSES: Final = 64
MAX_MEMO: Final = 256

#: ``WithdrawalRequest.token`` of a withdrawal paid in the L1's native coin.
NATIVE_TOKEN: Final = bytes(20)

_set: Final = object.__setattr__


class TxKind(IntEnum):
    TRANSFER = 1
    PAYMENT = 2
    WITHDRAWAL = 3


@canonical
@attrs.frozen
class OutPoint(Canonical):
    """Names one output of an earlier transaction (or deposit, fee credit, genesis)."""

    NAME: ClassVar[str] = "outpoint"
    txid: bytes = field(BYTES32)
    index: int = field(U16)

    def to_bytes(self) -> bytes:
        # Each state-tree key hashes one of these; a concatenation is a little
        # faster than the derived ``struct.pack`` for two fields.
        return self.txid + self.index.to_bytes(2, "big")


@canonical
@attrs.frozen
class TxOutput(Canonical):
    NAME: ClassVar[str] = "output"
    owner: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)


@canonical
@attrs.frozen
class WithdrawalRequest(Canonical):
    """The burn a WITHDRAWAL transaction carries: who is paid on L1, how much, in which form.

    ``token`` is the L1 form of TIA the vault pays: zero for the native coin, else the
    vault's ERC-20 (docs/bridge.md, "Assets and units").
    """

    NAME: ClassVar[str] = "withdrawal_request"
    l1_recipient: bytes = field(BYTES20)
    amount: int = field(AMOUNT)
    token: bytes = field(BYTES20, default=NATIVE_TOKEN)


@canonical
@attrs.frozen
class Witness(Canonical):
    NAME: ClassVar[str] = "witness"
    pubkey: bytes = field(BYTES32)
    signature: bytes = field(BYTES64)

    def verify(self, genesis_hash: bytes, txid: bytes) -> bool:
        """Whether this is ``pubkey``'s signature of ``txid`` on the deployment ``genesis_hash``."""
        return verify_signature(self.pubkey, signing_message(genesis_hash, txid), self.signature)


@canonical
@attrs.frozen
class Transaction(Canonical):
    """Spends ``inputs`` into ``outputs`` + ``fee`` (+ the burn of a withdrawal)."""

    NAME: ClassVar[str] = "transaction"
    # Implied in JSON; keyword-only so that positional construction starts at ``kind``.
    version: int = field(Version(TX_VERSION), default=TX_VERSION, kw_only=True, json=False)
    kind: TxKind = field(Enum(TxKind))
    chain_id: str = field(CHAIN_ID)
    inputs: tuple[OutPoint, ...] = field(
        ListOf(
            OutPoint,
            1,
            MAX_INPUTS,
            distinct=operator.attrgetter("txid", "index"),
            repeated="the same outpoint is spent twice",
        )
    )
    outputs: tuple[TxOutput, ...] = field(ListOf(TxOutput, 0, MAX_OUTPUTS))
    fee: int = field(U64)
    expiry_ms: int = field(U64)
    payload_hash: bytes | None = field(Option(BYTES32), default=None)
    memo: bytes = field(VarBytes(MAX_MEMO), default=b"")
    withdrawal: WithdrawalRequest | None = field(Option(Nested(WithdrawalRequest)), default=None)
    witnesses: tuple[Witness, ...] = field(
        ListOf(
            Witness,
            0,
            MAX_WITNESSES,
            distinct=operator.attrgetter("pubkey"),
            repeated="the same key signs twice",
        ),
        default=(),
    )
    # The txid and the signed encoding, computed once (sealing, replay and the
    # tx root all need them; the value is immutable) or kept from decoding.
    # Not part of equality, hashing, repr or evolve.
    _txid: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)
    # The genesis hash every witness was found to sign for: a paid call's payment
    # is checked at its hold and again at its settle, on the same object.
    _verified_for: bytes | None = attrs.field(
        default=None, init=False, eq=False, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        check_rules(self)

    def broken_rule(self) -> tuple[str, str] | None:
        if (self.kind == TxKind.WITHDRAWAL) != (self.withdrawal is not None):
            return "withdrawal", "present if and only if kind is withdrawal"
        return None

    def unsigned_bytes(self) -> bytes:
        out: list[bytes] = []
        for step in _UNSIGNED:
            step.write(self, out)
        return b"".join(out)

    @property
    def txid(self) -> bytes:
        if self._txid is None:
            self.txid_and_bytes()
        return self._txid  # type: ignore[return-value]

    def txid_and_bytes(self) -> tuple[bytes, bytes]:
        """``(txid, to_bytes())`` from one encoding of the body: the ledger's hot path."""
        if self._encoded is None:
            unsigned = self.unsigned_bytes()
            out = [unsigned]
            for step in _WITNESSES:
                step.write(self, out)
            _set(self, "_encoded", b"".join(out))
            if self._txid is None:
                _set(self, "_txid", tagged_hash(TAG_TX, unsigned))
        return self._txid, self._encoded  # type: ignore[return-value]

    def to_bytes(self) -> bytes:
        return self.txid_and_bytes()[1]

    def write(self, out: list[bytes]) -> None:
        out.append(self.to_bytes())

    @classmethod
    def read(cls, r: Reader) -> Self:
        start = r.pos
        values: list[Any] = []
        _CODEC.read_steps(r, _UNSIGNED, values)
        unsigned_end = r.pos
        _CODEC.read_steps(r, _WITNESSES, values)
        tx = _CODEC.build(values, r)
        # Strict decoding means these bytes are the canonical ones: keep them
        # rather than encoding again for the txid and for storage.
        _set(tx, "_txid", tagged_hash(TAG_TX, r.data[start:unsigned_end]))
        _set(tx, "_encoded", r.data[start : r.pos])
        return tx  # type: ignore[no-any-return]

    def sign(self, signing_key: SigningKey, genesis_hash: bytes) -> Transaction:
        """A copy with one more witness: ``signing_key``'s, for the deployment ``genesis_hash``."""
        signature = signing_key.sign(signing_message(genesis_hash, self.txid)).signature
        witness = Witness(bytes(signing_key.verify_key), signature)
        return attrs.evolve(self, witnesses=(*self.witnesses, witness))

    def verify_witnesses(self, genesis_hash: bytes) -> bool:
        """Every witness signs the txid for ``genesis_hash``; who must sign is the ledger's job.

        A success is remembered on this (immutable) object; a failure is checked anew.
        """
        if self._verified_for is not None and self._verified_for == genesis_hash:
            return True
        message = signing_message(genesis_hash, self.txid)
        if not all(verify_signature(w.pubkey, message, w.signature) for w in self.witnesses):
            return False
        _set(self, "_verified_for", genesis_hash)
        return True

    def total_output(self) -> int:
        """Sum of output amounts (not fee or burn); may exceed u64 on purpose-built input."""
        return sum(o.amount for o in self.outputs)


_CODEC: Final = Transaction._codec
_UNSIGNED, _WITNESSES = _CODEC.split("witnesses")
