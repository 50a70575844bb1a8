"""Transaction engines: who decodes users' transactions and checks their signatures.

The ledger's payment path and recovery call one through :class:`~fontana.interfaces.TxEngine`,
so a native engine (the ``native`` plugin's ``native-tx``) can take over the work that
bounds them; ``tx.engine`` picks it (docs/native.md, "Transactions").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from fontana.models import Block, Transaction

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import TxEngine

#: ``tx.engine``'s default: the native engine when a plugin registered it.
AUTO: Final = "auto"
PYTHON_ENGINE: Final = "python-tx"
NATIVE_ENGINE: Final = "native-tx"


class PythonTxEngine:
    """The reference: the models' own decoders and PyNaCl (libsodium)."""

    name = PYTHON_ENGINE

    def decode_transaction(self, data: bytes) -> Transaction:
        return Transaction.from_bytes(data)

    def decode_block(self, data: bytes) -> Block:
        return Block.from_bytes(data)

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        return [tx.verify_witnesses(genesis_hash) for tx in txs]


def engine_name(configured: str) -> str:
    """The engine ``configured`` names, with ``auto`` resolved against the loaded plugins."""
    if configured != AUTO:
        return configured
    from fontana.plugins import get_host

    names = get_host().backends("tx").names()
    return NATIVE_ENGINE if NATIVE_ENGINE in names else PYTHON_ENGINE


def open_tx_engine(settings: Settings) -> TxEngine:
    """The engine ``tx.engine`` names, via its plugin."""
    from fontana.plugins import get_host

    spec = get_host().backends("tx").resolve(engine_name(settings.tx.engine))
    return spec.factory(settings)  # type: ignore[no-any-return]


def default_tx_engine() -> TxEngine:
    """The ``auto`` engine, for a ledger built without settings (tests, tools)."""
    from fontana.plugins import get_host

    spec = get_host().backends("tx").resolve(engine_name(AUTO))
    return spec.factory(None)  # type: ignore[no-any-return]
