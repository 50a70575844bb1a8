"""The genesis description: everything a node needs to derive block 0.

Its hash is the txid of the initial allocations (allocation ``i`` is output
``i`` of the genesis), so genesis UTXOs have ordinary outpoints.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, NamedTuple, Self

import attrs

from fontana.address import encode_address
from fontana.encoding import Reader, Writer
from fontana.errors import AmountError, EncodingError
from fontana.hashing import TAG_GENESIS, tagged_hash
from fontana.models._base import (
    CHAIN_ID_MAX,
    Canonical,
    chain_id,
    fixed_bytes,
    json_address,
    json_amount,
    json_fields,
    json_hex,
    json_int,
    json_list,
    json_str,
    json_u64,
    to_tuple,
    uint,
)

MAX_ALLOCATIONS: Final = 65535
_GENESIS_KEYS: Final = (
    "chain_id",
    "genesis_time_ms",
    "sequencer",
    "da_namespace",
    "block_time_ms",
    "min_fee",
    "l1_confirmations",
    "allocations",
)


class Allocation(NamedTuple):
    owner: bytes
    amount: int


def _allocations(inst: Genesis, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple) or len(value) > MAX_ALLOCATIONS:
        raise EncodingError(f"Genesis.allocations: expected at most {MAX_ALLOCATIONS} items")
    for i, item in enumerate(value):
        if not isinstance(item, tuple) or len(item) != 2:
            raise EncodingError(f"Genesis.allocations[{i}]: expected (owner, amount)")
        owner, amount = item
        if not isinstance(owner, bytes) or len(owner) != 32:
            raise EncodingError(f"Genesis.allocations[{i}].owner: expected 32 bytes")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 1 << 64:
            raise AmountError(f"Genesis.allocations[{i}].amount: {amount!r} is not positive u64")


def _positive_u32(inst: Genesis, attr: attrs.Attribute[Any], value: Any) -> None:
    uint(32)(inst, attr, value)
    if value == 0:
        raise EncodingError(f"Genesis.{attr.name}: must be positive")


@attrs.frozen
class Genesis(Canonical):
    NAME: ClassVar[str] = "genesis"
    chain_id: str = attrs.field(validator=chain_id)
    genesis_time_ms: int = attrs.field(validator=uint(64))
    sequencer: bytes = attrs.field(validator=fixed_bytes(32))
    da_namespace: bytes = attrs.field(validator=fixed_bytes(10))
    block_time_ms: int = attrs.field(validator=_positive_u32)
    min_fee: int = attrs.field(validator=uint(64))
    l1_confirmations: int = attrs.field(validator=uint(32))
    allocations: tuple[Allocation, ...] = attrs.field(converter=to_tuple, validator=_allocations)

    @property
    def hash(self) -> bytes:
        return tagged_hash(TAG_GENESIS, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.string(self.chain_id, CHAIN_ID_MAX, "chain_id")
        w.u64(self.genesis_time_ms, "genesis_time_ms")
        w.fixed(self.sequencer, 32, "sequencer")
        w.fixed(self.da_namespace, 10, "da_namespace")
        w.u32(self.block_time_ms, "block_time_ms")
        w.u64(self.min_fee, "min_fee")
        w.u32(self.l1_confirmations, "l1_confirmations")
        w.count(len(self.allocations), MAX_ALLOCATIONS, "allocations")
        for owner, amount in self.allocations:
            w.fixed(owner, 32, "owner")
            w.u64(amount, "amount")

    @classmethod
    def read(cls, r: Reader) -> Self:
        head = (
            r.string(CHAIN_ID_MAX, "chain_id"),
            r.u64("genesis_time_ms"),
            r.fixed(32, "sequencer"),
            r.fixed(10, "da_namespace"),
            r.u32("block_time_ms"),
            r.u64("min_fee"),
            r.u32("l1_confirmations"),
        )
        allocations = []
        for i in range(r.count(MAX_ALLOCATIONS, "allocations")):
            with r.scope(f"allocations[{i}]"):
                allocations.append(Allocation(r.fixed(32, "owner"), r.u64("amount")))
        return cls(*head, tuple(allocations))

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_time_ms": str(self.genesis_time_ms),
            "sequencer": encode_address(self.sequencer),
            "da_namespace": self.da_namespace.hex(),
            "block_time_ms": self.block_time_ms,
            "min_fee": str(self.min_fee),
            "l1_confirmations": self.l1_confirmations,
            "allocations": [
                {"owner": encode_address(owner), "amount": str(amount)}
                for owner, amount in self.allocations
            ],
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "genesis") -> Self:
        d = json_fields(d, what, _GENESIS_KEYS)
        allocations = []
        for i, item in enumerate(json_list(d["allocations"], f"{what}.allocations")):
            where = f"{what}.allocations[{i}]"
            item = json_fields(item, where, ("owner", "amount"))
            allocations.append(
                Allocation(
                    json_address(item["owner"], f"{where}.owner"),
                    json_amount(item["amount"], f"{where}.amount"),
                )
            )
        return cls(
            json_str(d["chain_id"], f"{what}.chain_id"),
            json_u64(d["genesis_time_ms"], f"{what}.genesis_time_ms"),
            json_address(d["sequencer"], f"{what}.sequencer"),
            json_hex(d["da_namespace"], f"{what}.da_namespace", 10),
            json_int(d["block_time_ms"], 32, f"{what}.block_time_ms"),
            json_u64(d["min_fee"], f"{what}.min_fee"),
            json_int(d["l1_confirmations"], 32, f"{what}.l1_confirmations"),
            tuple(allocations),
        )
