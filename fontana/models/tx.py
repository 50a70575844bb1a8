"""Transactions: the only entry users sign.

Witnesses sign the txid, a tagged hash of the unsigned encoding, so adding or
reordering signatures never changes what is being signed or the id.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar, Final, Self

import attrs
from nacl.signing import SigningKey

from fontana.address import encode_address
from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.hashing import TAG_TX, tagged_hash
from fontana.models._base import (
    CHAIN_ID_MAX,
    Canonical,
    chain_id,
    enum_member,
    fixed_bytes,
    items,
    json_address,
    json_amount,
    json_enum,
    json_fields,
    json_hex,
    json_int,
    json_list,
    json_str,
    json_u64,
    max_bytes,
    optional,
    positive_amount,
    read_list,
    to_tuple,
    uint,
    verify_signature,
)

TX_VERSION: Final = 1
MAX_INPUTS: Final = 64
MAX_OUTPUTS: Final = 64
MAX_WITNESSES: Final = 64
MAX_MEMO: Final = 256


class TxKind(IntEnum):
    TRANSFER = 1
    PAYMENT = 2
    WITHDRAWAL = 3


@attrs.frozen
class OutPoint(Canonical):
    """Names one output of an earlier transaction (or deposit, fee credit, genesis)."""

    NAME: ClassVar[str] = "outpoint"
    txid: bytes = attrs.field(validator=fixed_bytes(32))
    index: int = attrs.field(validator=uint(16))

    def to_bytes(self) -> bytes:
        # Fixed width and validated on construction: ``write``'s bytes, faster
        # (each state-tree key hashes one of these).
        return self.txid + self.index.to_bytes(2, "big")

    def write(self, w: Writer) -> None:
        w.fixed(self.txid, 32, "txid")
        w.u16(self.index, "index")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.fixed(32, "txid"), r.u16("index"))

    def to_json(self) -> dict[str, Any]:
        return {"txid": self.txid.hex(), "index": self.index}

    @classmethod
    def from_json(cls, d: Any, what: str = "outpoint") -> Self:
        d = json_fields(d, what, ("txid", "index"))
        return cls(
            json_hex(d["txid"], f"{what}.txid", 32), json_int(d["index"], 16, f"{what}.index")
        )


@attrs.frozen
class TxOutput(Canonical):
    NAME: ClassVar[str] = "output"
    owner: bytes = attrs.field(validator=fixed_bytes(32))
    amount: int = attrs.field(validator=positive_amount)

    def write(self, w: Writer) -> None:
        w.fixed(self.owner, 32, "owner")
        w.u64(self.amount, "amount")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.fixed(32, "owner"), r.u64("amount"))

    def to_json(self) -> dict[str, Any]:
        return {"owner": encode_address(self.owner), "amount": str(self.amount)}

    @classmethod
    def from_json(cls, d: Any, what: str = "output") -> Self:
        d = json_fields(d, what, ("owner", "amount"))
        return cls(
            json_address(d["owner"], f"{what}.owner"), json_amount(d["amount"], f"{what}.amount")
        )


@attrs.frozen
class WithdrawalRequest(Canonical):
    """The burn a WITHDRAWAL transaction carries: who is paid on L1, and how much."""

    NAME: ClassVar[str] = "withdrawal_request"
    l1_recipient: bytes = attrs.field(validator=fixed_bytes(20))
    amount: int = attrs.field(validator=positive_amount)

    def write(self, w: Writer) -> None:
        w.fixed(self.l1_recipient, 20, "l1_recipient")
        w.u64(self.amount, "amount")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.fixed(20, "l1_recipient"), r.u64("amount"))

    def to_json(self) -> dict[str, Any]:
        return {"l1_recipient": self.l1_recipient.hex(), "amount": str(self.amount)}

    @classmethod
    def from_json(cls, d: Any, what: str = "withdrawal_request") -> Self:
        d = json_fields(d, what, ("l1_recipient", "amount"))
        return cls(
            json_hex(d["l1_recipient"], f"{what}.l1_recipient", 20),
            json_amount(d["amount"], f"{what}.amount"),
        )


@attrs.frozen
class Witness(Canonical):
    NAME: ClassVar[str] = "witness"
    pubkey: bytes = attrs.field(validator=fixed_bytes(32))
    signature: bytes = attrs.field(validator=fixed_bytes(64))

    def write(self, w: Writer) -> None:
        w.fixed(self.pubkey, 32, "pubkey")
        w.fixed(self.signature, 64, "signature")

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.fixed(32, "pubkey"), r.fixed(64, "signature"))

    def verify(self, message: bytes) -> bool:
        return verify_signature(self.pubkey, message, self.signature)

    def to_json(self) -> dict[str, Any]:
        return {"pubkey": self.pubkey.hex(), "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, d: Any, what: str = "witness") -> Self:
        d = json_fields(d, what, ("pubkey", "signature"))
        return cls(
            json_hex(d["pubkey"], f"{what}.pubkey", 32),
            json_hex(d["signature"], f"{what}.signature", 64),
        )


_TX_KEYS: Final = (
    "kind",
    "chain_id",
    "inputs",
    "outputs",
    "fee",
    "expiry_ms",
    "payload_hash",
    "memo",
    "withdrawal",
    "witnesses",
)


@attrs.frozen
class Transaction(Canonical):
    """Spends ``inputs`` into ``outputs`` + ``fee`` (+ the burn of a withdrawal)."""

    NAME: ClassVar[str] = "transaction"
    kind: TxKind = attrs.field(validator=enum_member(TxKind))
    chain_id: str = attrs.field(validator=chain_id)
    inputs: tuple[OutPoint, ...] = attrs.field(
        converter=to_tuple, validator=items(OutPoint, 1, MAX_INPUTS)
    )
    outputs: tuple[TxOutput, ...] = attrs.field(
        converter=to_tuple, validator=items(TxOutput, 0, MAX_OUTPUTS)
    )
    fee: int = attrs.field(validator=uint(64))
    expiry_ms: int = attrs.field(validator=uint(64))
    payload_hash: bytes | None = attrs.field(default=None, validator=optional(fixed_bytes(32)))
    memo: bytes = attrs.field(default=b"", validator=max_bytes(MAX_MEMO))
    withdrawal: WithdrawalRequest | None = attrs.field(
        default=None, validator=optional(attrs.validators.instance_of(WithdrawalRequest))
    )
    witnesses: tuple[Witness, ...] = attrs.field(
        default=(), converter=to_tuple, validator=items(Witness, 0, MAX_WITNESSES)
    )
    # The txid, computed once: sealing, replay and the tx root all need it, and
    # the value is immutable. Not part of equality, hashing, repr or evolve.
    _txid: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)
    # The signed encoding, kept when the transaction was decoded from it.
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.kind == TxKind.WITHDRAWAL) != (self.withdrawal is not None):
            raise EncodingError("Transaction.withdrawal: present if and only if kind is withdrawal")
        if len(set(self.inputs)) != len(self.inputs):
            raise EncodingError("Transaction.inputs: the same outpoint is spent twice")
        if len({w.pubkey for w in self.witnesses}) != len(self.witnesses):
            raise EncodingError("Transaction.witnesses: the same key signs twice")

    def _write_unsigned(self, w: Writer) -> None:
        w.u8(TX_VERSION, "version")
        w.u8(self.kind, "kind")
        w.string(self.chain_id, CHAIN_ID_MAX, "chain_id")
        w.count(len(self.inputs), MAX_INPUTS, "inputs")
        for outpoint in self.inputs:
            outpoint.write(w)
        w.count(len(self.outputs), MAX_OUTPUTS, "outputs")
        for output in self.outputs:
            output.write(w)
        w.u64(self.fee, "fee")
        w.u64(self.expiry_ms, "expiry_ms")
        w.option(self.payload_hash is not None)
        if self.payload_hash is not None:
            w.fixed(self.payload_hash, 32, "payload_hash")
        w.varbytes(self.memo, MAX_MEMO, "memo")
        w.option(self.withdrawal is not None)
        if self.withdrawal is not None:
            self.withdrawal.write(w)

    def unsigned_bytes(self) -> bytes:
        w = Writer()
        self._write_unsigned(w)
        return w.getvalue()

    @property
    def txid(self) -> bytes:
        if self._txid is None:
            object.__setattr__(self, "_txid", tagged_hash(TAG_TX, self.unsigned_bytes()))
        return self._txid  # type: ignore[return-value]

    def txid_and_bytes(self) -> tuple[bytes, bytes]:
        """``(txid, to_bytes())`` from one encoding of the body: the ledger's hot path."""
        if self._encoded is not None:
            return self.txid, self._encoded
        w = Writer()
        self._write_unsigned(w)
        unsigned = w.getvalue()
        w.count(len(self.witnesses), MAX_WITNESSES, "witnesses")
        for witness in self.witnesses:
            witness.write(w)
        if self._txid is None:
            object.__setattr__(self, "_txid", tagged_hash(TAG_TX, unsigned))
        return self._txid, w.getvalue()  # type: ignore[return-value]

    def write(self, w: Writer) -> None:
        self._write_unsigned(w)
        w.count(len(self.witnesses), MAX_WITNESSES, "witnesses")
        for witness in self.witnesses:
            witness.write(w)

    @classmethod
    def read(cls, r: Reader) -> Self:
        start = r.position
        version = r.u8("version")
        if version != TX_VERSION:
            raise r.error("version", f"unsupported version {version}, expected {TX_VERSION}")
        kind = r.enum(TxKind, "kind")
        chain = r.string(CHAIN_ID_MAX, "chain_id")
        inputs = read_list(r, OutPoint, MAX_INPUTS, "inputs")
        outputs = read_list(r, TxOutput, MAX_OUTPUTS, "outputs")
        fee = r.u64("fee")
        expiry = r.u64("expiry_ms")
        payload_hash = r.fixed(32, "payload_hash") if r.option("payload_hash") else None
        memo = r.varbytes(MAX_MEMO, "memo")
        withdrawal = None
        if r.option("withdrawal"):
            with r.scope("withdrawal"):
                withdrawal = WithdrawalRequest.read(r)
        unsigned = r.consumed_since(start)
        witnesses = read_list(r, Witness, MAX_WITNESSES, "witnesses")
        tx = cls(
            kind, chain, inputs, outputs, fee, expiry, payload_hash, memo, withdrawal, witnesses
        )
        # Strict decoding means these bytes are the canonical ones: keep them
        # rather than encoding again for the txid and for storage.
        object.__setattr__(tx, "_txid", tagged_hash(TAG_TX, unsigned))
        object.__setattr__(tx, "_encoded", r.consumed_since(start))
        return tx

    def sign(self, signing_key: SigningKey) -> Transaction:
        """A copy with one more witness: ``signing_key``'s signature over the txid."""
        signature = signing_key.sign(self.txid).signature
        witness = Witness(bytes(signing_key.verify_key), signature)
        return attrs.evolve(self, witnesses=(*self.witnesses, witness))

    def verify_witnesses(self) -> bool:
        """Every witness signs the txid; which keys must sign is the ledger's question."""
        txid = self.txid
        return all(w.verify(txid) for w in self.witnesses)

    def total_output(self) -> int:
        """Sum of output amounts (not fee or burn); may exceed u64 on purpose-built input."""
        return sum(o.amount for o in self.outputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.name.lower(),
            "chain_id": self.chain_id,
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
            "fee": str(self.fee),
            "expiry_ms": str(self.expiry_ms),
            "payload_hash": None if self.payload_hash is None else self.payload_hash.hex(),
            "memo": self.memo.hex(),
            "withdrawal": None if self.withdrawal is None else self.withdrawal.to_json(),
            "witnesses": [w.to_json() for w in self.witnesses],
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "transaction") -> Self:
        d = json_fields(d, what, _TX_KEYS)
        payload, burn = d["payload_hash"], d["withdrawal"]
        return cls(
            kind=json_enum(d["kind"], TxKind, f"{what}.kind"),
            chain_id=json_str(d["chain_id"], f"{what}.chain_id"),
            inputs=tuple(
                OutPoint.from_json(x, f"{what}.inputs[{i}]")
                for i, x in enumerate(json_list(d["inputs"], f"{what}.inputs"))
            ),
            outputs=tuple(
                TxOutput.from_json(x, f"{what}.outputs[{i}]")
                for i, x in enumerate(json_list(d["outputs"], f"{what}.outputs"))
            ),
            fee=json_u64(d["fee"], f"{what}.fee"),
            expiry_ms=json_u64(d["expiry_ms"], f"{what}.expiry_ms"),
            payload_hash=None if payload is None else json_hex(payload, f"{what}.payload_hash", 32),
            memo=json_hex(d["memo"], f"{what}.memo"),
            withdrawal=None
            if burn is None
            else WithdrawalRequest.from_json(burn, f"{what}.withdrawal"),
            witnesses=tuple(
                Witness.from_json(x, f"{what}.witnesses[{i}]")
                for i, x in enumerate(json_list(d["witnesses"], f"{what}.witnesses"))
            ),
        )
