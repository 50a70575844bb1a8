"""The genesis description: everything a node needs to derive block 0.

Its hash is the txid of the initial allocations (allocation ``i`` is output
``i`` of the genesis), so genesis UTXOs have ordinary outpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Final

import attrs

from fontana.hashing import TAG_GENESIS, tagged_hash
from fontana.models.codec import (
    ADDRESS,
    AMOUNT,
    CHAIN_ID,
    U32,
    U64,
    Bytes,
    Canonical,
    ListOf,
    UInt,
    canonical,
    field,
)

MAX_ALLOCATIONS: Final = 65535


@canonical
@attrs.frozen
class Allocation(Canonical):
    """One genesis output; unpacks as ``owner, amount``."""

    NAME: ClassVar[str] = "allocation"
    owner: bytes = field(ADDRESS)
    amount: int = field(AMOUNT)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.owner, self.amount))


def _allocations(value: Any) -> Any:
    """Plain ``(owner, amount)`` pairs are accepted for convenience."""
    if isinstance(value, list | tuple):
        return tuple(
            Allocation(*item) if isinstance(item, tuple) and len(item) == 2 else item
            for item in value
        )
    return value


@canonical
@attrs.frozen
class Genesis(Canonical):
    NAME: ClassVar[str] = "genesis"
    chain_id: str = field(CHAIN_ID)
    genesis_time_ms: int = field(U64)
    sequencer: bytes = field(ADDRESS)
    da_namespace: bytes = field(Bytes(10))
    block_time_ms: int = field(UInt(32, low=1))
    min_fee: int = field(U64)
    l1_confirmations: int = field(U32)
    allocations: tuple[Allocation, ...] = field(
        ListOf(Allocation, 0, MAX_ALLOCATIONS), converter=_allocations
    )

    @property
    def hash(self) -> bytes:
        return tagged_hash(TAG_GENESIS, self.to_bytes())
